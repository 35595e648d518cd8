import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';
import type { TlsSettings } from '../../core/options/tls.js';
import type {
  AckableBatch,
  BusConsumer,
  BusProducer,
  BusRecord,
  BusRecordWriter,
  BusRecordWriteResult,
  RefusedEvent,
  UndecodableRecord,
} from '../../core/pipeline.js';
import { addonPath } from './librdkafka/addon/path.js';
import type { KafkaBusOptions, KafkaClientChoice } from './options.js';

/**
 * Which client library runs the bus, and the one shape both present. `auto` takes
 * librdkafka when its package is installed (an optional dependency: its native build may
 * have failed on this machine), kafkajs otherwise. A client's module is imported only when
 * it is used, so an agent on librdkafka never loads kafkajs and the reverse.
 */
export type KafkaClientName = 'librdkafka' | 'kafkajs';

export const LIBRDKAFKA_PACKAGE = '@confluentinc/kafka-javascript';
/**
 * The package's native (node-rdkafka) layer alone: its index also loads the
 * KafkaJS-compatible layer, which the bus never uses (about 1 MiB of an idle agent's RSS).
 * The path is the package's own layout at the version package-lock.json pins.
 */
export const LIBRDKAFKA_NATIVE_LAYER = `${LIBRDKAFKA_PACKAGE}/lib/rdkafka.js`;

/**
 * Sends a producer takes at once (BusProducer.maxInFlight). librdkafka: while one send waits
 * for its acks (linger, compression, the broker's round trip), the next is encoded and
 * handed over, so the main thread and librdkafka's threads work side by side. kafkajs sends
 * its requests one at a time. Each send in flight holds a channel transaction (its memory:
 * kafkaBusSpec in index.ts).
 */
export const SENDS_IN_FLIGHT: Readonly<Record<KafkaClientName, number>> = { librdkafka: 2, kafkajs: 1 };

export type LibrdkafkaProbe = { installed: true; version: string } | { installed: false; reason: string };

let probed: LibrdkafkaProbe | undefined;

/** Why Sluice's addon (librdkafka/addon/) cannot run, if it cannot: the bus's producers and consumer need it beside the binding. */
function addonMissing(): string | undefined {
  const path = addonPath();
  return path && existsSync(path) ? undefined : `the librdkafka addon is not built (${path ?? 'dist/native'}); npm run build builds it`;
}

/** Whether the librdkafka package loads here (its native addon built), and its librdkafka version. */
export function probeLibrdkafka(): LibrdkafkaProbe {
  if (probed) return probed;
  try {
    const native = createRequire(import.meta.url)(LIBRDKAFKA_NATIVE_LAYER) as { librdkafkaVersion: string };
    const unbuilt = addonMissing();
    probed = unbuilt ? { installed: false, reason: unbuilt } : { installed: true, version: native.librdkafkaVersion };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    probed = {
      installed: false,
      reason:
        e.code === 'MODULE_NOT_FOUND' ? `${LIBRDKAFKA_PACKAGE} is not installed` : `${LIBRDKAFKA_PACKAGE} does not load: ${e.message}`,
    };
  }
  return probed;
}

let probedApart: LibrdkafkaProbe | undefined;

/** Longer than loading the addon ever takes; a probe that hangs falls back to loading it here. */
const PROBE_TIMEOUT_MS = 20_000;

/**
 * probeLibrdkafka, answered by a short-lived Node process. Loading the native addon maps
 * librdkafka, OpenSSL and libstdc++ into the process for good: about 5.5 MiB of an idle
 * agent's RSS, which an agent with nothing to ship yet does not need. So the choice of
 * client is made without loading it here; the bus loads it when its first client connects
 * (loadNative). Whatever keeps the probe from answering (no process could start) falls back
 * to loading it in this process, as probeLibrdkafka does.
 */
export function probeLibrdkafkaApart(): LibrdkafkaProbe {
  if (probed) return probed;
  if (probedApart) return probedApart;
  let layer: string;
  try {
    layer = createRequire(import.meta.url).resolve(LIBRDKAFKA_NATIVE_LAYER);
  } catch {
    probedApart = { installed: false, reason: `${LIBRDKAFKA_PACKAGE} is not installed` };
    return probedApart;
  }
  const script = `try { process.stdout.write(JSON.stringify({ version: require(${JSON.stringify(layer)}).librdkafkaVersion })) } catch (e) { process.stdout.write(JSON.stringify({ error: String(e && e.message).split('\\n')[0] })) }`;
  const run = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: PROBE_TIMEOUT_MS,
    // Options meant for the pipeline (a profiler, a preload) are not the probe's.
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let answer: { version?: unknown; error?: unknown } | undefined;
  try {
    answer = run.status === 0 ? JSON.parse(run.stdout) : undefined;
  } catch {
    answer = undefined;
  }
  const unbuilt = addonMissing();
  if (typeof answer?.version === 'string')
    probedApart = unbuilt ? { installed: false, reason: unbuilt } : { installed: true, version: answer.version };
  else if (typeof answer?.error === 'string')
    probedApart = { installed: false, reason: `${LIBRDKAFKA_PACKAGE} does not load: ${answer.error}` };
  else return probeLibrdkafka();
  return probedApart;
}

/** The client `choice` resolves to; throws (one line, naming the component) when librdkafka is required but missing. */
export function chooseClient(choice: KafkaClientChoice, component: string, logger: Logger): KafkaClientName {
  if (choice === 'kafkajs') {
    logger.info({ client: 'kafkajs', choice }, 'kafka client chosen');
    return 'kafkajs';
  }
  const probe = probeLibrdkafkaApart();
  if (choice === 'auto' && !probe.installed) {
    logger.info({ client: 'kafkajs', choice, librdkafka: probe.reason }, 'kafka client chosen');
    return 'kafkajs';
  }
  if (!probe.installed)
    throw new Error(
      `${component}: client librdkafka: ${probe.reason} (it is an optional dependency built from source at install, see bus/kafka/README.md); use client: kafkajs or auto`,
    );
  logger.info({ client: 'librdkafka', choice, librdkafka_version: probe.version }, 'kafka client chosen');
  return 'librdkafka';
}

/** What a client is given to build either side: the validated options, TLS files already read. */
export interface ClientSetup {
  options: KafkaBusOptions;
  tls: TlsSettings | undefined;
  logger: Logger;
  /** The bus's config name, for metrics and errors. */
  component: string;
  /** The bus's data directory (ComponentContext.dataDir), where the producer keeps its topic decisions; none: it keeps none. */
  dataDir?: string;
}

/** One client library behind the Bus interface (bus/kafka/kafkajs, bus/kafka/librdkafka). */
export interface KafkaClient {
  producer(setup: ClientSetup, refused: ((events: readonly RefusedEvent[]) => Promise<void>) | undefined): BusProducer;
  consumer(setup: ClientSetup, undecodable: ((records: readonly UndecodableRecord[]) => Promise<void>) | undefined): BusConsumer;
  recordWriter(setup: ClientSetup, topic: string): BusRecordWriter;
}

/** A producer whose client module is loaded by open(). */
export class DeferredProducer implements BusProducer {
  private inner: BusProducer | undefined;

  constructor(
    readonly batch: BusProducer['batch'],
    readonly maxInFlight: number,
    private readonly make: () => Promise<BusProducer>,
  ) {}

  async open(): Promise<void> {
    this.inner ??= await this.make();
    await this.inner.open();
  }

  send(events: readonly LogEvent[]): Promise<void> {
    if (!this.inner) return Promise.reject(new Error('kafka producer used before open()'));
    return this.inner.send(events);
  }

  async close(): Promise<void> {
    await this.inner?.close();
  }
}

/** A consumer whose client module is loaded by start(). */
export class DeferredConsumer implements BusConsumer {
  private inner: BusConsumer | undefined;

  constructor(private readonly make: () => Promise<BusConsumer>) {}

  async start(deliver: (batch: AckableBatch) => Promise<void>): Promise<void> {
    this.inner ??= await this.make();
    await this.inner.start(deliver);
  }

  async stop(): Promise<void> {
    await this.inner?.stop();
  }
}

/** A record writer whose client module is loaded by the first write. */
export class DeferredRecordWriter implements BusRecordWriter {
  private inner: Promise<BusRecordWriter> | undefined;

  constructor(private readonly make: () => Promise<BusRecordWriter>) {}

  async write(records: readonly BusRecord[]): Promise<BusRecordWriteResult> {
    this.inner ??= this.make();
    return (await this.inner).write(records);
  }

  async close(): Promise<void> {
    const inner = await this.inner;
    await inner?.close();
  }
}
