import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogEvent } from '../core/event.js';
import type { BusProducer, ComponentContext } from '../core/pipeline.js';
import { captureLogger, tempDir, waitFor } from '../test/support/index.js';
import { Agent } from './agent.js';
import { DiskChannel } from './channel/disk/disk-channel.js';
import { fileSourceOptions, fileSourceSpec } from './sources/file/index.js';

/** Kafka down: every send fails. */
const downBus: BusProducer = {
  open: async () => {},
  close: async () => {},
  send: async () => {
    throw new Error('kafka produce failed: connection refused');
  },
};

class RecordingBus implements BusProducer {
  readonly events: LogEvent[] = [];
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async send(events: readonly LogEvent[]): Promise<void> {
    this.events.push(...events);
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const LINES = 20_000;
const line = (i: number) => `${String(i).padStart(6, '0')} ${'x'.repeat(150)}`;

async function agent(dir: string, bus: BusProducer, drainTimeoutMs: number) {
  const { logger, lines } = captureLogger();
  const channel = new DiskChannel(
    {
      path: join(dir, 'channel'),
      maxBytes: 256 * 1024,
      segmentBytes: 64 * 1024,
      fsync: 'always',
      commitFsync: 'always',
      readCacheBytes: 0,
      retryBackoffMaxMs: 50,
    },
    'channel',
    logger,
  );
  const dataDir = join(dir, 'files');
  await mkdir(dataDir, { recursive: true });
  const ctx: ComponentContext = { name: 'files', logger, dataDir, host: 'test-host' };
  await fileSourceSpec.load?.();
  const source = fileSourceSpec.create(
    fileSourceOptions.parse({
      include: [join(dir, 'logs', '*.log')],
      start_at: 'beginning',
      poll_interval: '20ms',
      batch: { max_events: 500 },
    }),
    ctx,
  );
  const a = new Agent(channel, [{ name: 'files', source }], bus, logger, { batchEvents: 1000, drainTimeoutMs });
  return { agent: a, channel, lines };
}

describe('agent stop', () => {
  it('stops promptly with the bus down and the channel full, and loses nothing: the aborted batch is read again on the next start', async () => {
    const { dir, cleanup } = await tempDir('agent-stop');
    cleanups.push(cleanup);
    await mkdir(join(dir, 'logs'));
    await appendFile(join(dir, 'logs', 'app.log'), `${Array.from({ length: LINES }, (_, i) => line(i)).join('\n')}\n`);

    const first = await agent(dir, downBus, 200);
    await first.agent.start();
    await waitFor('the channel to fill while the bus is down', () => first.channel.stats().full);
    const buffered = first.channel.stats().events;
    expect(buffered).toBeGreaterThan(0);
    expect(buffered).toBeLessThan(LINES);
    // A source is blocked in put(); stopping must not wait for room that never comes.
    await first.agent.stop();
    expect(first.lines.filter((l) => l.msg === 'drain timeout: events stay in the channel and are sent on the next start')).toHaveLength(1);
    expect(first.lines.filter((l) => l.msg === 'bus down')).toHaveLength(1);
    expect(first.lines.filter((l) => l.level === 50)).toEqual([]);

    const bus = new RecordingBus();
    const second = await agent(dir, bus, 5000);
    await second.agent.start();
    await waitFor(`${LINES} events forwarded`, () => bus.events.length >= LINES, 30_000);
    await second.agent.stop();
    const messages = bus.events.map((e) => e.message);
    expect(new Set(bus.events.map((e) => e.id)).size).toBe(LINES);
    expect(messages).toEqual(Array.from({ length: LINES }, (_, i) => line(i)));
  });
});
