// `npm run bench -- agent [librdkafka|kafkajs ...]`: the real `sluice agent` process end to end,
// as a sidecar runs it: a file source on a backlog of ~200-byte lines -> disk channel
// (fsync: always) -> Kafka (gzip, acks=all, idempotent) on the broker of test/services.
//   idle:  the agent started on an empty directory; RSS sampled after it settled
//   burst: the backlog (BENCH_AGENT_MIB, default 200 MiB) moved into the directory; the clock
//          runs until Kafka's end offsets hold every line; RSS sampled every 100 ms
//   after: RSS once the agent has been idle again for BENCH_AGENT_SETTLE_S (default 15 s)
//   limit: Kafka's own ProducerPerformance (Java client) right after, same broker, record
//          size, partitions, acks, idempotence and compression
// The agent is started through bin/sluice.sh, as npm's `sluice` and the image run it: that
// execs Node, so its RSS (VmRSS from /proc) and CPU are those of the one process.
// BENCH_AGENT_JAVA=0 leaves the Java run out; BENCH_AGENT_NODE_FLAGS are given to the agent's
// node through SLUICE_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
// Last line: {"bench":"agent","clients":{"librdkafka":{"mib_per_s":…,"rss_peak_mib":…},…},…}
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import kafkajs from 'kafkajs';
import { javaProducerMibPerSec } from './support/java-producer.js';
import { type KafkaClientName, probeLibrdkafka } from '../bus/kafka/client.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRYPOINT = join(ROOT, 'bin/sluice.sh');
const BACKLOG_MIB = Number(process.env.BENCH_AGENT_MIB ?? 200);
const SETTLE_S = Number(process.env.BENCH_AGENT_SETTLE_S ?? 15);
/** Node flags for the agent, e.g. `--cpu-prof --cpu-prof-dir=DIR`. */
const NODE_FLAGS = process.env.BENCH_AGENT_NODE_FLAGS ?? '';
const LINE_BYTES = 200;
const PARTITIONS = 6;
const MiB = 1024 * 1024;
const TICKS_PER_S = 100;

interface Services {
  acquire(): Promise<{ kafkaBrokers: string; release(): Promise<void> }>;
  servicesDir(): string;
}

interface Memory {
  rss: number;
  anon: number;
}

function memoryOf(pid: number): Memory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kib('VmRSS'), anon: kib('RssAnon') };
  } catch {
    return undefined;
  }
}

/** utime + stime in seconds. */
function cpuOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** Writes ~`bytes` of 200-byte lines (199 characters and a newline); returns the line count. */
async function generate(path: string, bytes: number): Promise<number> {
  const ws = createWriteStream(path, { highWaterMark: 4 * MiB });
  const levels = ['INFO', 'WARN', 'DEBUG', 'ERROR'];
  const t = Date.UTC(2024, 0, 1);
  let lines = 0;
  while (lines * LINE_BYTES < bytes) {
    let chunk = '';
    for (let i = 0; i < 10_000; i++, lines++) {
      const line = `${new Date(t + lines).toISOString()} ${levels[lines & 3]} [worker-${lines % 17}] order=${lines} user=u${(lines * 7919) % 100000} path=/api/v1/orders/${lines % 9973} took=${lines % 997}ms msg="processed request"`;
      chunk += `${line.padEnd(LINE_BYTES - 1, ' ').slice(0, LINE_BYTES - 1)}\n`;
    }
    if (!ws.write(chunk)) await new Promise<void>((r) => ws.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => ws.end((err?: Error | null) => (err ? j(err) : r())));
  return lines;
}

function agentYaml(client: KafkaClientName, dir: string, brokers: string, topic: string): string {
  return `data_dir: ${join(dir, 'data')}
sources:
  app:
    type: file
    include: [${join(dir, 'logs', '*.log')}]
    start_at: beginning
channel:
  type: disk
  fsync: always
bus:
  type: kafka
  client: ${client}
  brokers: ${brokers}
  topic: ${topic}
  producer:
    compression: gzip
    partitions: ${PARTITIONS}
    replication_factor: 1
api:
  enabled: false
`;
}

async function endOffsets(admin: kafkajs.Admin, topic: string): Promise<number> {
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, o) => n + Number(o.high), 0);
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Result {
  mib_per_s: number;
  vs_java?: number;
  seconds: number;
  cpu_s_per_gib: number;
  rss_idle_mib: number;
  rss_peak_mib: number;
  rss_after_mib: number;
  anon_idle_mib: number;
  anon_peak_mib: number;
  anon_after_mib: number;
}

async function runAgent(
  client: KafkaClientName,
  brokers: string,
  admin: kafkajs.Admin,
  backlog: string,
  lines: number,
  bytes: number,
): Promise<Result> {
  const dir = await mkdtemp(join(tmpdir(), `sluice-bench-agent-${client}-`));
  const topic = `sluice-bench-agent-${client}-${process.pid}-${Date.now()}`;
  let agent: ChildProcess | undefined;
  try {
    await mkdir(join(dir, 'logs'));
    const config = join(dir, 'agent.yaml');
    await writeFile(config, agentYaml(client, dir, brokers, topic));
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }] });
    agent = spawn(ENTRYPOINT, ['agent', '-c', config, '--log-level', 'warn'], {
      stdio: ['ignore', 'inherit', 'inherit'],
      // The entrypoint runs `node` from PATH: this one.
      env: {
        ...process.env,
        PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
        ...(NODE_FLAGS ? { SLUICE_NODE_FLAGS: NODE_FLAGS } : {}),
      },
    });
    const pid = agent.pid!;
    await sleep(10_000);
    const idle = memoryOf(pid);
    if (idle === undefined || agent.exitCode !== null) throw new Error('the agent did not start (see its log above)');

    let peak: Memory = { ...idle };
    const sampler = setInterval(() => {
      const m = memoryOf(pid);
      if (m && m.rss > peak.rss) peak = m;
    }, 100);
    const cpu0 = cpuOf(pid);
    const t0 = process.hrtime.bigint();
    await rename(backlog, join(dir, 'logs', 'app.log'));
    while ((await endOffsets(admin, topic)) < lines) {
      if (agent.exitCode !== null) throw new Error(`the agent exited with ${agent.exitCode} during the burst`);
      await sleep(100);
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuOf(pid) - cpu0;
    clearInterval(sampler);
    await rename(join(dir, 'logs', 'app.log'), backlog);
    await sleep(SETTLE_S * 1000);
    const after = memoryOf(pid)!;
    const mib = (n: number) => round(n / MiB);
    return {
      mib_per_s: round(bytes / MiB / seconds),
      seconds: round(seconds),
      cpu_s_per_gib: round(cpu / (bytes / 1024 ** 3)),
      rss_idle_mib: mib(idle.rss),
      rss_peak_mib: mib(peak.rss),
      rss_after_mib: mib(after.rss),
      anon_idle_mib: mib(idle.anon),
      anon_peak_mib: mib(peak.anon),
      anon_after_mib: mib(after.anon),
    };
  } finally {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((r) => agent!.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const services = (await import(pathToFileURL(join(ROOT, 'test/services/services.mjs')).href)) as Services;
  const session = await services.acquire();
  const brokers = session.kafkaBrokers;
  const admin = new kafkajs.Kafka({ brokers: brokers.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  const work = await mkdtemp(join(tmpdir(), 'sluice-bench-agent-'));
  try {
    const load = loadavg()[0]!;
    const asked = process.argv.slice(2) as KafkaClientName[];
    const probe = probeLibrdkafka();
    const clients = asked.length > 0 ? asked : probe.installed ? (['librdkafka', 'kafkajs'] as const) : (['kafkajs'] as const);
    if (!probe.installed) console.error(`librdkafka not measured: ${probe.reason}`);
    const backlog = join(work, 'backlog.log');
    const lines = await generate(backlog, BACKLOG_MIB * MiB);
    const bytes = (await stat(backlog)).size;
    const results: Record<string, Result> = {};
    for (const client of clients) {
      results[client] = await runAgent(client, brokers, admin, backlog, lines, bytes);
      console.error(`${client}: ${JSON.stringify(results[client])}`);
    }
    const javaTopic = `sluice-bench-agent-java-${process.pid}`;
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: javaTopic, numPartitions: PARTITIONS, replicationFactor: 1 }] });
    let limit: number | undefined;
    try {
      if (process.env.BENCH_AGENT_JAVA !== '0')
        limit = javaProducerMibPerSec({
          kafkaLibs: join(services.servicesDir(), 'kafka/libs/*'),
          brokers,
          topic: javaTopic,
          records: lines,
          recordBytes: LINE_BYTES,
          compression: 'gzip',
          timeoutMs: 300_000,
        });
    } catch (err) {
      console.error(err instanceof Error ? err.message : err);
    } finally {
      await admin.deleteTopics({ topics: [javaTopic] }).catch(() => undefined);
    }
    for (const r of Object.values(results)) if (limit) r.vs_java = round(r.mib_per_s / limit, 2);
    console.error(`java producer ${limit ?? '?'} MiB/s, load average ${load.toFixed(1)}`);
    console.log(
      JSON.stringify({
        bench: 'agent',
        backlog_mib: round(bytes / MiB),
        lines,
        load_average: round(load),
        limit_produce_mib_per_s: limit,
        clients: results,
      }),
    );
  } finally {
    await rm(work, { recursive: true, force: true });
    await admin.disconnect();
    await session.release();
  }
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
