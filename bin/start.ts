import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent } from '../agent/agent.js';
import { Collector } from '../collector/collector.js';
import { EmbeddedBus } from '../bus/embedded/index.js';
import { type DeadLetter, FileDeadLetter, KafkaDeadLetter } from '../collector/dead-letter/dead-letter.js';
import { Router } from '../collector/router/router.js';
import type { ComponentConfig, PipelineConfig } from '../config/load.js';
import type { Role } from '../config/roles.js';
import type { Logger } from '../core/log.js';
import type { Bus, ComponentContext } from '../core/pipeline.js';
import type { ComponentInstances, ComponentKind } from '../core/registry.js';
import { type StatusLine, startStatusLine } from './status.js';

export interface Running {
  agent?: Agent;
  collector?: Collector;
  stop(): Promise<void>;
}

/** Builds the components a role needs from a validated config and starts them, collector first. */
export async function startPipeline(config: PipelineConfig, role: Role, logger: Logger): Promise<Running> {
  const dataDir = resolve(config.dataDir);
  const host = hostname();
  const build = <K extends ComponentKind>(
    c: ComponentConfig<K>,
    section: string,
    extra: Partial<ComponentContext> = {},
  ): ComponentInstances[K] => {
    const dir = join(dataDir, section, c.name);
    mkdirSync(dir, { recursive: true });
    const ctx: ComponentContext = {
      name: c.name,
      logger: logger.child({ component: c.name === section ? section : `${section}.${c.name}`, type: c.type }),
      dataDir: dir,
      host,
      ...extra,
    };
    return c.spec.create(c.options, ctx);
  };

  const bus: Bus = role === 'run' ? new EmbeddedBus() : build(config.bus!, 'bus');
  let collector: Collector | undefined;
  let agent: Agent | undefined;
  if (role === 'collector' || role === 'run') {
    const dlLogger = logger.child({ component: 'dead-letter' });
    // A kafka dead-letter is a topic of the bus (config/load.ts checks the bus is kafka).
    const deadLetter: DeadLetter =
      config.deadLetter.type === 'kafka' && bus.recordWriter
        ? new KafkaDeadLetter(bus.recordWriter(config.deadLetter.topic), config.deadLetter.topic, dlLogger)
        : new FileDeadLetter(resolve(config.deadLetter.path ?? join(dataDir, 'dead-letter', 'dead-letter.jsonl')), dlLogger);
    const rejected: ComponentContext['rejected'] = (entries) => deadLetter.write(entries);
    const sinks = config.sinks.map((c) => ({ name: c.name, sink: build(c, 'sinks', { rejected }) }));
    const router = new Router(
      config.routes,
      sinks.map((s) => s.name),
    );
    const consumer = bus.consumer({ undecodable: (records) => deadLetter.write(records) });
    collector = new Collector(consumer, sinks, logger.child({ component: 'collector' }), {
      router,
      deadLetter,
      stopTimeoutMs: config.shutdown.drain_timeout,
    });
    await collector.start();
  }
  if (role === 'agent' || role === 'run') {
    const channel = build(config.channel!, 'channel');
    const sources = config.sources.map((c) => ({ name: c.name, source: build(c, 'sources') }));
    const producer = bus.producer();
    agent = new Agent(channel, sources, producer, logger.child({ component: 'agent' }), {
      batchEvents: producer.batch.maxEvents,
      lingerMs: producer.batch.timeoutMs,
      drainTimeoutMs: config.shutdown.drain_timeout,
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
