import type { Logger } from '../core/log.js';
import type { ComponentConfig } from '../config/load.js';
import type { Role } from '../config/roles.js';
import { TransformChain } from './chain.js';
import type { Side, Transform } from './transform.js';

/**
 * Where a configured transform runs: its `at`, or else where the file runs — the agent
 * under `sluice agent` and `sluice run`, the collector under `sluice collector`.
 */
export function sideOf(options: unknown, role: Role): Side {
  const at = (options as { at?: Side }).at;
  return at ?? (role === 'collector' ? 'collector' : 'agent');
}

export interface TransformChains {
  /** Before the channel: level detection, then the agent-side transforms in YAML order. */
  agent?: TransformChain;
  /** After the bus, before routing: the collector-side transforms in YAML order. Absent when there are none. */
  collector?: TransformChain;
}

/** Builds the chains a role runs from the `transforms:` section (already validated for the role). */
export function buildTransformChains(configs: readonly ComponentConfig[], role: Role, logger: Logger, host: string): TransformChains {
  const make = (c: ComponentConfig): Transform =>
    c.spec.create(c.options, {
      name: c.name,
      logger: logger.child({ component: `transforms.${c.name}`, type: c.type }),
      dataDir: '',
      host,
    }) as Transform;
  const agentSide = role === 'collector' ? [] : configs.filter((c) => sideOf(c.options, role) === 'agent').map(make);
  const collectorSide = role === 'agent' ? [] : configs.filter((c) => sideOf(c.options, role) === 'collector').map(make);
  const chainLogger = logger.child({ component: 'transforms' });
  return {
    agent: role === 'collector' ? undefined : new TransformChain(agentSide, { detectLevel: true, logger: chainLogger }),
    collector: collectorSide.length > 0 ? new TransformChain(collectorSide, { detectLevel: false, logger: chainLogger }) : undefined,
  };
}
