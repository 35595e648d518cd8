import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Agent } from '../agent/agent.js';
import type { Collector } from '../collector/collector.js';
import type { ComponentConfig, PipelineConfig } from '../config/load.js';
import type { Role } from '../config/roles.js';
import type { DeadLetter } from '../core/dead-letter.js';
import type { Logger } from '../core/log.js';
import type { Bus, ComponentContext } from '../core/pipeline.js';
import type { ComponentInstances, ComponentKind } from '../core/registry.js';
import { LiveTransforms, transformingWriter } from '../transforms/index.js';
import { loadComponents } from './components.js';
import { ComponentMeter, MeteredChannel, MeteredDeadLetter, MeteredProducer, meteredDeadLetter } from './instrument.js';
import { createOperations, startOperations, type Operating, type Operations } from './operate.js';
import { Reloader, type LivePipeline } from './reload.js';
import type { SinkTable } from './sink-table.js';
import type { SourceSet } from './source-set.js';
import { StopClock } from '../core/stop-clock.js';
import { startStatusLine, type StatusLine } from './status.js';

export interface Running {
  agent?: Agent;
  collector?: Collector;
  /** Where the HTTP API listens (undefined when it is off or could not listen). */
  apiUrl?: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Reads and validates the config file again, for reloads. */
  reload: () => Promise<PipelineConfig>;
  version: string;
  /** This process's index among a collector's workers; undefined when it runs alone. */
  worker?: number;
}

/** Events per send for a producer that says nothing of its batching (every bus here does). */
const DEFAULT_BATCH_EVENTS = 2000;

/** Builds the components a role needs from a validated config and starts them, collector first. */
export async function startPipeline(config: PipelineConfig, role: Role, logger: Logger, options: StartOptions): Promise<Running> {
  // What the role builds, imported now if it was not yet (lazySpec).
  await loadComponents(config, role);
  const dataDir = resolve(config.dataDir);
  const host = hostname();
  const build: Build = (c, section, extra = {}) => {
    const dir = extra.dataDir ?? join(dataDir, section, c.name);
    mkdirSync(dir, { recursive: true });
    const ctx: ComponentContext = {
      name: c.name,
      // `component` is bound here, once; what a component builds below it adds other keys
      // (side, stage...), never `component` again (pino would print the key twice).
      logger: logger.child({ component: componentId(section, c.name), type: c.type }),
      dataDir: dir,
      host,
      ...extra,
    };
    return c.spec.create(c.options, ctx);
  };
  const ops = createOperations(config);

  const bus: Bus = role === 'run' ? new (await import('../bus/embedded/embedded.js')).EmbeddedBus() : build(config.bus!, 'bus');
  // One directory for the dead-letters of a data directory, each file named for its dead-letter
  // (dead-letter.jsonl, agent.jsonl); a kafka one writes through the bus's client.
  const buildDeadLetter = (c: ComponentConfig<'dead_letter'>): DeadLetter => {
    const id = componentId(DEAD_LETTER_SECTION, c.name);
    return new MeteredDeadLetter(
      build(c, DEAD_LETTER_SECTION, { dataDir: join(dataDir, DEAD_LETTER_SECTION), bus, worker: options.worker }),
      new ComponentMeter({ component: id, kind: 'dead_letter', type: c.type }),
      // Failing, it holds back what is behind it (offsets, a channel transaction), as a sink does.
      ops.readiness.add(id, 'dead_letter', c.type, 'grace'),
    );
  };
  const transforms = new LiveTransforms(config.transforms, role, logger, host);
  const live: LivePipeline = { role, config, logger, transforms };
  const busType = role === 'run' ? 'embedded' : config.bus!.type;
  const busMeter = new ComponentMeter({ component: 'bus', kind: 'bus', type: busType });
  const busStatus = ops.readiness.add('bus', 'bus', busType, role === 'run' ? 'informative' : 'must-run');
  let collector: Collector | undefined;
  let agent: Agent | undefined;
  // Each half's code is imported only by the roles that run it: an agent loads nothing of
  // the collector (router, dead-letter, sink slots), a collector nothing of the agent.
  if (role === 'collector' || role === 'run') {
    const deadLetter = config.deadLetter && buildDeadLetter(config.deadLetter);
    const started = await startCollectorSide(config, role, logger, ops, { bus, busMeter, busStatus, deadLetter, build, transforms });
    collector = started.collector;
    live.sinks = started.sinks;
  }
  if (role === 'agent' || role === 'run') {
    // The in-process bus of `sluice run` refuses nothing: only an agent on Kafka needs its own dead-letter.
    const deadLetter = role === 'agent' && config.agentDeadLetter ? buildDeadLetter(config.agentDeadLetter) : undefined;
    const started = await startAgentSide(config, logger, ops, { bus, busMeter, busStatus, build, transforms, deadLetter });
    agent = started.agent;
    live.sources = started.sources;
  }
  const reloader = new Reloader(live, options.reload);
  const operating: Operating = await startOperations(
    ops,
    {
      live,
      reloader,
      about: { name: 'sluice', version: options.version, role, config: config.file, pid: process.pid },
      bus: role === 'run' ? undefined : { bus, side: role === 'agent' ? 'producer' : 'consumer' },
      // One group, one progress log: of a collector's workers, the first measures the group.
      groupProgress: role === 'collector' && (options.worker ?? 0) === 0,
      supervised: options.worker !== undefined,
    },
    logger,
  );
  const status: StatusLine | undefined =
    role === 'run'
      ? startStatusLine(
          { channel: agent?.channel, written: () => collector?.written ?? 0 },
          { logger: logger.child({ component: 'status' }) },
        )
      : undefined;
  return {
    agent,
    collector,
    apiUrl: operating.url,
    async stop() {
      const clock = new StopClock();
      status?.stop();
      await operating.stopping();
      clock.mark('reloads');
      // Sources first: each puts what it read and saves its position. One blocked in put
      // on a full channel (Kafka or the sinks down) would never return: its put is aborted
      // (the source keeps its position before that batch, so nothing is lost).
      const sourcesStopped = live.sources?.stopAll();
      agent?.channel.abortWaitingPuts();
      await sourcesStopped;
      clock.mark('sources');
      // Under `sluice run` a send can be waiting on a sink that is down: once draining is
      // over, the collector stops retrying so that send rolls back into the channel.
      await agent?.stop(() => collector?.interrupt(), clock);
      await collector?.stop();
      if (collector) clock.mark('collector');
      await operating.close();
      clock.mark('api');
      logger.info(clock.summary(), 'pipeline stopped');
    },
  };
}

interface SideDeps {
  bus: Bus;
  busMeter: ComponentMeter;
  busStatus: ReturnType<Operations['readiness']['add']>;
  build: Build;
  transforms: LiveTransforms;
  /** This side's dead-letter, if the config has one. */
  deadLetter: DeadLetter | undefined;
}

const DEAD_LETTER_SECTION = 'dead-letter';

/** A component's name in logs, metrics and states: `channel`, `sources.app`, `dead-letter.agent`. */
function componentId(section: string, name: string): string {
  return name === section ? section : `${section}.${name}`;
}

/** Builds one configured component: what it creates follows from its kind, no cast. */
type Build = <K extends ComponentKind>(c: ComponentConfig<K>, section: string, extra?: Partial<ComponentContext>) => ComponentInstances[K];

/**
 * The collector half: sinks in runtime-held slots (so a reload can swap them), the router
 * with its metrics and tap points, the bus consumer behind a gate that counts batches and
 * knows which configuration routed them.
 */
async function startCollectorSide(
  config: PipelineConfig,
  role: Role,
  logger: Logger,
  ops: Operations,
  deps: SideDeps,
): Promise<{ collector: Collector; sinks: SinkTable }> {
  const { bus, build, deadLetter } = deps;
  const [{ Collector }, { MeteredConsumer }, { SinkTable }] = await Promise.all([
    import('../collector/collector.js'),
    import('./consumer-gate.js'),
    import('./sink-table.js'),
  ]);
  const sinks = new SinkTable((c) => build(c, 'sinks'), ops.readiness, ops.taps, logger.child({ component: 'sinks' }));
  const { sinks: named, router } = sinks.init(config.sinks, config.routes);
  const undecodable = deadLetter && meteredDeadLetter(deadLetter, deps.busMeter, 'undecodable');
  const raw = bus.consumer({ undecodable: undecodable && ((records) => undecodable.write(records)) });
  const consumer = new MeteredConsumer(raw, {
    meter: role === 'run' ? undefined : deps.busMeter,
    status: role === 'run' ? undefined : deps.busStatus,
    stampReceive: role !== 'run',
  });
  const routesMeter = new ComponentMeter({ component: 'routes', kind: 'router', type: 'rules' });
  const collector = new Collector(consumer, named, logger.child({ component: 'collector' }), {
    router,
    deadLetter: deadLetter && meteredDeadLetter(deadLetter, routesMeter, 'unrouted'),
    // What a sink refuses for good is counted by its slot (as the sink's "rejected").
    refused: deadLetter && { open: async () => {}, close: async () => {}, write: (entries) => deadLetter.write(entries) },
    stopTimeoutMs: config.shutdown.drain_timeout,
    // Always set: a reload may add the first collector-side transform.
    transform: deps.transforms.applyCollector,
  });
  sinks.attach(collector, consumer);
  await collector.start();
  if (role === 'run') deps.busStatus.running();
  return { collector, sinks };
}

/**
 * The agent half: the channel and the bus producer with their metrics, the forwarder
 * (Agent), and the sources started by the runtime so that a reload can add or replace one.
 */
async function startAgentSide(
  config: PipelineConfig,
  logger: Logger,
  ops: Operations,
  deps: SideDeps,
): Promise<{ agent: Agent; sources: SourceSet }> {
  const { bus, build, deadLetter } = deps;
  const [{ Agent }, { SourceSet }] = await Promise.all([import('../agent/agent.js'), import('./source-set.js')]);
  const channelConfig = config.channel!;
  const channel = new MeteredChannel(
    build(channelConfig, 'channel'),
    new ComponentMeter({ component: 'channel', kind: 'channel', type: channelConfig.type }),
    ops.readiness.add('channel', 'channel', channelConfig.type, 'must-run'),
  );
  const refused = deadLetter && meteredDeadLetter(deadLetter, deps.busMeter, 'refused');
  const refusedIds = new Set<string>();
  const producer = new MeteredProducer(
    bus.producer({
      refused:
        refused &&
        (async (events) => {
          await refused.write(events);
          for (const { event } of events) refusedIds.add(event.id);
        }),
    }),
    deps.busMeter,
    deps.busStatus,
    refusedIds,
  );
  const agent = new Agent(channel, [], producer, logger.child({ component: 'agent' }), {
    deadLetter,
    batchEvents: producer.batch?.maxEvents ?? DEFAULT_BATCH_EVENTS,
    lingerMs: producer.batch?.timeoutMs ?? 0,
    drainTimeoutMs: config.shutdown.drain_timeout,
  });
  await agent.start();
  const sources = new SourceSet(
    (c) => build(c, 'sources'),
    transformingWriter(channel, deps.transforms.applyAgent),
    ops.readiness,
    ops.taps,
    logger.child({ component: 'sources' }),
  );
  for (const c of config.sources) await sources.start(c);
  return { agent, sources };
}
