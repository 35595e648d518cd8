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

export interface Running {
  agent?: Agent;
  collector?: Collector;
  stop(): Promise<void>;
}

const FORWARD_BATCH_EVENTS = 2000;
const DRAIN_TIMEOUT_MS = 10_000;

/** Builds the components a role needs from a validated config and starts them, collector first. */
export async function startPipeline(config: PipelineConfig, role: Role, logger: Logger): Promise<Running> {
  const dataDir = resolve(config.dataDir);
  const host = hostname();
  const build = <T>(c: ComponentConfig, section: string): T => {
    const dir = join(dataDir, section, c.name);
    mkdirSync(dir, { recursive: true });
    const ctx: ComponentContext = { name: c.name, logger: logger.child({ component: `${section}.${c.name}`, type: c.type }), dataDir: dir, host };
    return c.spec.create(c.options, ctx) as T;
  };

  const bus: Bus = role === 'run' ? new EmbeddedBus() : build<Bus>(config.bus!, 'bus');
  let collector: Collector | undefined;
  let agent: Agent | undefined;
  if (role === 'collector' || role === 'run') {
    const sinks = config.sinks.map((c) => ({ name: c.name, sink: build<Sink>(c, 'sinks') }));
    collector = new Collector(bus.consumer(), sinks, logger.child({ component: 'collector' }));
    await collector.start();
  }
  if (role === 'agent' || role === 'run') {
    const channel = build<Channel>(config.channel!, 'channel');
    const sources = config.sources.map((c) => ({ name: c.name, source: build<Source>(c, 'sources') }));
    agent = new Agent(channel, sources, bus.producer(), logger.child({ component: 'agent' }), { batchEvents: FORWARD_BATCH_EVENTS, drainTimeoutMs: DRAIN_TIMEOUT_MS });
    await agent.start();
  }
  return {
    agent,
    collector,
    async stop() {
      await agent?.stop();
      await collector?.stop();
    },
  };
}
