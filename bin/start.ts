import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent } from '../agent/agent.js';
import { Collector } from '../collector/collector.js';
import type { Logger } from '../core/log.js';
import type { Bus, Channel, ComponentContext, Sink, Source } from '../core/pipeline.js';
import type { ComponentConfig, PipelineConfig } from '../config/load.js';
import type { Role } from '../config/roles.js';
import { EmbeddedBus } from '../core/bus/embedded.js';
import { FileDeadLetter, KafkaDeadLetter, type DeadLetter } from '../collector/dead-letter/dead-letter.js';
import { Router } from '../collector/router/router.js';
import { buildTransformChains } from '../transforms/index.js';
import { KafkaBus } from './components.js';
import { startStatusLine, type StatusLine } from './status.js';

export interface Running {
  agent?: Agent;
  collector?: Collector;
  stop(): Promise<void>;
}

/** Batching for the in-process bus (the Kafka bus brings its own from `bus.producer`). */
const FORWARD_BATCH_EVENTS = 2000;

/** Builds the components a role needs from a validated config and starts them, collector first. */
export async function startPipeline(config: PipelineConfig, role: Role, logger: Logger): Promise<Running> {
  const dataDir = resolve(config.dataDir);
  const host = hostname();
  const build = <T>(c: ComponentConfig, section: string, extra: Partial<ComponentContext> = {}): T => {
    const dir = join(dataDir, section, c.name);
    mkdirSync(dir, { recursive: true });
    const ctx: ComponentContext = {
      name: c.name,
      logger: logger.child({ component: c.name === section ? section : `${section}.${c.name}`, type: c.type }),
      dataDir: dir,
      host,
      ...extra,
    };
    return c.spec.create(c.options, ctx) as T;
  };

  const bus: Bus = role === 'run' ? new EmbeddedBus() : build<Bus>(config.bus!, 'bus');
  const transforms = buildTransformChains(config.transforms, role, logger, host);
  let collector: Collector | undefined;
  let agent: Agent | undefined;
  if (role === 'collector' || role === 'run') {
    const dlLogger = logger.child({ component: 'dead-letter' });
    const deadLetter: DeadLetter =
      config.deadLetter.type === 'kafka' && bus instanceof KafkaBus
        ? new KafkaDeadLetter(bus.options, config.deadLetter.topic, dlLogger)
        : new FileDeadLetter(resolve(config.deadLetter.path ?? join(dataDir, 'dead-letter', 'dead-letter.jsonl')), dlLogger);
    const rejected: ComponentContext['rejected'] = (entries) => deadLetter.write(entries);
    const sinks = config.sinks.map((c) => ({ name: c.name, sink: build<Sink>(c, 'sinks', { rejected }) }));
    const router = new Router(
      config.routes,
      sinks.map((s) => s.name),
    );
    const consumer = bus instanceof KafkaBus ? bus.consumer(deadLetter) : bus.consumer();
    collector = new Collector(consumer, sinks, logger.child({ component: 'collector' }), {
      router,
      deadLetter,
      stopTimeoutMs: config.shutdown.drain_timeout,
      transform: transforms.collector && ((events) => transforms.collector!.apply(events)),
    });
    await collector.start();
  }
  if (role === 'agent' || role === 'run') {
    const channel = build<Channel>(config.channel!, 'channel');
    const sources = config.sources.map((c) => ({ name: c.name, source: build<Source>(c, 'sources') }));
    const producer = bus.producer();
    const batching =
      bus instanceof KafkaBus
        ? { batchEvents: bus.options.producer.batch_events, lingerMs: bus.options.producer.linger }
        : { batchEvents: FORWARD_BATCH_EVENTS, lingerMs: 0 };
    agent = new Agent(channel, sources, producer, logger.child({ component: 'agent' }), {
      ...batching,
      drainTimeoutMs: config.shutdown.drain_timeout,
      transform: transforms.agent && ((events) => transforms.agent!.apply(events)),
    });
    await agent.start();
  }
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
    async stop() {
      status?.stop();
      // Under `sluice run` a send can be waiting on a sink that is down: once draining is
      // over, the collector stops retrying so that send rolls back into the channel.
      await agent?.stop(() => collector?.interrupt());
      await collector?.stop();
    },
  };
}
