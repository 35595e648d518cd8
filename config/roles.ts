import type { PipelineConfig } from './load.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { transformPlacementProblems } from './transforms.js';

export type Role = 'agent' | 'collector' | 'run';

/**
 * What each command needs from a pipeline: the agent ships (sources → channel → bus), the
 * collector stores (bus → sinks), `run` does both with the in-process bus.
 */
export function checkRole(config: PipelineConfig, role: Role): void {
  const problems: ConfigProblem[] = [];
  const need = (ok: boolean, path: string, message: string) => {
    if (!ok) problems.push({ file: config.file, line: 1, col: 1, path, message });
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
      line: 1,
      col: 1,
      path: 'bus.type',
      message: `\`sluice run\` joins agent and collector in one process with the embedded bus; bus type "${config.bus.type}" is for \`sluice agent\` / \`sluice collector\``,
    });
  }
  problems.push(...transformPlacementProblems(config, role));
  if (problems.length > 0) throw new ConfigError(problems);
}
