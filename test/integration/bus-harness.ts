// Process-level harness for the bus tests: runs the built CLI (dist/bin/sluice.js) as
// users do, with YAML configs, and counts what came out the other end by event number.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach } from 'vitest';
import { stringify } from 'yaml';
import type kafkajs from 'kafkajs';
import { type KafkaClientName, probeLibrdkafka } from '../../bus/kafka/client.js';
import type { LogEvent } from '../../core/event.js';
import { decodeEvent } from '../../core/wire.js';
import { KafkaService } from '../services/services.mjs';
import { waitFor as waitForSupport } from '../support/index.js';

export const CLI = join(import.meta.dirname, '../../dist/bin/sluice.js');

/** The shared broker the global setup leased (test/services). */
export const SHARED_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';

/**
 * A test file's scratch space: a temp root removed after the file, a folder per scenario
 * (with logs/ for the agent to tail, a unique topic and group), and the Sluice processes
 * to kill after each test so that a failed test leaves nothing running. A scenario starts
 * its agent, collector or `sluice run` from only what differs from the builders' defaults:
 * the folder, topic, group and `brokers` are filled in.
 */
export function workspace(prefix: string, brokers = SHARED_BROKERS) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const running: Sluice[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.kill()));
  });
  // SLUICE_TEST_KEEP=1 keeps the configs and logs of every scenario for a look afterwards.
  afterAll(() => (process.env.SLUICE_TEST_KEEP ? console.log(`kept ${root}`) : rmSync(root, { recursive: true, force: true })));
  const setup = (name: string) => {
    const dir = join(root, name);
    const logs = join(dir, 'logs');
    mkdirSync(logs, { recursive: true });
    const topic = `sluice-${name}-${process.pid}-${Date.now()}`;
    const group = `${topic}-group`;
    const logGlob = join(logs, '*.log');
    return {
      dir,
      topic,
      group,
      logs,
      logFile: join(logs, 'app.log'),
      /** An agent tailing logs/*.log into the topic, its data in `<dir>/<name>`. */
      agent: (c: Partial<AgentConfig> = {}, name = 'agent') =>
        start('agent', dir, name, agentYaml({ dataDir: join(dir, name), logGlob, brokers, topic, ...c })),
      /** A collector of the group, its data in `<dir>/<name>`. */
      collector: (c: Partial<CollectorConfig> = {}, name = 'collector', args?: string[]) =>
        start('collector', dir, name, collectorYaml({ dataDir: join(dir, name), brokers, topic, group, ...c }), args),
      /** `sluice run` tailing logs/*.log, its data in `<dir>/<name>`. */
      run: (c: Partial<RunConfig> = {}, name = 'run') => start('run', dir, name, runYaml({ dataDir: join(dir, name), logGlob, ...c })),
    };
  };
  /**
   * Starts the built CLI on `yaml`, its output in `<dir>/<name>.out|.err`; killed after the
   * test. A collector runs one worker process unless `args` say otherwise.
   */
  const start = (role: 'agent' | 'collector' | 'run', dir: string, name: string, yaml: string, args?: string[]): Sluice => {
    const config = join(dir, `${name}.yaml`);
    writeFileSync(config, yaml);
    const p = new Sluice(
      role,
      config,
      join(dir, `${name}.out`),
      join(dir, `${name}.err`),
      args ?? (role === 'collector' ? ['--workers', '1'] : []),
    );
    running.push(p);
    return p;
  };
  return { setup, start };
}

/** Lines "ev-<n> <padding>", about `size` bytes each with the newline. */
export function appendEvents(file: string, from: number, count: number, size = 200): void {
  const lines: string[] = [];
  for (let n = from; n < from + count; n++) {
    const head = `ev-${n} `;
    lines.push(head + 'x'.repeat(Math.max(0, size - head.length - 1)));
  }
  appendFileSync(file, `${lines.join('\n')}\n`);
}

/**
 * Writes events, numbered on from 0, over eight module files `<dir>/logs/m0.log`..`m7.log`:
 * eight service/module pairs (partition_by), so they spread over the partitions and the tree's files.
 */
export function moduleWriter(dir: string) {
  let written = 0;
  return {
    /** Events written so far (the next one's number). */
    get written() {
      return written;
    },
    /** `count` more events, a multiple of 8. */
    write(count: number) {
      for (let i = 0; i < 8; i++) appendEvents(join(dir, 'logs', `m${i}.log`), written + (i * count) / 8, count / 8);
      written += count;
    },
  };
}

/** The topics a test file made on `kafka` (push each one), deleted after the file. */
export function topicsDeletedAfterAll(kafka: kafkajs.Kafka): string[] {
  const created: string[] = [];
  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: created }).catch(() => undefined);
    await admin.disconnect();
  });
  return created;
}

/** The events in `topic`, by id, read from its beginning by a group of their own until at least `count` were. */
export async function readTopicEvents(
  kafka: kafkajs.Kafka,
  topic: string,
  count: number,
  timeoutMs: number,
): Promise<Map<string, LogEvent>> {
  const seen = new Map<string, LogEvent>();
  const consumer = kafka.consumer({ groupId: `${topic}-check` });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const e = decodeEvent(message.value!);
        seen.set(e.id, e);
      },
    });
    await waitForSupport(
      `${count} events read back from ${topic}`,
      () => seen.size >= count,
      timeoutMs,
      () => `${seen.size} read`,
    );
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/** A broker of the test's own, to kill and restart without disturbing other test runs; not started yet. */
export function privateBroker(name: string): KafkaService {
  return new KafkaService({ name: `${name}-${process.pid}`, port: 0, controllerPort: 0, heap: '256m' });
}

/** For the services' start(): their output is not wanted. */
export const QUIET = { log: () => undefined };

export class Sluice {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private code: number | null | undefined;

  constructor(
    readonly role: 'agent' | 'collector' | 'run',
    config: string,
    stdoutFile: string,
    readonly stderrFile: string,
    args: string[] = [],
  ) {
    const out = openSync(stdoutFile, 'a');
    const err = openSync(stderrFile, 'a');
    this.child = spawn(process.execPath, [CLI, role, '-c', config, ...args], {
      stdio: ['ignore', out, err],
      env: { PATH: process.env.PATH },
    });
    closeSync(out);
    closeSync(err);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve((this.code = code))));
  }

  get running(): boolean {
    return this.code === undefined;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  /** SIGTERM and wait for the exit code of a clean stop. */
  async stop(): Promise<number | null> {
    return this.kill('SIGTERM');
  }

  log(): string {
    return existsSync(this.stderrFile) ? readFileSync(this.stderrFile, 'utf8') : '';
  }
}

export interface Tally {
  /** Times each event number was seen. */
  counts: Map<number, number>;
  total: number;
}

/** The file's text, or undefined when it is gone: a running file sink renames a finished file after it was listed. */
function textIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Reads console-sink JSON lines (one event per line) from every file and counts events by
 * number. A file that vanished since it was listed is skipped: while the sink runs the count
 * is a lower bound, read again until it is complete; once it has stopped nothing moves.
 */
export function tally(files: string[]): Tally {
  const counts = new Map<number, number>();
  let total = 0;
  for (const file of files) {
    const text = textIfPresent(file);
    if (text === undefined) continue;
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      // A line cut by SIGKILL mid-write has no newline yet: not delivered, not counted.
      if (end < 0) break;
      const line = text.slice(start, end);
      start = end + 1;
      if (line.length === 0) continue;
      const event = JSON.parse(line) as { message: string };
      const m = /^ev-(\d+) /.exec(event.message);
      if (!m) throw new Error(`unexpected event in ${file}: ${line.slice(0, 100)}`);
      const n = Number(m[1]);
      counts.set(n, (counts.get(n) ?? 0) + 1);
      total++;
    }
  }
  return { counts, total };
}

/** Event numbers in [0, expected) never seen, and how many deliveries were repeats. */
export function lossAndDuplicates(t: Tally, expected: number): { missing: number[]; duplicates: number; unexpected: number } {
  const missing: number[] = [];
  for (let n = 0; n < expected; n++) if (!t.counts.has(n)) missing.push(n);
  let unexpected = 0;
  for (const n of t.counts.keys()) if (n < 0 || n >= expected) unexpected++;
  return { missing, duplicates: t.total - t.counts.size, unexpected };
}

/** test/support's waitFor with a minute by default: a step here may wait for a broker or a process. */
export function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000, describe?: () => string): Promise<void> {
  return waitForSupport(what, cond, timeoutMs, describe);
}

export function outputs(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .map((f) => join(dir, f));
}

/** Events per agent send (one channel transaction) in agentYaml: the most one failed send can duplicate. */
export const AGENT_BATCH_EVENTS = 500;

/**
 * The Kafka clients every bus test runs with. librdkafka is an optional dependency: where it
 * did not install, its tests are skipped with the reason (see bus/kafka/README.md).
 */
export const BUS_CLIENTS: { client: KafkaClientName; missing: string }[] = (['kafkajs', 'librdkafka'] as const).map((client) => {
  const probe = probeLibrdkafka();
  return { client, missing: client === 'librdkafka' && !probe.installed ? probe.reason : '' };
});

/** The client `bus.client: auto` picks here: for tests about sinks, not about the bus. */
export const AUTO_CLIENT: KafkaClientName = BUS_CLIENTS.some((c) => c.client === 'librdkafka' && c.missing === '')
  ? 'librdkafka'
  : 'kafkajs';

/** Inside describe.each(BUS_CLIENTS): skips the block's tests, saying why, when the client is not installed. */
export function skipWhenMissing(missing: string): void {
  beforeEach((ctx) => ctx.skip(missing !== '', `librdkafka is not installed here: ${missing}`));
}

/** A config section as the YAML holds it; a key set to undefined is left out. */
export type Section = Record<string, unknown>;

/**
 * What the agent, collector and run configs of these tests share: the data directory, an info
 * log and the API on a free port (tests never fight over the default one) unless `api` says
 * otherwise. The sections follow in the order given, those left undefined out.
 */
function configYaml(dataDir: string, api: Section | undefined, sections: Section): string {
  return stringify({ data_dir: dataDir, log: { level: 'info' }, api: api ?? { address: '127.0.0.1:0' }, ...sections });
}

interface TailingConfig {
  dataDir: string;
  /** The glob of the file source `app`. */
  logGlob: string;
  /** Options of the source `app` over the defaults (start_at: beginning, service: shop, polls of 50ms); undefined removes one. */
  source?: Section;
  /** Options of the disk channel over the defaults (segment_bytes: 1MiB, max_bytes: 64MiB). */
  channel?: Section;
  api?: Section;
  transforms?: Section;
  /** A path: a file dead-letter there; a section: the dead-letter as given. */
  deadLetter?: string | Section;
}

function sources(c: TailingConfig): Section {
  return {
    app: {
      type: 'file',
      include: [c.logGlob],
      start_at: 'beginning',
      service: 'shop',
      poll_interval: '50ms',
      checkpoint_interval: '100ms',
      ...c.source,
    },
  };
}

const channel = (c: TailingConfig): Section => ({ type: 'disk', segment_bytes: '1MiB', max_bytes: '64MiB', ...c.channel });

const deadLetter = (d: string | Section | undefined): Section | undefined => (typeof d === 'string' ? { type: 'file', path: d } : d);

interface BusConfig {
  /** AUTO_CLIENT unless given. */
  client?: KafkaClientName;
  /** host:port[,host:port...] */
  brokers: string;
  topic: string;
  /** Keys of the `bus:` section over the defaults (a topic template, topic_max_distinct). */
  bus?: Section;
}

/** The `bus:` section of both halves; `side` is the producer's or the consumer's options. */
const kafkaBus = (c: BusConfig, side: Section): Section => ({
  type: 'kafka',
  client: c.client ?? AUTO_CLIENT,
  brokers: c.brokers.split(','),
  topic: c.topic,
  ...c.bus,
  ...side,
});

export interface AgentConfig extends TailingConfig, BusConfig {
  /** Producer options over the defaults (4 partitions, replication 1, AGENT_BATCH_EVENTS a send). */
  producer?: Section;
  shutdown?: Section;
}

/** An agent tailing `logGlob` into a disk channel and Kafka. */
export function agentYaml(c: AgentConfig): string {
  return configYaml(c.dataDir, c.api, {
    sources: sources(c),
    transforms: c.transforms,
    channel: channel(c),
    bus: kafkaBus(c, { producer: { partitions: 4, replication_factor: 1, batch: { max_events: AGENT_BATCH_EVENTS }, ...c.producer } }),
    dead_letter: deadLetter(c.deadLetter),
    shutdown: c.shutdown ?? { drain_timeout: '5s' },
  });
}

/** The sinks of a config that names none: a console sink `out` printing JSON lines (what `tally` reads). */
const CONSOLE_SINK: Section = { out: { type: 'console', encoding: 'json' } };

export interface RunConfig extends TailingConfig {
  /** CONSOLE_SINK unless given. */
  sinks?: Section;
  routes?: Section;
}

/** `sluice run`: the agent's source and disk channel, the in-process bus, the collector's sinks. */
export function runYaml(c: RunConfig): string {
  return configYaml(c.dataDir, c.api, {
    sources: sources(c),
    transforms: c.transforms,
    channel: channel(c),
    sinks: c.sinks ?? CONSOLE_SINK,
    routes: c.routes,
    dead_letter: deadLetter(c.deadLetter),
  });
}

export interface CollectorConfig extends BusConfig {
  dataDir: string;
  group: string;
  /** Consumer options over the defaults (short session and waits, so that tests move on quickly). */
  consumer?: Section;
  /** CONSOLE_SINK unless given. */
  sinks?: Section;
  routes?: Section;
  transforms?: Section;
  api?: Section;
  /** A path: a file dead-letter there; a section: the dead-letter as given. */
  deadLetter?: string | Section;
}

/** A collector consuming `topic` as `group` into its sinks. */
export function collectorYaml(c: CollectorConfig): string {
  return configYaml(c.dataDir, c.api, {
    bus: kafkaBus(c, {
      consumer: { group_id: c.group, session_timeout: '10s', heartbeat_interval: '1s', max_wait: '100ms', ...c.consumer },
    }),
    transforms: c.transforms,
    sinks: c.sinks ?? CONSOLE_SINK,
    routes: c.routes,
    dead_letter: deadLetter(c.deadLetter),
  });
}
