import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import kafkajs from 'kafkajs';
import type { KafkaConfig, SASLOptions, logCreator } from 'kafkajs';
import { z } from 'zod';
import type { LogEvent } from '../event.js';
import { DistinctLimit, type DistinctLimitOptions, EventTemplate, literalText, parseTemplate, templateProblem } from '../template.js';
import type { Logger } from '../log.js';
import { byteSize, duration } from '../units.js';

const { Kafka, logLevel } = kafkajs;

/**
 * The `bus:` options of `type: kafka`, shared by the agent's producer and the collector's
 * consumer group: one block in one file describes both ends of the same topic(s).
 */

/** Kafka's topic rules: legal characters, and at most 249 of them. */
const TOPIC_CHAR = /[^a-zA-Z0-9._-]/g;
const TOPIC_MAX = 249;

/** Topic and key templates: core/template.ts's language, without time tokens (`%` is text). */
const NO_TIME = { time: false } as const;

const template = () =>
  z
    .string()
    .min(1)
    .superRefine((v, ctx) => {
      const problem = templateProblem(v, NO_TIME);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

const topicTemplate = template().superRefine((v, ctx) => {
  if (templateProblem(v, NO_TIME)) return;
  const fixed = literalText(parseTemplate(v, NO_TIME));
  const bad = fixed.match(TOPIC_CHAR);
  if (bad)
    ctx.addIssue({
      code: 'custom',
      message: `topic ${JSON.stringify(v)} has characters Kafka does not allow in topic names (${[...new Set(bad)].join(' ')}); use letters, digits, ".", "_" and "-"`,
    });
  if (fixed.length > TOPIC_MAX)
    ctx.addIssue({ code: 'custom', message: `topic ${JSON.stringify(v)} is longer than Kafka's ${TOPIC_MAX} characters` });
});

export const kafkaTlsOptions = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Connect with TLS (set false to keep the block but turn TLS off)'),
    ca_file: z
      .string()
      .min(1)
      .optional()
      .describe("PEM file with the CA certificate(s) that signed the brokers' certificates (default: the system CAs)"),
    cert_file: z.string().min(1).optional().describe('PEM client certificate, for brokers that require mutual TLS'),
    key_file: z.string().min(1).optional().describe('PEM private key of cert_file'),
    reject_unauthorized: z.boolean().default(true).describe('Refuse brokers whose certificate does not verify (turn off only for testing)'),
    server_name: z
      .string()
      .min(1)
      .optional()
      .describe('Name to verify the broker certificate against, when it differs from the broker address'),
  })
  .superRefine((v, ctx) => {
    if ((v.cert_file === undefined) !== (v.key_file === undefined))
      ctx.addIssue({
        code: 'custom',
        message: 'cert_file and key_file go together: give both or neither',
        path: [v.cert_file ? 'key_file' : 'cert_file'],
      });
  });

export const kafkaSaslOptions = z.strictObject({
  mechanism: z
    .enum(['plain', 'scram-sha-256', 'scram-sha-512'])
    .describe('SASL mechanism (use it with TLS: plain sends the password as is)'),
  username: z.string().min(1).describe('SASL user name'),
  password: z.string().describe('SASL password; write it as ${ENV_VAR} to keep it out of the file. Never logged'),
});

/**
 * Only gzip ships with kafkajs. lz4, snappy and zstd need codec packages whose maintained
 * versions are native addons (or unmaintained), so they are rejected here rather than
 * accepted and failing at the first send.
 */
const COMPRESSION = ['none', 'gzip'] as const;

export const kafkaProducerOptions = z.strictObject({
  key: template()
    .default('{service}/{module}')
    .describe("Record key template: records with the same key go to the same partition, so one module's lines stay in order"),
  compression: z
    .string()
    .default('gzip')
    .superRefine((v, ctx) => {
      if ((COMPRESSION as readonly string[]).includes(v)) return;
      const why = ['lz4', 'snappy', 'zstd'].includes(v)
        ? `"${v}" needs a native codec that this build of Sluice does not include`
        : `unknown compression "${v}"`;
      ctx.addIssue({ code: 'custom', message: `${why}; available: ${COMPRESSION.join(', ')}` });
    })
    .transform((v) => v as (typeof COMPRESSION)[number])
    .describe('Record batch compression: none or gzip'),
  headers: z
    .boolean()
    .default(true)
    .describe(
      'Also put service and module in record headers, so other consumers (Kafka Connect, stream processors) route without parsing the value. kafkajs encodes them slowly: false saves about 40% of produce CPU and 20% of consume CPU where nobody else reads the topic',
    ),
  batch_events: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(2000)
    .describe('Most events taken from the channel and sent in one go (one channel transaction)'),
  batch_bytes: byteSize()
    .default(900 * 1024)
    .describe("Most encoded bytes per produce request; keep it below the broker's message.max.bytes (1 MB by default)"),
  linger: duration().default(5).describe('How long to wait for a fuller batch when the channel holds less than batch_events'),
  request_timeout: duration().default(30_000).describe('How long to wait for a broker to answer a produce request'),
  create_topics: z
    .boolean()
    .default(true)
    .describe('Create topics that do not exist yet, with the partitions and replication_factor below'),
  partitions: z
    .number()
    .int()
    .min(1)
    .default(6)
    .describe('Partitions of topics Sluice creates (more partitions = more collectors can share the work)'),
  replication_factor: z
    .number()
    .int()
    .min(-1)
    .default(-1)
    .describe("Replicas of topics Sluice creates; -1 = the broker's default.replication.factor"),
});

export const kafkaConsumerOptions = z.strictObject({
  group_id: z.string().min(1).default('sluice-collectors').describe('Consumer group: collectors with the same group share the partitions'),
  from_beginning: z
    .boolean()
    .default(true)
    .describe('Where a group with no committed offset starts: the oldest record (true) or only new ones (false)'),
  session_timeout: duration()
    .default(30_000)
    .describe('A collector that sends no heartbeat for this long is dropped from the group and its partitions reassigned'),
  heartbeat_interval: duration().default(3000).describe('How often a collector tells the group it is alive, also while sinks are writing'),
  rebalance_timeout: duration()
    .default(60_000)
    .describe('How long the group waits in a rebalance for members to finish their in-flight batches and commit'),
  max_bytes_per_partition: byteSize()
    .default(1024 * 1024)
    .describe(
      'Most bytes fetched per partition per request (memory held per partition in flight). Larger fetches do not consume faster: kafkajs decodes every record anyway, and bigger batches outlive the young generation and cost more garbage collection',
    ),
  max_bytes: byteSize()
    .default(32 * 1024 * 1024)
    .describe('Most bytes fetched per request'),
  partitions_concurrently: z
    .number()
    .int()
    .min(1)
    .default(4)
    .describe(
      'Partitions whose batches are in flight at the same time: one is decoded while others are being written, so a slow sink does not idle the consumer (each keeps its own order)',
    ),
  max_wait: duration().default(500).describe('How long a fetch waits for new records before returning empty'),
});

export const kafkaBusOptions = z
  .strictObject({
    brokers: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .default(['localhost:9092'])
      .transform((v) =>
        typeof v === 'string'
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : v,
      )
      .describe('Bootstrap brokers, host:port (a list, or one comma-separated string)'),
    topic: topicTemplate
      .default('logs')
      .describe('Topic, fixed ("logs") or from event fields ("logs.{service}"); each value is sanitized to Kafka\'s topic characters'),
    topic_max_distinct: z
      .number()
      .int()
      .min(0)
      .default(100)
      .describe(
        'Most distinct topics a templated topic makes, per agent; later values go to one topic named with "_other" in place of the values, with a warn log line and sluice_template_overflow_events_total. 0 = no limit',
      ),
    client_id: z.string().min(1).default('sluice').describe('Client id the brokers see in their logs and quotas'),
    connection_timeout: duration().default(3000).describe('How long to wait for a TCP (and TLS) connection to a broker'),
    tls: kafkaTlsOptions.optional().describe('TLS to the brokers'),
    sasl: kafkaSaslOptions.optional().describe('SASL authentication'),
    producer: kafkaProducerOptions.default(kafkaProducerOptions.parse({})).describe('Agent side: how events are produced'),
    consumer: kafkaConsumerOptions.default(kafkaConsumerOptions.parse({})).describe('Collector side: the consumer group'),
  })
  .describe('Kafka: the agents produce to a topic, the collectors consume it as one group');

export type KafkaBusOptions = z.infer<typeof kafkaBusOptions>;
export type KafkaProducerOptions = z.infer<typeof kafkaProducerOptions>;
export type KafkaConsumerOptions = z.infer<typeof kafkaConsumerOptions>;

/** One value as a topic-name segment: Kafka's characters only, no "." or ".." on its own. */
export function sanitizeTopicValue(value: string): string {
  const s = value.replace(TOPIC_CHAR, '_');
  return s === '.' || s === '..' ? s.replace(/\./g, '_') : s;
}

/**
 * A whole rendered topic name within Kafka's length limit. A long name is cut and given a
 * hash of the full name, so two long values do not collapse into one topic.
 */
export function limitTopic(topic: string): string {
  if (topic.length <= TOPIC_MAX) return topic;
  const hash = createHash('sha256').update(topic).digest('hex').slice(0, 12);
  return `${topic.slice(0, TOPIC_MAX - 13)}-${hash}`;
}

/**
 * The topic template for producing: each substituted value sanitized, the result within
 * 249 characters, and with `distinct` (`topic_max_distinct`) at most that many topics.
 */
export function topicRenderer(topic: string, distinct?: Omit<DistinctLimitOptions, 'option'>): (event: LogEvent) => string {
  const limit = distinct && distinct.maxDistinct > 0 ? new DistinctLimit({ ...distinct, option: 'bus.topic' }) : undefined;
  const t = new EventTemplate(topic, { ...NO_TIME, sanitize: sanitizeTopicValue, finish: limitTopic, limit });
  return (event) => t.renderCached(event);
}

/** The record key template: values as they are (a key is bytes, not a name). */
export function keyRenderer(key: string): (event: LogEvent) => string {
  const t = new EventTemplate(key, NO_TIME);
  return (event) => t.renderCached(event);
}

/** What a consumer subscribes to: the fixed topic, or every topic the template can produce. */
export function topicSubscription(topic: string): string | RegExp {
  const parts = parseTemplate(topic, NO_TIME);
  if (parts.every((p) => p.kind === 'literal')) return topic;
  return new RegExp(`^${parts.map((p) => (p.kind === 'literal' ? escapeRegExp(p.text) : '[a-zA-Z0-9._-]+')).join('')}$`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The connection part of the options, as the kafkajs client wants it. TLS files are read here, so a missing file fails at start with its path. */
export function kafkaClientConfig(options: KafkaBusOptions, logger: Logger, clientIdSuffix = ''): KafkaConfig {
  const config: KafkaConfig = {
    clientId: `${options.client_id}${clientIdSuffix}`,
    brokers: options.brokers,
    connectionTimeout: options.connection_timeout,
    requestTimeout: options.producer.request_timeout,
    logCreator: pinoLogCreator(logger),
    logLevel: logLevel.INFO,
    // Retries inside kafkajs are kept short: the forwarder and the consumer loop own the
    // "retry forever with capped backoff, log once per state change" policy.
    retry: { initialRetryTime: 300, maxRetryTime: 5000, retries: 5 },
  };
  const tls = options.tls;
  if (tls?.enabled) {
    config.ssl = {
      rejectUnauthorized: tls.reject_unauthorized,
      ...(tls.ca_file ? { ca: [readPem(tls.ca_file, 'tls.ca_file')] } : {}),
      ...(tls.cert_file ? { cert: readPem(tls.cert_file, 'tls.cert_file') } : {}),
      ...(tls.key_file ? { key: readPem(tls.key_file, 'tls.key_file') } : {}),
      ...(tls.server_name ? { servername: tls.server_name } : {}),
    };
  }
  if (options.sasl) {
    config.sasl = { mechanism: options.sasl.mechanism, username: options.sasl.username, password: options.sasl.password } as SASLOptions;
  }
  return config;
}

export function createKafka(options: KafkaBusOptions, logger: Logger, clientIdSuffix = ''): InstanceType<typeof Kafka> {
  return new Kafka(kafkaClientConfig(options, logger, clientIdSuffix));
}

function readPem(file: string, option: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`bus ${option}: cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}

/**
 * kafkajs's own logs through pino at debug level: its retry chatter would otherwise repeat
 * for every attempt while a broker is down. Its log entries carry no credentials (SASL
 * passwords are never part of them), and we drop the stack traces it attaches.
 */
function pinoLogCreator(logger: Logger): logCreator {
  const child = logger.child({ lib: 'kafkajs' });
  return () =>
    ({ level, log }) => {
      const { message, stack: _stack, ...rest } = log as Record<string, unknown> & { message: string };
      delete rest.timestamp;
      delete rest.logger;
      const fields = { namespace: log.namespace, ...rest };
      // Sluice logs the state changes itself (bus down / back); kafkajs's per-attempt lines
      // are detail for debugging.
      if (level <= logLevel.INFO) child.debug(fields, message);
      else child.trace(fields, message);
    };
}

/** Redacts what must never be logged from a bus description. */
export function describeBus(options: KafkaBusOptions): Record<string, unknown> {
  return {
    brokers: options.brokers,
    topic: options.topic,
    client_id: options.client_id,
    tls: options.tls?.enabled ?? false,
    sasl: options.sasl ? { mechanism: options.sasl.mechanism, username: options.sasl.username } : undefined,
  };
}

/** kafkajs wraps the real cause (connection refused, not leader) in retry errors: show the cause. */
export function describeError(err: unknown): string {
  let cur: unknown = err;
  const seen: string[] = [];
  for (let i = 0; i < 5 && cur instanceof Error; i++) {
    if (!seen.includes(cur.message)) seen.push(cur.message);
    cur = (cur as Error & { cause?: unknown; originalError?: unknown }).cause ?? (cur as { originalError?: unknown }).originalError;
  }
  return seen.length > 0 ? seen.join(': ') : String(err);
}
