/**
 * `npm run bench -- tail [MiB]`: the file source reading a generated ~1 GiB file of
 * ~200-byte lines into a null downstream (put resolves at once). Also measures the cost of
 * the event id (SHA-256 per line, core/event-id.ts) on its own, since it dominates.
 * Final line: {"bench":"tail","mib_per_s":…,"events_per_s":…,"rss_mib":…,…}
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import type { ChannelWriter } from '../core/pipeline.js';
import { fileSourceOptions } from '../agent/sources/file/options.js';
import { FileSource } from '../agent/sources/file/source.js';
import { FileEventIds } from '../core/event-id.js';

const mib = Number(process.argv[2] ?? 1024);
const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-tail-'));
try {
  const path = join(dir, 'big.log');
  const lines = await generate(path, mib * 1024 * 1024);
  const size = (await stat(path)).size;
  // Measure the source, not the generator's leftovers.
  (globalThis as { gc?: () => void }).gc?.();

  let events = 0;
  let peakRss = 0;
  let done: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const out: ChannelWriter = {
    async put(batch: LogEvent[]) {
      events += batch.length;
      const rss = process.memoryUsage.rss();
      if (rss > peakRss) peakRss = rss;
      if (events === lines) done();
    },
    lastCheckpoint: () => undefined,
  };
  const source = new FileSource(
    fileSourceOptions.parse({ include: [join(dir, '*.log')], checkpoint_interval: '60s', ...JSON.parse(process.env.TAIL_OPTS ?? '{}') }),
    { name: 'bench', logger: silentLogger(), dataDir: dir, host: 'bench-host' },
  );
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await source.start(out);
  await finished;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  await source.stop();

  // The event id alone: the file's identity is hashed once, each line pays only for its offset digits.
  const n = 500_000;
  const ids = new FileEventIds('65024:9978727:d5c66a003f524078');
  const h0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) ids.id(i * 200);
  const idNs = Number(process.hrtime.bigint() - h0) / n;

  const result = {
    bench: 'tail',
    mib_per_s: round(size / 1048576 / seconds),
    events_per_s: Math.round(events / seconds),
    rss_mib: round(peakRss / 1048576),
    file_mib: round(size / 1048576),
    seconds: round(seconds),
    mib_per_cpu_s: round(size / 1048576 / ((cpu.user + cpu.system) / 1e6)),
    cpu_s: round((cpu.user + cpu.system) / 1e6),
    event_id_ns: Math.round(idNs),
    event_id_share: round((idNs * events) / 1e9 / seconds),
  };
  console.log(JSON.stringify(result));
} finally {
  await rm(dir, { recursive: true, force: true });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Writes ~`bytes` of ~200-byte log lines (varied content, ASCII plus a little UTF-8); returns the line count. */
async function generate(path: string, bytes: number): Promise<number> {
  const ws = createWriteStream(path, { highWaterMark: 4 * 1024 * 1024 });
  const levels = ['INFO', 'WARN', 'DEBUG', 'ERROR'];
  let written = 0;
  let lines = 0;
  const t = Date.UTC(2024, 0, 1);
  while (written < bytes) {
    let chunk = '';
    for (let i = 0; i < 10_000; i++, lines++) {
      const line = `${new Date(t + lines).toISOString()} ${levels[lines & 3]} [worker-${lines % 17}] order=${lines} user=u${(lines * 7919) % 100000} path=/api/v1/orders/${lines % 9973} took=${lines % 997}ms msg="processed request for café ${'x'.repeat(lines % 40)}"`;
      chunk += `${line.padEnd(199, ' ')}\n`;
    }
    written += Buffer.byteLength(chunk);
    if (!ws.write(chunk)) await new Promise<void>((r) => ws.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => ws.end((err?: Error | null) => (err ? j(err) : r())));
  return lines;
}
