import { mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { loadavg, tmpdir } from 'node:os';
import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { encodeEventString } from '../core/wire.js';
import { DiskChannel, type DiskChannelConfig } from '../agent/channel/disk/disk-channel.js';
import { releaseRecord } from '../agent/channel/disk/format/frame-pool.js';
import { encodeRecord } from '../agent/channel/disk/format/record.js';
import { channelMetrics } from '../agent/channel/metrics.js';
import { makeEvent } from '../agent/channel/testkit.js';

/**
 * Disk channel throughput in durable mode (every put fsync'd before it resolves), with a
 * producer and the taker running together, compared with what the disk itself does:
 * sequential write + fdatasync of the same batch size in the same directory. Also the
 * CPU bound of encoding the same events (the channel cannot beat it) and the replay rate
 * after a restart (everything read back from disk and decoded).
 *
 * The events are what the file source produces: a 25-character id, a file source with
 * path, file id and offset, and a message of BENCH_MESSAGE_CHARS (default 150, an access
 * log line) that differs per event. mib_per_s counts the bytes the channel writes (its own
 * encoding), wire_mib_per_s the same events in core/wire.ts JSON (what Kafka carries; it
 * compares channel formats).
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const MESSAGE_CHARS = Number(process.env.BENCH_MESSAGE_CHARS ?? 150);
const BATCH = 1000;
const IN_FLIGHT = 16;
const MiB = 1024 * 1024;
const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function fileEvents(count: number): LogEvent[] {
  const events: LogEvent[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const e = makeEvent(i);
    e.id = `Qm9vdGxlZ2dlZEZp${Array.from({ length: 9 }, (_, k) => ID_CHARS[(i * 7 + k * 13) % 64]).join('')}`;
    e.fields = {};
    e.source = { kind: 'file', path: '/var/log/nginx/access.log', fileId: '2049-1835026-9f3a61c2', offset };
    let message = `10.0.${i % 256}.${(i * 7) % 256} - - [21/Nov/2025:23:17:${String(i % 60).padStart(2, '0')} +0000] "GET /api/v1/orders/${i} HTTP/1.1" 200 ${1000 + i} "-" "Mozilla/5.0 (X11; Linux x86_64)"`;
    while (message.length < MESSAGE_CHARS) message += ` k${message.length}=v`;
    e.message = message.slice(0, MESSAGE_CHARS);
    offset += e.message.length + 1;
    events.push(e);
  }
  return events;
}

async function rawLimit(dir: string, batchBytes: number): Promise<number> {
  const fh = await open(`${dir}/raw`, 'w');
  const buf = Buffer.alloc(batchBytes, 0x61);
  let pos = 0;
  const started = performance.now();
  while (performance.now() - started < 2000) {
    await fh.write(buf, 0, buf.length, pos);
    pos += buf.length;
    await fh.datasync();
  }
  const seconds = (performance.now() - started) / 1000;
  await fh.close();
  await rm(`${dir}/raw`);
  return pos / MiB / seconds;
}

function encodeLimit(batch: LogEvent[]): number {
  let bytes = 0;
  const started = performance.now();
  while (performance.now() - started < 2000) {
    const record = encodeRecord(batch, undefined);
    bytes += record.length;
    releaseRecord(record);
  }
  return bytes / MiB / ((performance.now() - started) / 1000);
}

async function fsyncCount(): Promise<number> {
  const m = await channelMetrics.fsyncSeconds.get();
  return m.values.find((v) => v.metricName === 'sluice_channel_fsync_seconds_count' && v.labels.component === 'bench')?.value ?? 0;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-channel-'));
  try {
    const batch = fileEvents(BATCH);
    const wireBytes = batch.reduce((n, e) => n + Buffer.byteLength(encodeEventString(e)) + 1, 0);
    const recordBytes = encodeRecord(batch, undefined).length;
    const config: DiskChannelConfig = {
      path: `${dir}/channel`,
      maxBytes: 512 * MiB,
      segmentBytes: 64 * MiB,
      fsync: 'always',
      // The option's default: the committed position is synced once a second, not per commit.
      commitFsync: 1000,
      // The option's default: off (agent/channel/README.md, "The read cache").
      readCacheBytes: 0,
      retryBackoffMaxMs: 5000,
    };

    const limitBefore = await rawLimit(dir, recordBytes);
    const cpu = encodeLimit(batch);

    const channel = new DiskChannel(config, 'bench', silentLogger());
    await channel.open();
    let stop = false;
    let put = 0;
    let taken = 0;
    const producer = async () => {
      const inflight = new Set<Promise<void>>();
      while (!stop) {
        const p: Promise<void> = channel.put(batch, { source: 'bench', seq: put, state: {} }).then(() => {
          put += BATCH;
          inflight.delete(p);
        });
        inflight.add(p);
        if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    };
    const consumer = async () => {
      const ac = new AbortController();
      const done = producing.then(() => ac.abort());
      for (;;) {
        const tx = await channel.take(5 * BATCH, ac.signal);
        if (tx.events.length === 0) break;
        taken += tx.events.length;
        await tx.commit();
      }
      await done;
    };
    const fsyncsBefore = await fsyncCount();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const producing = producer();
    const consuming = consumer();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    stop = true;
    await producing;
    const seconds = (performance.now() - started) / 1000;
    const cpuUsed = process.cpuUsage(cpuBefore);
    await consuming;
    const fsyncs = (await fsyncCount()) - fsyncsBefore;
    await channel.close();
    // Measured on both sides of the channel run: on a shared machine the disk's rate moves with the load.
    const limitAfter = await rawLimit(dir, recordBytes);
    const limit = (limitBefore + limitAfter) / 2;

    // Replay: fill without a taker, reopen, drain from disk.
    const replayDir = `${dir}/replay`;
    const filler = new DiskChannel({ ...config, path: replayDir }, 'bench-replay', silentLogger());
    await filler.open();
    for (let i = 0; i < 200; i++) await filler.put(batch);
    await filler.close();
    const replay = new DiskChannel({ ...config, path: replayDir }, 'bench-replay', silentLogger());
    const replayStart = performance.now();
    await replay.open();
    let replayed = 0;
    const ac = new AbortController();
    ac.abort();
    for (;;) {
      const tx = await replay.take(5 * BATCH, ac.signal);
      if (tx.events.length === 0) break;
      replayed += tx.events.length;
      await tx.commit();
    }
    const replaySeconds = (performance.now() - replayStart) / 1000;
    await replay.close();

    const mib = ((put / BATCH) * recordBytes) / MiB / seconds;
    const result = {
      bench: 'channel',
      mib_per_s: round(mib),
      events_per_s: Math.round(put / seconds),
      wire_mib_per_s: round(((put / BATCH) * wireBytes) / MiB / seconds),
      fsyncs_per_s: Math.round(fsyncs / seconds),
      // Process CPU (all threads, user + system) per event put: less sensitive to other load than the rates.
      cpu_us_per_event: Math.round((100 * (cpuUsed.user + cpuUsed.system)) / Math.max(1, put)) / 100,
      load_avg_1m: round(loadavg()[0]!),
      limit_mib_per_s: round(limit),
      limit_before_after_mib_per_s: [round(limitBefore), round(limitAfter)],
      encode_limit_mib_per_s: round(cpu),
      pct_of_limit: round((100 * mib) / limit),
      pct_of_encode_limit: round((100 * mib) / cpu),
      replay_events_per_s: Math.round(replayed / replaySeconds),
      event_bytes: round(recordBytes / BATCH),
      wire_event_bytes: round(wireBytes / BATCH),
      batch_events: BATCH,
      bytes_per_fsync: Math.round(((put / BATCH) * recordBytes) / Math.max(1, fsyncs)),
      taken_events: taken,
    };
    console.log(JSON.stringify(result));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

await main();
