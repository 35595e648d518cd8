import { open, rm } from 'node:fs/promises';
import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { encodeEventString } from '../core/wire.js';
import { DiskChannel, type DiskChannelConfig } from '../agent/channel/disk/disk-channel.js';
import { encodeRecord } from '../agent/channel/disk/format.js';
import { channelMetrics } from '../agent/channel/metrics.js';
import { makeEvent, tempDir } from '../agent/channel/testkit.js';

/**
 * Disk channel throughput in durable mode (every put fsync'd before it resolves), with a
 * producer and the taker running together, compared with what the disk itself does:
 * sequential write + fdatasync of the same batch size in the same directory. Also the
 * CPU bound of encoding the same events (the channel cannot beat it) and the replay rate
 * after a restart (everything read back from disk and decoded).
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const BATCH = 1000;
const IN_FLIGHT = 16;
const MiB = 1024 * 1024;

function eventsOfAbout200Bytes(count: number): LogEvent[] {
  const events: LogEvent[] = [];
  for (let i = 0; i < count; i++) {
    const e = makeEvent(i);
    e.fields = {};
    e.source = { kind: 'file', path: '/var/log/app.log', offset: i * 200 };
    e.message = `GET /o/${i} 200`;
    while (Buffer.byteLength(encodeEventString(e)) < 200) e.message += 'x';
    events.push(e);
  }
  return events;
}

async function rawLimit(dir: string, batchBytes: number): Promise<number> {
  const fh = await open(`${dir}/raw`, 'w');
  const buf = Buffer.alloc(batchBytes, 0x61);
  let pos = 0;
  const started = performance.now();
  while (performance.now() - started < 3000) {
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
  while (performance.now() - started < 2000) bytes += encodeRecord(batch, undefined).length;
  return bytes / MiB / ((performance.now() - started) / 1000);
}

async function fsyncCount(): Promise<number> {
  const m = await channelMetrics.fsyncSeconds.get();
  return m.values.find((v) => v.metricName === 'sluice_channel_fsync_seconds_count' && v.labels.component === 'bench')?.value ?? 0;
}

async function main(): Promise<void> {
  const dir = await tempDir('bench-channel');
  try {
    const batch = eventsOfAbout200Bytes(BATCH);
    const recordBytes = encodeRecord(batch, undefined).length;
    const config: DiskChannelConfig = {
      path: `${dir}/channel`,
      maxBytes: 512 * MiB,
      segmentBytes: 64 * MiB,
      fsync: 'always',
      readCacheBytes: 16 * MiB,
      retryBackoffMaxMs: 5000,
    };

    const limit = await rawLimit(dir, recordBytes);
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
    const started = performance.now();
    const producing = producer();
    const consuming = consumer();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    stop = true;
    await producing;
    const seconds = (performance.now() - started) / 1000;
    await consuming;
    const fsyncs = (await fsyncCount()) - fsyncsBefore;
    await channel.close();

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

    const mib = (put / BATCH) * recordBytes / MiB / seconds;
    const result = {
      bench: 'channel',
      mib_per_s: round(mib),
      events_per_s: Math.round(put / seconds),
      fsyncs_per_s: Math.round(fsyncs / seconds),
      limit_mib_per_s: round(limit),
      encode_limit_mib_per_s: round(cpu),
      pct_of_limit: round((100 * mib) / limit),
      pct_of_encode_limit: round((100 * mib) / cpu),
      replay_events_per_s: Math.round(replayed / replaySeconds),
      event_bytes: round(recordBytes / BATCH),
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
