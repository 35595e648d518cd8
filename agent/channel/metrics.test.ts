import { readdir, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../core/log.js';
import { metrics } from '../../core/metrics.js';
import { tempDir } from '../../test/support/index.js';
import { PutTimes } from './age.js';
import { DiskChannel } from './disk/disk-channel.js';
import { MemoryChannel } from './memory/memory-channel.js';
import { makeEvent } from './testkit.js';

const T0 = 1_800_000_000_000;
let now = T0;
const dirs: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** The clock the channels and the scrape read. */
function clockAt(ms: number): void {
  now = ms;
  vi.spyOn(Date, 'now').mockImplementation(() => now);
}

async function gaugeOf(name: string, component: string): Promise<number | undefined> {
  return (await metrics.getSingleMetric(name)!.get()).values.find((v) => v.labels.component === component)?.value;
}

const events = (from: number, n: number) => Array.from({ length: n }, (_, i) => makeEvent(from + i));

describe('PutTimes', () => {
  it('gives the put time of the oldest event not yet committed, releasing runs in put order', () => {
    const t = new PutTimes();
    expect(t.oldest()).toBeUndefined();
    t.put(3, 100_000);
    t.put(0, 150_000);
    t.put(2, 200_000);
    t.commit(2);
    expect(t.oldest()).toBe(100_000);
    t.commit(1);
    expect(t.oldest()).toBe(200_000);
    t.commit(2);
    expect(t.oldest()).toBeUndefined();
  });

  it('joins puts within a second into one run, keeping its first time', () => {
    const t = new PutTimes();
    t.put(1, 1000);
    t.put(1, 1999);
    t.put(1, 2000);
    t.commit(1);
    expect(t.oldest()).toBe(1000);
    t.commit(1);
    expect(t.oldest()).toBe(2000);
  });
});

describe('memory channel fill ratio and oldest event age', () => {
  it('are the larger of events / max_events and bytes / max_bytes, and the age of the oldest uncommitted put', async () => {
    clockAt(T0);
    const c = new MemoryChannel({ maxEvents: 10, maxBytes: 1 << 30 }, 'mem-age', silentLogger());
    await c.open();
    expect(await gaugeOf('sluice_channel_oldest_event_age_seconds', 'mem-age')).toBe(0);
    await c.put(events(0, 4));
    now = T0 + 2000;
    await c.put(events(4, 2));
    expect(await gaugeOf('sluice_channel_fill_ratio', 'mem-age')).toBe(0.6);
    now = T0 + 5000;
    expect(await gaugeOf('sluice_channel_oldest_event_age_seconds', 'mem-age')).toBe(5);
    // Taken and rolled back: still buffered, still the oldest.
    await (await c.take(5)).rollback();
    expect(await gaugeOf('sluice_channel_oldest_event_age_seconds', 'mem-age')).toBe(5);
    await (await c.take(5)).commit();
    expect(await gaugeOf('sluice_channel_oldest_event_age_seconds', 'mem-age')).toBe(3);
    expect(await gaugeOf('sluice_channel_fill_ratio', 'mem-age')).toBe(0.1);
    await (await c.take(5)).commit();
    expect(await gaugeOf('sluice_channel_oldest_event_age_seconds', 'mem-age')).toBe(0);
    expect(await gaugeOf('sluice_channel_fill_ratio', 'mem-age')).toBe(0);
    await c.close();
    expect(await gaugeOf('sluice_channel_oldest_event_age_seconds', 'mem-age')).toBeUndefined();
    expect(await gaugeOf('sluice_channel_fill_ratio', 'mem-age')).toBeUndefined();
  });

  it('counts bytes when they are the tighter bound', async () => {
    clockAt(T0);
    const batch = events(0, 2);
    const c = new MemoryChannel({ maxEvents: 1000, maxBytes: 1000 }, 'mem-bytes', silentLogger());
    await c.open();
    await c.put(batch);
    expect(await gaugeOf('sluice_channel_fill_ratio', 'mem-bytes')).toBe(c.stats().bytes / 1000);
    expect(c.stats().bytes / 1000).toBeGreaterThan(2 / 1000);
    await c.close();
  });
});

describe('disk channel fill ratio and oldest event age', () => {
  const config = (path: string) => ({
    path,
    maxBytes: 1024 * 1024,
    segmentBytes: 256 * 1024,
    fsync: 'always' as const,
    commitFsync: 'always' as const,
    readCacheBytes: 0,
    retryBackoffMaxMs: 50,
  });

  it('are disk bytes / max_bytes and the age of the oldest uncommitted put; recovered events count from their segment', async () => {
    const { dir } = await tempDir('disk-age');
    dirs.push(dir);
    clockAt(T0);
    let c = new DiskChannel(config(dir), 'disk-age', silentLogger());
    await c.open();
    await c.put(events(0, 3));
    now = T0 + 1000;
    await c.put(events(3, 3));
    now = T0 + 4000;
    expect(await gaugeOf('sluice_channel_oldest_event_age_seconds', 'disk-age')).toBe(4);
    expect(await gaugeOf('sluice_channel_fill_ratio', 'disk-age')).toBe(c.stats().diskBytes / (1024 * 1024));
    expect(c.stats().diskBytes).toBeGreaterThan(0);
    await (await c.take(4)).commit();
    expect(await gaugeOf('sluice_channel_oldest_event_age_seconds', 'disk-age')).toBe(3);
    await c.close();

    // Put times are not on disk: the segment's last write stands in for them after a restart.
    const segments = (await readdir(dir)).filter((n) => n.endsWith('.seg'));
    expect(segments).toHaveLength(1);
    const written = (T0 - 100_000) / 1000;
    await utimes(join(dir, segments[0]!), written, written);
    now = T0 + 10_000;
    c = new DiskChannel(config(dir), 'disk-age', silentLogger());
    await c.open();
    expect(c.stats().events).toBe(2);
    expect(await gaugeOf('sluice_channel_oldest_event_age_seconds', 'disk-age')).toBe(110);
    await (await c.take(10)).commit();
    expect(await gaugeOf('sluice_channel_oldest_event_age_seconds', 'disk-age')).toBe(0);
    await c.close();
  });
});
