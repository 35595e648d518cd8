import type { LogEvent } from '../core/event.js';
import type { Logger } from '../core/log.js';
import { metrics } from '../core/metrics.js';
import type { ComponentConfig } from '../config/load.js';
import type { Role } from '../config/roles.js';
import { TransformChain } from './chain.js';
import { metricName, type Side, type Transform } from './transform.js';

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

type Make = (c: ComponentConfig) => Transform;

/** Builds the chains a role runs from the `transforms:` section (already validated for the role). */
export function buildTransformChains(configs: readonly ComponentConfig[], role: Role, logger: Logger, host: string): TransformChains {
  return chainsOf(configs, role, logger, maker(logger, host));
}

function maker(logger: Logger, host: string): Make {
  return (c) =>
    c.spec.create(c.options, {
      name: c.name,
      logger: logger.child({ component: `transforms.${c.name}`, type: c.type }),
      dataDir: '',
      host,
    }) as Transform;
}

function chainsOf(configs: readonly ComponentConfig[], role: Role, logger: Logger, make: Make): TransformChains {
  const agentSide = role === 'collector' ? [] : configs.filter((c) => sideOf(c.options, role) === 'agent').map(make);
  const collectorSide = role === 'agent' ? [] : configs.filter((c) => sideOf(c.options, role) === 'collector').map(make);
  const chainLogger = logger.child({ component: 'transforms' });
  return {
    agent: role === 'collector' ? undefined : new TransformChain(agentSide, { detectLevel: true, logger: chainLogger }),
    collector: collectorSide.length > 0 ? new TransformChain(collectorSide, { detectLevel: false, logger: chainLogger }) : undefined,
  };
}

/**
 * The transform chains of a running pipeline, which a reload replaces. A chain runs
 * synchronously over a whole batch, so a swap falls between two batches: every batch is
 * transformed entirely by the old chains or entirely by the new ones, once (the agent's
 * writer remembers what it made of a batch a source retries). Nothing buffered is
 * transformed again: what is in the channel or on the bus went through the chain of its
 * time, as with any pipeline whose config changed.
 *
 * A transform whose name, type and options did not change keeps its instance, and with
 * it its state (throttle windows, sample counters); the others are built anew.
 */
export class LiveTransforms {
  private chains: TransformChains;
  private instances: Map<string, Transform>;
  private readonly make: Make;

  constructor(
    configs: readonly ComponentConfig[],
    private readonly role: Role,
    private readonly logger: Logger,
    host: string,
  ) {
    this.make = maker(logger, host);
    ({ chains: this.chains, instances: this.instances } = this.build(configs, new Set(), new Map()));
  }

  /** The agent half's step before the channel (level detection at least). */
  readonly applyAgent = (events: LogEvent[]): LogEvent[] => (this.chains.agent ? this.chains.agent.apply(events) : events);

  /** The collector half's step before routing: the batch itself while it has no transforms. */
  readonly applyCollector = (events: LogEvent[]): LogEvent[] => (this.chains.collector ? this.chains.collector.apply(events) : events);

  get current(): TransformChains {
    return this.chains;
  }

  /**
   * Builds the chains of the new `transforms:` section, reusing the running instances of
   * the transforms not named in `rebuild` (added or changed ones). Throws, with nothing
   * changed, when a transform refuses its options. `commit` swaps the chains in and forgets
   * the series of the transforms that are gone.
   */
  prepare(configs: readonly ComponentConfig[], rebuild: ReadonlySet<string>): { commit(): Promise<void> } {
    const next = this.build(configs, rebuild, this.instances);
    return {
      commit: async () => {
        const gone = [...this.instances.keys()].filter((name) => !next.instances.has(name));
        // The swap itself is synchronous: no batch sees half of it.
        this.chains = next.chains;
        this.instances = next.instances;
        await forgetSeries(gone);
      },
    };
  }

  private build(configs: readonly ComponentConfig[], rebuild: ReadonlySet<string>, running: ReadonlyMap<string, Transform>) {
    const instances = new Map<string, Transform>();
    const chains = chainsOf(configs, this.role, this.logger, (c) => {
      const kept = rebuild.has(c.name) ? undefined : running.get(c.name);
      const t = kept ?? this.make(c);
      instances.set(c.name, t);
      return t;
    });
    return { chains, instances };
  }
}

/** Removed transforms leave `sluice top` and the dashboards: every transform series of theirs goes. */
async function forgetSeries(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const components = new Set(names.map(metricName));
  for (const { name } of metrics.getMetricsAsArray()) {
    const metric = name.startsWith('sluice_transform_') ? metrics.getSingleMetric(name) : undefined;
    if (!metric) continue;
    const { values } = await metric.get();
    for (const { labels } of values) if (components.has(String(labels.component))) metric.remove(labels);
  }
}
