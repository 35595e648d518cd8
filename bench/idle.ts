/**
 * `npm run bench -- idle`: what each role costs while nothing happens, as a sidecar spends
 * most of its life — `sluice run` (file → disk channel → file sink), `sluice agent` (file →
 * disk channel → Kafka) and `sluice collector` (Kafka → file sink, its default workers), each
 * with its api on (the default) and one line sent through first, so that every connection
 * has been used. After BENCH_SETTLE_SECONDS (10) they are measured over BENCH_SECONDS (30),
 * side by side: the CPU of each process tree (launcher, pipeline, workers: /proc utime +
 * stime) as a share of one core, its wake-ups (voluntary context switches of all threads),
 * and its RSS.
 * Final line: {"bench":"idle","seconds":…,"run":{"core_share":…,"wakeups_per_s":…,"rss_mib":…},"agent":{…},"collector":{…},"exit_codes":[…]}
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { OutputTree } from './support/output.js';
import { cpuSeconds, round, started, startSluice, type Sluice, waitFor } from './support/processes.js';

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
  for (const [role, s] of Object.entries(procs)) {
    const after = sample(s.child.pid!);
    const b = before[role]!;
    result[role] = {
      core_share: round((after.cpu - b.cpu) / seconds, 4),
      wakeups_per_s: round((after.switches - b.switches) / seconds, 0),
      rss_mib: round(after.rss, 1),
      processes: after.processes,
    };
  }
  const exits = await Promise.all(running.splice(0).map((s) => s.stop()));
  console.log(JSON.stringify({ ...result, exit_codes: exits, loadavg_1m: round(loadavg()[0]!, 2) }));
} finally {
  await Promise.all(running.map((s) => s.stop()));
  await rm(dir, { recursive: true, force: true });
}

/** CPU seconds, voluntary context switches (wake-ups of any thread) and RSS (MiB) of a process and its descendants. */
function sample(root: number): { cpu: number; switches: number; rss: number; processes: number } {
  let cpu = 0;
  let switches = 0;
  let rss = 0;
  let processes = 0;
  const visit = (pid: number) => {
    processes++;
    cpu += cpuSeconds(pid);
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      switches += Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0);
    }
    rss += Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      for (const child of children ? children.split(/\s+/) : []) visit(Number(child));
    }
  };
  visit(root);
  return { cpu, switches, rss, processes };
}
