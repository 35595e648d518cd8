import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEvent } from '../core/event.js';
import { FileEventIds } from '../core/event-id.js';
import { silentLogger } from '../core/log.js';
import { FileSink } from '../sinks/file/file-sink.js';
import { fileSinkOptions } from '../sinks/file/index.js';

/**
 * The file sink's throughput on one core: 10 services x 5 modules x 2 days of ~200-byte
 * events, in collector-sized batches (every batch touches all 100 files: one write and one
 * fdatasync each). Files roll at 64 MiB so the run also renames.
 *
 * Measured twice: at-least-once (no state directory, no write journal) and exactly-once (a
 * state directory, as in a collector: every id checked against the journal's window and
 * journaled). Every batch carries new ids as a tailer makes them (file identity + offset),
 * made between writes so only the sink is timed.
 */
const BATCH = 100_000;
const TOTAL_BYTES = 512 * 1024 * 1024;
const SOURCE_FILES = 50;

const pad =
  'GET /api/v1/orders/12345?expand=items HTTP/1.1 200 5123 "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36" rt=0.012 upstream=10.0.3.7:8080 ';
const events: LogEvent[] = [];
for (let i = 0; i < BATCH; i++) {
  const message = `10.0.${i % 256}.${(i * 7) % 256} - - ${pad}req=${String(i).padStart(8, '0')}`;
  events.push({
    id: '',
    timestamp: Date.UTC(2024, 4, 1 + (i % 2), 12),
    message: message.slice(0, 199),
    service: `service-${i % 10}`,
    module: `module-${Math.floor(i / 10) % 5}`,
    host: 'bench-host',
    source: { kind: 'bench' },
    fields: {},
  });
}
const batchBytes = events.reduce((n, e) => n + Buffer.byteLength(e.message) + 1, 0);
const sources = Array.from({ length: SOURCE_FILES }, (_, f) => new FileEventIds(`bench-host:/var/log/app-${f}.log:inode-${f}`));
const offsets = new Array<number>(SOURCE_FILES).fill(0);

/** Gives every event of the batch a new id: the next line of one of the source files. */
function newIds(): void {
  for (let i = 0; i < BATCH; i++) {
    const f = i % SOURCE_FILES;
    const e = events[i]!;
    e.id = sources[f]!.id(offsets[f]!);
    offsets[f]! += e.message.length + 1;
  }
}

async function run(exactlyOnce: boolean) {
  const root = mkdtempSync(join(tmpdir(), 'sluice-bench-file-sink-'));
  const sink = new FileSink(fileSinkOptions.parse({ root, roll_size: '64MiB', idle_timeout: 0, roll_age: 0 }), {
    name: 'bench',
    logger: silentLogger(),
    ...(exactlyOnce ? { dataDir: `${root}-state` } : {}),
  });
  try {
    await sink.open();
    newIds();
    await sink.write(events); // warm up: opens the 100 files
    const batches = Math.ceil(TOTAL_BYTES / batchBytes);
    let nanos = 0n;
    let cpuMicros = 0;
    for (let b = 0; b < batches; b++) {
      newIds();
      const cpu = process.cpuUsage();
      const start = process.hrtime.bigint();
      await sink.write(events);
      nanos += process.hrtime.bigint() - start;
      const used = process.cpuUsage(cpu);
      cpuMicros += used.user + used.system;
    }
    await sink.close();
    const seconds = Number(nanos) / 1e9;
    const mib = (batches * batchBytes) / 1024 / 1024;
    return {
      mib_per_s: Math.round((mib / seconds) * 10) / 10,
      events_per_s: Math.round((batches * BATCH) / seconds),
      seconds: Math.round(seconds * 100) / 100,
      cpu_s: Math.round((cpuMicros / 1e6) * 100) / 100,
      // What one core sustains when the disk keeps up: bytes per CPU second (the disk here is shared and noisy).
      cpu_mib_per_s: Math.round((mib / (cpuMicros / 1e6)) * 10) / 10,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(`${root}-state`, { recursive: true, force: true });
  }
}

const atLeastOnce = await run(false);
const exactlyOnce = await run(true);
console.log(
  JSON.stringify({
    bench: 'file-sink',
    // The figure that counts: exactly-once, as a collector runs it.
    ...exactlyOnce,
    at_least_once_mib_per_s: atLeastOnce.mib_per_s,
    at_least_once_cpu_mib_per_s: atLeastOnce.cpu_mib_per_s,
    batch_events: BATCH,
    files_per_batch: 100,
  }),
);
