import { type ComponentConfig, deadLettersOf, type PipelineConfig } from './load.js';
import type { ConfigProblem } from './errors.js';
import { type BudgetRole, DEFAULT_MEMORY_LIMIT, formatMiB, inFlightAllowance, smallestLimitMiB } from './memory-budget.js';

/** The budget of `role` for this config: its memory_limit, else the role's default. */
export function memoryLimit(config: Pick<PipelineConfig, 'memoryLimit'>, role: BudgetRole): number {
  return config.memoryLimit ?? DEFAULT_MEMORY_LIMIT[role];
}

/** The components `role` builds, in pipeline order. */
function usedBy(config: PipelineConfig, role: BudgetRole): ComponentConfig[] {
  const agent = role !== 'collector';
  const collector = role !== 'agent';
  return [
    ...(agent ? config.sources : []),
    ...config.transforms,
    ...(agent && config.channel ? [config.channel] : []),
    ...(role !== 'run' && config.bus ? [config.bus] : []),
    ...(collector ? config.sinks : []),
    ...deadLettersOf(config, role),
  ];
}

/**
 * What the components of `role` may hold at once, each part named after the option that
 * decides it: "sources.app: batch.max_bytes".
 */
export function memoryUses(config: PipelineConfig, role: BudgetRole): { what: string; bytes: number }[] {
  return usedBy(config, role).flatMap((c) => {
    // One channel, bus and dead-letter per process: named by their section alone.
    const prefix = c.kind === 'channel' || c.kind === 'bus' || c.kind === 'dead_letter' ? c.kind : `${c.kind}s.${c.name}`;
    return (c.spec.memory?.(c.options) ?? [])
      .filter((u) => !u.half || (u.half === 'agent' ? role !== 'collector' : role !== 'agent'))
      .map((u) => ({ what: `${prefix}: ${u.what}`, bytes: u.bytes }));
  });
}

/**
 * A budget too small for the configured buffers and batches is refused before anything
 * starts, naming the largest parts, rather than found out by an out-of-memory crash under load.
 */
export function memoryProblems(config: PipelineConfig, role: BudgetRole): ConfigProblem[] {
  const limit = memoryLimit(config, role);
  const uses = memoryUses(config, role).sort((a, b) => b.bytes - a.bytes);
  const total = uses.reduce((n, u) => n + u.bytes, 0);
  const allowance = inFlightAllowance(limit);
  if (total <= allowance) return [];
  const needed = smallestLimitMiB(total);
  const largest = uses
    .slice(0, 4)
    .map((u) => `${u.what} ${formatMiB(u.bytes)}`)
    .join(', ');
  const where = config.sections.memory_limit ?? { line: 1, col: 1 };
  return [
    {
      file: config.file,
      ...where,
      path: 'memory_limit',
      message: `memory_limit ${formatMiB(limit)}${config.memoryLimit === undefined ? ` (the default of \`sluice ${role}\`)` : ''} is too small for this pipeline: its buffers and batches may hold ${formatMiB(total)} (${largest}) and Node itself needs about ${formatMiB(limit - allowance)}; set memory_limit to at least ${needed}MiB, or lower those options`,
    },
  ];
}
