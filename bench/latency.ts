/**
 * `npm run bench -- latency`: how long a log line takes from its file to the archive, through
 * the whole distributed path as deployed — `sluice agent` (file source → disk channel →
 * Kafka) and `sluice collector --workers 1` (Kafka → file sink), the built CLI, the real
 * broker of test/services, default options everywhere except the paths.
 *
 * A writer process appends BENCH_RATE (10,000) lines/s for BENCH_SECONDS (60) s to the file
 * the agent tails, in a write every 10 ms; each line carries its number and the wall-clock
 * time (ms) it was written. This process follows the sink's files (in progress and finished)
 * every 5 ms and takes, for each line, the time it was first seen there minus the time in it.
 * The file sink writes each batch as it comes (no flush interval of its own), so a line is
 * readable as soon as the collector hands it over. Before the measured lines, warm-up lines
 * go through until one arrives (topic creation and the group join are not latency).
 *
 * BENCH_STAGES=1 has the sink write JSON lines (encoding: json), whose timestamp is when the
 * agent's file source read the line: source_p50_ms… split the latency at that point.
 * BENCH_OVERRIDES='{"agent":{…},"collector":{…}}' merges options into either config (to find
 * which settings dominate), e.g. '{"agent":{"sources":{"app":{"poll_interval":"50ms"}}}}'.
 * Final line: {"bench":"latency","written":…,"delivered":…,"p50_ms":…,"p99_ms":…,"max_ms":…,…}
 */
import { fork } from 'node:child_process';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { leadingNumber, OutputTree } from './support/output.js';
import { cpuSeconds, round, rss, type Sluice, started, startSluice, waitFor } from './support/processes.js';

const LINE_BYTES = 200;
const TICK_MS = 10;

if (process.argv[2] === '--writer') {
  await writer(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
  process.exit(0);
}

const RATE = Number(process.env.BENCH_RATE ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const DRAIN_MS = Number(process.env.BENCH_DRAIN_SECONDS ?? 60) * 1000;
const READ_EVERY_MS = 5;
const STAGES = process.env.BENCH_STAGES === '1';
const overrides = JSON.parse(process.env.BENCH_OVERRIDES ?? '{}') as { agent?: object; collector?: object };
const brokers = process.env.KAFKA_BROKERS;
if (!brokers) {
  console.error('KAFKA_BROKERS is not set: run it as `npm run bench -- latency` (which leases the test services)');
  process.exit(2);
}

const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-latency-'));
const log = join(dir, 'app.log');
const out = join(dir, 'out');
const id = `bench-latency-${Date.now()}`;
const bus = { type: 'kafka', brokers: brokers.split(','), topic: id, consumer: { group_id: id } };
const agentConfig = merge(
  {
    data_dir: join(dir, 'agent'),
    log: { level: 'warn' },
    sources: { app: { type: 'file', include: [log], start_at: 'beginning', service: 'bench', module: 'app' } },
    channel: { type: 'disk' },
    bus,
    api: { enabled: false },
  },
  overrides.agent ?? {},
);
const collectorConfig = merge(
  {
    data_dir: join(dir, 'collector'),
    log: { level: 'warn' },
    bus,
    sinks: { out: { type: 'file', root: out, ...(STAGES ? { encoding: 'json' } : {}) } },
    api: { enabled: false },
  },
  overrides.collector ?? {},
);
writeFileSync(join(dir, 'agent.yaml'), stringify(agentConfig));
writeFileSync(join(dir, 'collector.yaml'), stringify(collectorConfig));
writeFileSync(log, '');

const expected = RATE * SECONDS;
const latency = new Float64Array(expected).fill(Number.NaN);
let delivered = 0;
let duplicates = 0;
let bad = 0;
let warm = 0;
/** With BENCH_STAGES: for each line, from its write to the file source reading it (the event's timestamp). */
const sourceLatency = new Float64Array(STAGES ? expected : 0).fill(Number.NaN);
const tree = new OutputTree(out);
const readOutput = () => {
  const now = Date.now();
  tree.read((raw) => {
    let line = raw;
    let readAt: number | undefined;
    if (STAGES && raw[0] === 0x7b /* { */) {
      const e = JSON.parse(raw.toString()) as { message: string; timestamp: number };
      line = Buffer.from(e.message);
      readAt = e.timestamp;
    }
    if (line[0] === 0x77 /* w */) {
      warm++;
      return;
    }
    const seq = leadingNumber(line);
    const at = leadingNumber(line, seq.end + 1);
    if (seq.end !== 10 || at.end !== 24 || seq.value >= expected) {
      bad++;
      return;
    }
    if (!Number.isNaN(latency[seq.value]!)) {
      duplicates++;
      return;
    }
    latency[seq.value] = now - at.value;
    if (readAt !== undefined) sourceLatency[seq.value] = readAt - at.value;
    delivered++;
  });
};

let agent: Sluice | undefined;
let collector: Sluice | undefined;
try {
  collector = startSluice('collector', join(dir, 'collector.yaml'), ['--workers', '1', '--log-level', 'info']);
  agent = startSluice('agent', join(dir, 'agent.yaml'), ['--log-level', 'info']);
  await Promise.all([started(collector), started(agent)]);
  const a = agent;
  const c = collector;
  const logs = () => `agent: ${a.stderr().slice(-1500)}\ncollector: ${c.stderr().slice(-1500)}`;

  // Warm-up: a line every 100 ms until the first ones are in the sink's file.
  const fd = openSync(log, 'a');
  let sent = 0;
  await waitFor(
    () => {
      writeSync(fd, warmLine(sent++));
      readOutput();
      return warm > 0 ? true : undefined;
    },
    180_000,
    logs,
    100,
  );
  closeSync(fd);
  const warmSent = sent;
  await waitFor(
    () => {
      readOutput();
      return warm >= warmSent ? true : undefined;
    },
    60_000,
    logs,
  );
  console.error(`warm: ${warm} warm-up lines through; writing ${RATE} lines/s for ${SECONDS} s`);

  const cpu0 = { agent: cpuSeconds(a.pid), collector: cpuSeconds(c.pid) };
  const reader = setInterval(readOutput, READ_EVERY_MS);
  const written = await new Promise<number>((resolve, reject) => {
    const w = fork(import.meta.filename, ['--writer', log, String(RATE), String(SECONDS)], { stdio: 'inherit' });
    w.once('message', (m) => resolve((m as { written: number }).written));
    w.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`writer exited with ${code}`))));
  });
  const writtenAt = Date.now();
  // Drained: everything arrived, or nothing more for DRAIN_MS.
  let last = delivered;
  let lastAt = Date.now();
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (delivered !== last) {
        last = delivered;
        lastAt = Date.now();
      }
      if (delivered >= written || Date.now() - lastAt > DRAIN_MS) {
        clearInterval(check);
        resolve();
      }
    }, 50);
  });
  clearInterval(reader);
  readOutput();
  const cpu = { agent: cpuSeconds(a.pid) - cpu0.agent, collector: cpuSeconds(c.pid) - cpu0.collector };
  const memory = { agent: rss(a.pid), collector: rss(c.pid) };
  const codes = { agent: await a.stop(), collector: await c.stop() };
  readOutput();

  const seen = sorted(latency.subarray(0, written));
  const pct = (p: number, of = seen) => of[Math.min(of.length - 1, Math.ceil((p / 100) * of.length) - 1)] ?? Number.NaN;
  const source = sorted(sourceLatency);
  console.log(
    JSON.stringify({
      bench: 'latency',
      rate_per_s: RATE,
      seconds: SECONDS,
      written,
      delivered,
      missing: written - delivered,
      duplicates,
      bad_lines: bad,
      exactly_once: delivered === written && duplicates === 0 && bad === 0,
      p50_ms: pct(50),
      p90_ms: pct(90),
      p99_ms: pct(99),
      p999_ms: pct(99.9),
      max_ms: seen[seen.length - 1] ?? Number.NaN,
      ...(STAGES ? { source_p50_ms: pct(50, source), source_p99_ms: pct(99, source), source_max_ms: source[source.length - 1] } : {}),
      drain_s: round((Date.now() - writtenAt) / 1000, 2),
      agent_cpu_s: round(cpu.agent, 2),
      collector_cpu_s: round(cpu.collector, 2),
      agent_rss_peak_mib: round(memory.agent.peak),
      collector_rss_peak_mib: round(memory.collector.peak),
      exit_codes: codes,
      clients: { agent: clientOf(a), collector: clientOf(c) },
      read_every_ms: READ_EVERY_MS,
      overrides,
      loadavg_1m: round(loadavg()[0]!, 2),
    }),
  );
} finally {
  await Promise.all([agent?.stop(), collector?.stop()]);
  tree.close();
  await rm(dir, { recursive: true, force: true });
}

/** The Kafka client the process chose (its "kafka client chosen" line). */
function clientOf(s: Sluice): string | undefined {
  return /"client":"(\w+)"[^\n]*"msg":"kafka client chosen"/.exec(s.stderr())?.[1];
}

function sorted(values: Float64Array): number[] {
  return Array.from(values.filter((v) => !Number.isNaN(v))).sort((x, y) => x - y);
}

function warmLine(i: number): string {
  const head = `w${String(i).padStart(9, '0')} warm-up `;
  return `${head.padEnd(LINE_BYTES - 1, 'x')}\n`;
}

/**
 * The writer process: RATE lines/s for SECONDS s, one write per TICK_MS holding the lines due
 * by then (behind schedule, it catches up in the next write). Each line: its number (10
 * digits), the time of its write in ms since the epoch (13 digits), padding to LINE_BYTES.
 */
async function writer(path: string, rate: number, seconds: number): Promise<void> {
  const total = rate * seconds;
  const fd = openSync(path, 'a');
  const pad = 'x'.repeat(LINE_BYTES);
  const t0 = performance.now();
  let next = 0;
  while (next < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000));
    if (due > next) {
      const now = Date.now();
      let chunk = '';
      for (; next < due; next++) {
        const head = `${String(next).padStart(10, '0')} ${now} INFO [worker-${next % 16}] request handled `;
        chunk += `${head}${pad.slice(head.length + 1)}\n`;
      }
      writeSync(fd, chunk);
    }
    const ahead = t0 + ((next + 1) * 1000) / rate - performance.now();
    await new Promise((r) => setTimeout(r, Math.max(TICK_MS, ahead)));
  }
  closeSync(fd);
  process.send!({ written: total });
}

function merge<T extends object>(base: T, extra: object): T {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? merge(b as object, v) : v;
  }
  return out as T;
}
