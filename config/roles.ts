import type { PipelineConfig } from './load.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { memoryProblems } from './memory.js';
import { transformPlacementProblems } from './transforms.js';

export type Role = 'agent' | 'collector' | 'run';

export interface RoleCheckOptions {
  /** Sections the command does not use are errors instead of warnings. */
  strict?: boolean;
}

/** The sections each command leaves alone, and who uses them. */
const UNUSED: Record<Role, Record<string, string>> = {
  agent: {
    sinks: 'sinks are written by `sluice collector`',
    routes: 'routes choose sinks in `sluice collector`',
  },
  collector: {
    sources: 'sources are read by `sluice agent`',
    channel: 'the channel buffers in `sluice agent`',
  },
  run: {},
};

/**
 * What each command needs from a pipeline: the agent ships (sources → channel → bus), the
 * collector stores (bus → sinks), `run` does both with the in-process bus. Throws what is
 * missing or wrong; returns the warnings: sections this command does not use, which would
 * otherwise be silently ignored (errors too with `strict`).
 */
export function checkRole(config: PipelineConfig, role: Role, options: RoleCheckOptions = {}): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const where = (section: string) => config.sections[section] ?? { line: 1, col: 1 };
  const need = (ok: boolean, path: string, message: string) => {
    if (!ok) problems.push({ file: config.file, ...where(path), path, message });
  };
  if (role === 'agent' || role === 'run') need(config.sources.length > 0, 'sources', `\`sluice ${role}\` needs at least one source`);
  if (role === 'agent' || role === 'run')
    need(config.channel !== undefined, 'channel', `\`sluice ${role}\` needs a channel (type: disk) between its sources and the bus`);
  if (role === 'collector' || role === 'run') need(config.sinks.length > 0, 'sinks', `\`sluice ${role}\` needs at least one sink`);
  if (role === 'agent' || role === 'collector')
    need(
      config.bus !== undefined && config.bus.type !== 'embedded',
      'bus',
      `\`sluice ${role}\` needs a network bus (type: kafka) to reach the ${role === 'agent' ? 'collectors' : 'agents'}; the embedded bus only joins the two halves inside \`sluice run\``,
    );
  if (role === 'run' && config.bus && config.bus.type !== 'embedded') {
    problems.push({
      file: config.file,
      ...where('bus'),
      path: 'bus.type',
      message: `\`sluice run\` joins agent and collector in one process with the embedded bus; bus type "${config.bus.type}" is for \`sluice agent\` / \`sluice collector\` (remove the bus section)`,
    });
  }
  problems.push(...transformPlacementProblems(config, role));
  problems.push(...memoryProblems(config, role));
  const warnings: ConfigProblem[] = [];
  for (const [section, who] of Object.entries(UNUSED[role])) {
    if (!(section in config.sections)) continue;
    const problem: ConfigProblem = {
      file: config.file,
      ...where(section),
      path: section,
      message: `\`sluice ${role}\` does not use this section (${who}): it is ignored here`,
    };
    if (options.strict) problems.push(problem);
    else warnings.push({ ...problem, severity: 'warning' });
  }
  if (problems.length > 0) throw new ConfigError(problems.sort((a, b) => a.line - b.line || a.col - b.col));
  return warnings;
}
