/**
 * `npm run bench -- idle`: what each role costs while nothing happens, as a sidecar spends
 * most of its life — `sluice run` (file → disk channel → file sink), `sluice agent` (file →
 * disk channel → Kafka) and `sluice collector` (Kafka → file sink, its default workers), each
 * with its api on (the default) and one line sent through first, so that every connection
 * has been used. After BENCH_SETTLE_SECONDS (10) they are measured over BENCH_SECONDS (30),
 * side by side, started through bin/sluice.sh as npm's `sluice` and the image run them (one
 * process each, a collector's workers its children): the CPU of each process tree (/proc utime +
 * stime, in 10 ms ticks, so ±0.1 % of a core over 30 s) as a share of one core, its wake-ups (voluntary context switches of all threads),
 * and its RSS.
 * Final line: {"bench":"idle","seconds":…,"run":{"core_share":…,"wakeups_per_s":…,"rss_mib":…},"agent":{…},"collector":{…},"exit_codes":[…]}
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { OutputTree } from './support/output.js';
import { cpuSeconds, round, rss as rssOf, started, startSluice, type Sluice, waitFor } from './support/processes.js';

const SETTLE_MS = Number(process.env.BENCH_SETTLE_SECONDS ?? 10) * 1000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const brokers = process.env.KAFKA_BROKERS;
if (!brokers) {
  console.error('KAFKA_BROKERS is not set: run it as `npm run bench -- idle` (which leases the test services)');
  process.exit(2);
}

const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-idle-'));
const running: Sluice[] = [];
try {
  const id = `bench-idle-${Date.now()}`;
  const bus = { type: 'kafka', brokers: brokers.split(','), topic: id, consumer: { group_id: id } };
  const api = { address: '127.0.0.1:0' };
  const source = (logs: string) => ({ type: 'file', include: [join(logs, '*.log')], service: 'bench', module: 'idle' });
  const roles = {
    run: {
      data_dir: join(dir, 'run'),
      log: { level: 'warn' },
      sources: { app: source(join(dir, 'run-logs')) },
      channel: { type: 'disk' },
      sinks: { out: { type: 'file', root: join(dir, 'run-out') } },
      api,
    },
    agent: {
      data_dir: join(dir, 'agent'),
      log: { level: 'warn' },
      sources: { app: source(join(dir, 'agent-logs')) },
      channel: { type: 'disk' },
      bus,
      api,
    },
    collector: {
      data_dir: join(dir, 'collector'),
      log: { level: 'warn' },
      bus,
      sinks: { out: { type: 'file', root: join(dir, 'collector-out') } },
      api,
    },
  };
  for (const logs of ['run-logs', 'agent-logs']) {
    await mkdir(join(dir, logs));
    writeFileSync(join(dir, logs, 'app.log'), '');
  }
  const procs = {} as Record<keyof typeof roles, Sluice>;
  for (const [role, config] of Object.entries(roles) as [keyof typeof roles, object][]) {
    const file = join(dir, `${role}.yaml`);
    writeFileSync(file, stringify(config));
    // At info, for the "sluice started" line.
    procs[role] = startSluice(role, file, ['--log-level', 'info']);
    running.push(procs[role]);
  }
  await Promise.all(Object.values(procs).map((s) => started(s)));
  // One line through each pipeline: the agent's producer, the collector's consumer and fetches
  // have then been used, as they are on any sidecar that ever shipped a line.
  for (const logs of ['run-logs', 'agent-logs']) writeFileSync(join(dir, logs, 'app.log'), `${new Date().toISOString()} INFO idle bench\n`);
  const runOut = new OutputTree(join(dir, 'run-out'));
  const collectorOut = new OutputTree(join(dir, 'collector-out'));
  await waitFor(
    () => (runOut.bytes() > 0 && collectorOut.bytes() > 0 ? true : undefined),
    120_000,
    () =>
      `agent: ${procs.agent.stderr().slice(-800)} collector: ${procs.collector.stderr().slice(-800)} run: ${runOut.bytes()} bytes out, collector: ${collectorOut.bytes()} bytes out`,
    100,
  );
  runOut.close();
  collectorOut.close();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const before = Object.fromEntries(Object.entries(procs).map(([role, s]) => [role, sample(s.child.pid!)]));
  const clock = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const seconds = (performance.now() - clock) / 1000;
  const result: Record<string, unknown> = { bench: 'idle', seconds: round(seconds, 1) };
  for (const [role, s] of Object.entries(procs)) result[role] = measured(role, before[role]!, sample(s.child.pid!), seconds);
  const exits = await Promise.all(running.splice(0).map((s) => s.stop()));
  if (exits.some((code) => code !== 0)) throw new Error(`a role exited with ${exits.join(', ')}: ${JSON.stringify(result)}`);
  console.log(JSON.stringify({ ...result, exit_codes: exits, loadavg_1m: round(loadavg()[0]!, 2) }));
} finally {
  await Promise.all(running.map((s) => s.stop()));
  await rm(dir, { recursive: true, force: true });
}

interface Sample {
  /** CPU seconds per process (utime + stime: threads that exited included; 10 ms ticks). */
  cpu: Map<number, number>;
  /** Voluntary context switches per live thread, by "pid/tid". */
  switches: Map<string, number>;
  rss: number;
}

/** A process and its descendants: CPU, wake-ups of each thread and RSS (MiB). */
function sample(root: number): Sample {
  const cpu = new Map<number, number>();
  const switches = new Map<string, number>();
  let rss = 0;
  const visit = (pid: number) => {
    cpu.set(pid, cpuSeconds(pid));
    rss += rssOf(pid).now;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      // A thread may end between the listing and the read (librdkafka's come and go).
      const status = readIfThere(`/proc/${pid}/task/${tid}/status`);
      const voluntary = status && /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1];
      if (voluntary) switches.set(`${pid}/${tid}`, Number(voluntary));
      const children = readIfThere(`/proc/${pid}/task/${tid}/children`)?.trim();
      for (const child of children ? children.split(/\s+/) : []) visit(Number(child));
    }
  };
  visit(root);
  return { cpu, switches, rss };
}

/**
 * The difference of two samples of one tree. A process that left or joined it meanwhile (a
 * worker restarted) would take its CPU out of the sum or add all of it: refused, not reported.
 * Wake-ups count over the threads alive at both samples.
 */
function measured(role: string, before: Sample, after: Sample, seconds: number) {
  const pids = (s: Sample) => [...s.cpu.keys()].sort().join(',');
  if (pids(before) !== pids(after)) throw new Error(`${role}: its processes changed while measured (${pids(before)} → ${pids(after)})`);
  let cpu = 0;
  for (const [pid, t] of after.cpu) cpu += t - before.cpu.get(pid)!;
  let switches = 0;
  for (const [thread, n] of after.switches) {
    const was = before.switches.get(thread);
    if (was !== undefined) switches += n - was;
  }
  return {
    core_share: round(cpu / seconds, 3),
    wakeups_per_s: round(switches / seconds, 0),
    rss_mib: round(after.rss, 1),
    processes: after.cpu.size,
  };
}

function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
}
