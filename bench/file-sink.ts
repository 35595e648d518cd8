import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { FileSink, fileSinkOptions } from '../sinks/file/index.js';

/**
 * The file sink's throughput on one core: 10 services x 5 modules x 2 days of ~200-byte
 * events, in collector-sized batches (every batch touches all 100 files: one write and one
 * fdatasync each). Files roll at 64 MiB so the run also renames.
 */
const BATCH = 100_000;
const TOTAL_BYTES = 512 * 1024 * 1024;

const root = mkdtempSync(join(tmpdir(), 'sluice-bench-file-sink-'));
const pad =
  'GET /api/v1/orders/12345?expand=items HTTP/1.1 200 5123 "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36" rt=0.012 upstream=10.0.3.7:8080 ';
const events: LogEvent[] = [];
for (let i = 0; i < BATCH; i++) {
  const message = `10.0.${i % 256}.${(i * 7) % 256} - - ${pad}req=${String(i).padStart(8, '0')}`;
  events.push({
    id: `e${i}`,
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

// With a data directory the sink keeps its write journal: exactly-once, as in a collector.
const sink = new FileSink(fileSinkOptions.parse({ root, roll_size: '64MiB', idle_timeout: 0, roll_age: 0 }), {
  name: 'bench',
  logger: silentLogger(),
  dataDir: `${root}-state`,
});
try {
  await sink.open();
  await sink.write(events); // warm up: opens the 100 files
  const batches = Math.ceil(TOTAL_BYTES / batchBytes);
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let b = 0; b < batches; b++) {
    // Every batch carries new ids, as a stream does (the journal skips ids it has written).
    for (let i = 0; i < BATCH; i++) events[i]!.id = `b${b}-e${i}`;
    await sink.write(events);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  await sink.close();
  const bytes = batches * batchBytes;
  const result = {
    bench: 'file-sink',
    mib_per_s: Math.round((bytes / 1024 / 1024 / seconds) * 10) / 10,
    events_per_s: Math.round((batches * BATCH) / seconds),
    seconds: Math.round(seconds * 100) / 100,
    cpu_s: Math.round(((used.user + used.system) / 1e6) * 100) / 100,
    // What one core sustains when the disk keeps up: bytes per CPU second (the disk here is shared and noisy).
    cpu_mib_per_s: Math.round((bytes / 1024 / 1024 / ((used.user + used.system) / 1e6)) * 10) / 10,
    batch_events: BATCH,
    files_per_batch: 100,
  };
  console.log(JSON.stringify(result));
} finally {
  rmSync(root, { recursive: true, force: true });
  rmSync(`${root}-state`, { recursive: true, force: true });
}
