/**
 * `npm run bench -- chaos [AGENT_CLIENT [COLLECTOR_CLIENT]]` (issue 12; `librdkafka`, `kafkajs` or `auto`): one stream of 100,000 events (BENCH_CHAOS_EVENTS)
 * with every kind of poison mixed in, through the whole distributed path as deployed — the
 * built CLI, `sluice agent` (five file sources → disk channel → the real Kafka) and
 * `sluice collector --workers 1` (Kafka → routes with multi-`*` globs → a file sink and an
 * Elasticsearch sink on the real node, one dead-letter) — and an account of every event:
 * for each sink, each record is delivered or dead-lettered exactly once, and where its kind
 * says it must be. What the stream holds: bench/support/chaos-stream.ts (and the README).
 *
 * The last 400 records are not written to a file: the bench produces them to the topic itself
 * once the agent's first events are through (records that are no Sluice event, and events
 * whose time no sink can store). The files are written in 10 rounds while the agent tails them. The run ends when both
 * sinks account for every record, or when nothing more arrived for BENCH_CHAOS_STALL_SECONDS
 * (60) — then what is missing is lost. BENCH_CHAOS_KILLS=N adds crashes: the collector and
 * the agent SIGKILLed in turn, N times spread over the flow (the k-th once the file sink has
 * k/(N+1) of the records), each started again at once (the totals
 * must not change: replays are neither doubled in a sink nor in a dead-letter). Final line:
 * {"bench":"chaos","ok":…,"events":100000,"sinks":{"file":{delivered,dead_letter,agent_dead_letter,lost,duplicated,unexpected},"es":{…}},"kinds":{…},…}
 * and the exit code is 1 unless ok.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import kafkajs from 'kafkajs';
import { stringify } from 'yaml';
import { type ForeignRecord, writeStream } from './support/chaos-stream.js';
import { GrowingFile, Tally } from './support/chaos-tally.js';
import { OutputTree } from './support/output.js';
import { cpuSeconds, MiB, round, rss, type Sluice, started, startSluice } from './support/processes.js';

const EVENTS = Number(process.env.BENCH_CHAOS_EVENTS ?? 100_000);
const STALL_MS = Number(process.env.BENCH_CHAOS_STALL_SECONDS ?? 60) * 1000;
const ROUNDS = 10;
/** Of the EVENTS, records the bench produces to the topic itself (undecodable ones, and events with impossible times). */
const PRODUCED = Math.min(400, Math.floor(EVENTS / 100));
/** SIGKILLs of the collector and the agent in turn, spread over the flow, each restarted at once (0: none). */
const KILLS = Number(process.env.BENCH_CHAOS_KILLS ?? 0);
/** The Kafka client of the agent, and of the collector (the agent's unless given). */
const CLIENTS = { agent: process.argv[2] ?? 'auto', collector: process.argv[3] ?? process.argv[2] ?? 'auto' };
for (const c of Object.values(CLIENTS)) {
  if (!['auto', 'librdkafka', 'kafkajs'].includes(c)) {
    console.error(`usage: npm run bench -- chaos [AGENT_CLIENT [COLLECTOR_CLIENT]] (auto, librdkafka, kafkajs); got ${JSON.stringify(c)}`);
    process.exit(2);
  }
}
const brokers = process.env.KAFKA_BROKERS;
const esUrl = process.env.ELASTICSEARCH_URL;
if (!brokers || !esUrl) {
  console.error('KAFKA_BROKERS or ELASTICSEARCH_URL is not set: run it as `npm run bench -- chaos` (which leases the test services)');
  process.exit(2);
}

const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-chaos-'));
const logs = join(dir, 'logs');
const out = join(dir, 'out');
const run = `chaos-${process.pid}-${Date.now().toString(36)}`;
const index = `${run}-{service}-%Y.%m.%d`;
const admin = new Client({ node: esUrl });

// The file sink's refused paths: service "refused" has a plain file where its directory
// goes, service "linked" a symlink (to a directory outside the tree, which must stay empty).
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'refused'), 'not a directory\n');
mkdirSync(join(dir, 'elsewhere'));
symlinkSync(join(dir, 'elsewhere'), join(out, 'linked'));

const source = (name: string, extra: object) => ({
  type: 'file',
  include: [join(logs, name, '*', '*.log')],
  path_pattern: join(logs, name, '{service}', '{module}.log'),
  start_at: 'beginning',
  ...extra,
});
const textTime = { timestamp: { pattern: '^(\\S+) ', format: 'auto' } };
const bus = (client: string) => ({ type: 'kafka', client, brokers: brokers.split(','), topic: run, consumer: { group_id: run } });
const agentConfig = {
  data_dir: join(dir, 'agent'),
  // Five file sources, each with its batches in flight: more than the default budget holds.
  memory_limit: '160MiB',
  sources: {
    plain: source('plain', textTime),
    java: source('java', { ...textTime, multiline: { preset: 'java' } }),
    python: source('python', { ...textTime, multiline: { preset: 'python' } }),
    go: source('go', { ...textTime, multiline: { preset: 'go' } }),
    json: source('json', {}),
  },
  // JSON lines become fields (fields.code: a long in the index made for them, or a string).
  transforms: { json: { type: 'parse', format: 'json', when: { service: 'mapped' } } },
  channel: { type: 'disk' },
  bus: bus(CLIENTS.agent),
  api: { enabled: false },
};
const both = ['file', 'es'];
const collectorConfig = {
  data_dir: join(dir, 'collector'),
  bus: bus(CLIENTS.collector),
  sinks: {
    file: { type: 'file', root: out, encoding: 'json' },
    es: { type: 'elasticsearch', url: esUrl, index, template: { name: run, replicas: 0 } },
  },
  // The JSON `ts` becomes the event time, read as milliseconds (a nanosecond one is out of
  // range): in the collector, after the wire decoder, so nothing but the transform checks it.
  transforms: { time: { type: 'fields', when: { service: 'mapped' }, promote: { timestamp: 'ts' }, timestamp_format: 'unix_ms' } },
  routes: {
    rules: [
      { name: 'timeouts', match: { message: '*error*timeout*' }, sinks: both },
      { name: 'abcd', match: { message: '*a*b*c*d*' }, sinks: both },
    ],
    default: both,
  },
  api: { enabled: false },
};
writeFileSync(join(dir, 'agent.yaml'), stringify(agentConfig));
writeFileSync(join(dir, 'collector.yaml'), stringify(collectorConfig));

let agent: Sluice | undefined;
let collector: Sluice | undefined;
const tree = new OutputTree(out);
let exitCode = 1;
try {
  // An index made before Sluice's template (a legacy one) where fields.code is a long: the
  // JSON lines whose code is a string cannot be indexed there.
  await admin.indices.create({
    index: `${run}-mapped-2024.06.01`,
    settings: { number_of_replicas: 0 },
    mappings: { properties: { fields: { properties: { code: { type: 'long' } } } } },
  });

  collector = start('collector');
  agent = start('agent');
  await Promise.all([started(collector), started(agent)]);
  const t0 = Date.now();
  const cpu0 = { agent: cpuSeconds(agent.pid), collector: cpuSeconds(collector.pid) };

  const stream = await writeStream(logs, EVENTS, ROUNDS, () => new Promise((r) => setTimeout(r, 500)), PRODUCED);
  console.error(`chaos: ${EVENTS} records (${round(stream.bytes / MiB)} MiB) written in ${round((Date.now() - t0) / 1000)} s`);
  const tally = new Tally(stream);
  const readTree = () =>
    tree.read((line) => {
      const e = JSON.parse(line.toString()) as {
        id?: string;
        source?: { path?: string; offset?: number };
        fields?: Record<string, unknown>;
      };
      tally.deliver('file', { id: e.id, path: e.source?.path, offset: e.source?.offset, fields: e.fields }, 'file sink');
    });
  const collectorDead = new GrowingFile(join(dir, 'collector', 'dead-letter', 'dead-letter.jsonl'));
  const agentDead = new GrowingFile(join(dir, 'agent', 'dead-letter', 'agent.jsonl'));
  const readDeadLetters = () => {
    collectorDead.read((l) => tally.collectorEntry(l));
    agentDead.read((l) => tally.agentEntry(l));
  };

  // Until both sinks account for every record (Elasticsearch by a count of its documents
  // plus its dead-letter entries), or nothing moves for STALL_MS.
  let progress = -1;
  let movedAt = Date.now();
  let shownAt = Date.now();
  const kills: string[] = [];
  let produced = false;
  for (;;) {
    // Into the agent's topic once it exists (the first events are through).
    if (!produced && tally.accounted('file') > 0) {
      await produce(stream.foreign);
      produced = true;
    }
    // Kills spread over the flow: the k-th once the file sink has k/(KILLS+1) of the records.
    if (kills.length < KILLS && tally.accounted('file') >= ((kills.length + 1) * EVENTS) / (KILLS + 1)) {
      const role = kills.length % 2 === 0 ? 'collector' : 'agent';
      kills.push(role);
      await crash(role);
      movedAt = Date.now();
    }
    if (agent.child.exitCode !== null || collector.child.exitCode !== null) throw new Error(`a process died: ${logs_()}`);
    readTree();
    readDeadLetters();
    const docs = await esCount();
    const esAccounted = docs + tally.deadLettered('es');
    const now = tally.accounted('file') + esAccounted;
    if (now !== progress) {
      progress = now;
      movedAt = Date.now();
    }
    if (Date.now() - shownAt >= 5000) {
      shownAt = Date.now();
      console.error(
        `chaos: ${round((shownAt - t0) / 1000)} s: file ${tally.accounted('file')}, elasticsearch ${esAccounted} of ${EVENTS} accounted for`,
      );
    }
    const done = tally.accounted('file') >= EVENTS && esAccounted >= EVENTS;
    if ((done && kills.length >= KILLS) || Date.now() - movedAt > STALL_MS) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const seconds = (Date.now() - t0) / 1000;
  const cpu = { agent: cpuSeconds(agent.pid) - cpu0.agent, collector: cpuSeconds(collector.pid) - cpu0.collector };
  const memory = { agent: rss(agent.pid), collector: rss(collector.pid) };
  const exits = { agent: await agent.stop(), collector: await collector.stop() };
  readTree();
  readDeadLetters();
  const docs = await readElasticsearch(tally);
  const verdict = tally.summary();
  const ok = verdict.ok && exits.agent === 0 && exits.collector === 0;
  exitCode = ok ? 0 : 1;
  console.log(
    JSON.stringify({
      bench: 'chaos',
      ok,
      events: EVENTS,
      mib: round(stream.bytes / MiB),
      seconds: round(seconds),
      sinks: verdict.perSink,
      es_documents: docs,
      kinds: verdict.perKind,
      dead_letter_reasons: tally.reasons,
      lost_sample: verdict.lostSample,
      problems: verdict.problems,
      problem_sample: verdict.problemSample,
      kills,
      exit_codes: exits,
      clients: { agent: clientOf(agent), collector: clientOf(collector) },
      // Of the processes that ran from the start (with kills: of the last ones, since their start).
      agent_cpu_s: kills.includes('agent') ? null : round(cpu.agent, 2),
      collector_cpu_s: kills.includes('collector') ? null : round(cpu.collector, 2),
      agent_rss_peak_mib: round(memory.agent.peak),
      collector_rss_peak_mib: round(memory.collector.peak),
      loadavg_1m: round(loadavg()[0]!, 2),
    }),
  );
} catch (err) {
  console.error(`chaos: ${(err as Error).message}`);
  console.log(JSON.stringify({ bench: 'chaos', ok: false, error: (err as Error).message.slice(0, 2000) }));
} finally {
  await Promise.all([agent?.stop(), collector?.stop()]);
  tree.close();
  await cleanupElasticsearch();
  await deleteTopic();
  await admin.close();
  if (process.env.BENCH_CHAOS_KEEP !== '1') await rm(dir, { recursive: true, force: true });
  else console.error(`chaos: kept ${dir} (BENCH_CHAOS_KEEP=1)`);
}
process.exit(exitCode);

/** Records straight to the topic, beside the agent's, spread over its partitions. */
async function produce(records: ForeignRecord[]): Promise<void> {
  const kafka = new kafkajs.Kafka({ brokers: brokers!.split(','), logLevel: kafkajs.logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 100)
      await producer.send({ topic: run, acks: -1, messages: records.slice(i, i + 100).map((r) => ({ value: r.value })) });
  } finally {
    await producer.disconnect();
  }
}

function start(role: 'agent' | 'collector'): Sluice {
  return startSluice(role, join(dir, `${role}.yaml`), [...(role === 'collector' ? ['--workers', '1'] : []), '--log-level', 'info']);
}

/** SIGKILL of the process that runs the pipeline (a crash: no drain, no final checkpoint), then a new one. */
async function crash(role: 'agent' | 'collector'): Promise<void> {
  const s = role === 'agent' ? agent! : collector!;
  process.kill(s.pid, 'SIGKILL');
  await s.stop();
  const next = start(role);
  if (role === 'agent') agent = next;
  else collector = next;
  await started(next);
  console.error(`chaos: ${role} killed and started again`);
}

/** The Kafka client the process chose (its "kafka client chosen" line). */
function clientOf(s: Sluice): string | undefined {
  return /"client":"(\w+)"[^\n]*"msg":"kafka client chosen"/.exec(s.stderr())?.[1];
}

function logs_(): string {
  return `agent: ${agent?.stderr().slice(-1500)}\ncollector: ${collector?.stderr().slice(-1500)}`;
}

async function esCount(): Promise<number> {
  try {
    return (await admin.count({ index: `${run}-*`, ignore_unavailable: true, allow_no_indices: true })).count;
  } catch {
    return 0;
  }
}

/** Every document of the run, traced to its record; returns how many there are. */
async function readElasticsearch(t: Tally): Promise<number> {
  await admin.indices.refresh({ index: `${run}-*` });
  let docs = 0;
  const scroll = admin.helpers.scrollSearch<{ source?: { path?: string; offset?: number }; fields?: Record<string, unknown> }>({
    index: `${run}-*`,
    size: 2000,
    _source_excludes: ['message'],
    query: { match_all: {} },
  });
  for await (const page of scroll) {
    for (const hit of page.body.hits.hits) {
      docs++;
      const d = hit._source!;
      t.deliver('es', { id: hit._id, path: d.source?.path, offset: d.source?.offset, fields: d.fields }, `elasticsearch ${hit._index}`);
    }
  }
  return docs;
}

/** The run's topic (the agent made it), so that runs do not pile topics up on a shared broker. */
async function deleteTopic(): Promise<void> {
  const kafkaAdmin = new kafkajs.Kafka({ brokers: brokers!.split(','), logLevel: kafkajs.logLevel.NOTHING }).admin();
  try {
    await kafkaAdmin.connect();
    await kafkaAdmin.deleteTopics({ topics: [run] });
  } catch {
    // Never made (the run failed early), or the broker is gone: nothing to clean.
  } finally {
    await kafkaAdmin.disconnect();
  }
}

async function cleanupElasticsearch(): Promise<void> {
  // By name: Elasticsearch 8 refuses wildcard deletes (action.destructive_requires_name).
  const rows = await admin.cat.indices({ index: `${run}-*`, format: 'json', h: ['index'] }).catch(() => []);
  for (const r of rows) await admin.indices.delete({ index: r.index! }).catch(() => undefined);
  await admin.indices.deleteIndexTemplate({ name: run }).catch(() => undefined);
}
