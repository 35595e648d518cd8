import { createHash } from 'node:crypto';
import { z } from 'zod';
import { secret } from '../../core/options/secret.js';
import type { LogEvent } from '../../core/event.js';
import { hostPort } from '../../core/options/address.js';
import { batchOptions } from '../../core/options/batch.js';
import { startAt } from '../../core/options/start-at.js';
import { tlsOptions } from '../../core/options/tls.js';
import {
  EventTemplate,
  literalSegments,
  literalText,
  parseTemplate,
  templateMatcher,
  templatePattern,
  templateProblem,
} from '../../core/template.js';
import { byteSize, duration } from '../../core/units.js';

/**
 * The `bus:` options of `type: kafka`, shared by the agent's producer and the collector's
 * consumer group: one block in one file describes both ends of the same topic(s).
 */

/** Kafka's topic rules: legal characters, and at most 249 of them. */
const TOPIC_CHAR = /[^a-zA-Z0-9._-]/g;
/** One rendered value in a topic name, for a client's regular expression (the complement of TOPIC_CHAR). */
const TOPIC_VALUE = '[a-zA-Z0-9._-]+';
const TOPIC_MAX = 249;
/** What a shortened value ends with: `-` and 12 hex digits of a hash of the full name. */
const HASH_MARK = 13;

/** Whether a character (UTF-16 code) is one of Kafka's topic characters: TOPIC_VALUE's class, a-z A-Z 0-9 . _ -. */
export function isTopicChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 46 || c === 95 || c === 45;
}

/** Topic and key templates: core/template.ts's language, without time tokens (`%` is text). */
export const NO_TIME = { time: false } as const;

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
  const parts = parseTemplate(v, NO_TIME);
  const fixed = literalText(parts);
  const bad = fixed.match(TOPIC_CHAR);
  if (bad)
    ctx.addIssue({
      code: 'custom',
      message: `topic ${JSON.stringify(v)} has characters Kafka does not allow in topic names (${[...new Set(bad)].join(' ')}); use letters, digits, ".", "_" and "-"`,
    });
  const values = literalSegments(parts).length - 1;
  if (fixed.length > TOPIC_MAX)
    ctx.addIssue({ code: 'custom', message: `topic ${JSON.stringify(v)} is longer than Kafka's ${TOPIC_MAX} characters` });
  else if (values > 0 && fixed.length + values + HASH_MARK > TOPIC_MAX)
    ctx.addIssue({
      code: 'custom',
      message: `topic ${JSON.stringify(v)} leaves ${TOPIC_MAX - fixed.length} of Kafka's ${TOPIC_MAX} characters to its values, and a name too long is shortened by cutting them to a character each and adding a ${HASH_MARK}-character hash (${values + HASH_MARK}): shorten its fixed text`,
    });
});

/**
 * The shared `tls:` block (core/options/tls.ts): present means TLS on. `.meta()` makes a
 * copy, so the hints for this bus's former spellings stay out of other components' blocks.
 */
export const kafkaTlsOptions = tlsOptions.meta({
  renamed: { enabled: 'the tls block itself (present: on; remove it for off)', reject_unauthorized: 'verify' },
});

export const kafkaSaslOptions = z.strictObject({
  mechanism: z
    .enum(['plain', 'scram-sha-256', 'scram-sha-512'])
    .describe('SASL mechanism (use it with TLS: plain sends the password as is)'),
  username: z.string().min(1).describe('SASL user name'),
  password: secret(z.string()).describe(
    'SASL password; write it as ${ENV_VAR} to keep it out of the file. Never logged nor shown in errors',
  ),
});

/**
 * gzip works with both clients. lz4 and snappy are built into librdkafka, so they are
 * accepted with `client: librdkafka`; kafkajs would need codec packages whose maintained
 * versions are native addons. zstd is not in this build of librdkafka (no libzstd).
 */
const broker = hostPort({ defaultPort: 9092 });

const COMPRESSION = ['none', 'gzip', 'lz4', 'snappy'] as const;
export const LIBRDKAFKA_ONLY_COMPRESSION: readonly string[] = ['lz4', 'snappy'];

export const kafkaProducerOptions = z
  .strictObject({
    partition_by: template()
      .optional()
      .describe(
        "Which records share a partition: those with the same value of this template, placed where Kafka's keyed partitioner (murmur2) puts a record with that key, so one module's lines stay in order. Default: key when it is set, else {service}/{module}",
      ),
    key: template()
      .optional()
      .describe(
        'Record key template; none by default. With the librdkafka client a key costs about 8% more producer CPU. Without partition_by, records are placed by their key',
      ),
    compression: z
      .string()
      .default('gzip')
      .superRefine((v, ctx) => {
        if ((COMPRESSION as readonly string[]).includes(v)) return;
        const why = v === 'zstd' ? '"zstd" is not in this build of librdkafka' : `unknown compression "${v}"`;
        ctx.addIssue({ code: 'custom', message: `${why}; available: ${COMPRESSION.join(', ')} (lz4 and snappy with client: librdkafka)` });
      })
      .transform((v) => v as (typeof COMPRESSION)[number])
      .describe('Record batch compression: none, gzip, or with client librdkafka also lz4 or snappy'),
    headers: z
      .boolean()
      .default(true)
      .describe(
        'Also put service and module in record headers, so other consumers (Kafka Connect, stream processors) route without parsing the value. They cost CPU in both clients: false saves about 40% of produce and 20% of consume CPU with kafkajs, about 15% and 25% with librdkafka, where nobody else reads the topic',
      ),
    batch: batchOptions({ max_events: 2000, max_bytes: 900 * 1024, timeout: 5, max_events_limit: 100_000 }).describe(
      "How events are grouped: max_events per send (one channel transaction), max_bytes per produce request (keep it below the broker's message.max.bytes, 1 MB by default), and timeout, how long to wait for a fuller send when the channel holds less",
    ),
    request_timeout: duration()
      .default(30_000)
      .describe(
        'How long to wait for a broker to answer a produce request, and the most a send waits for all its records to be acked before it fails and is rolled back into the channel; with librdkafka its records stay queued and retried (the broker drops a copy it already has), and when the events come back they wait for those records instead of being produced again',
      ),
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
  })
  .meta({ renamed: { batch_events: 'batch.max_events', batch_bytes: 'batch.max_bytes', linger: 'batch.timeout' } });

export const kafkaConsumerOptions = z
  .strictObject({
    group_id: z
      .string()
      .min(1)
      .default('sluice-collectors')
      .describe('Consumer group: collectors with the same group share the partitions'),
    start_at: startAt('beginning').describe(
      'Where a partition with no committed offset starts: beginning (its oldest record) or end (only records produced from then on); a committed offset always wins. With end, a topic or partition that appears later (a new service matching a templated topic) also starts at its end, as does a committed offset the topic no longer retains (sinks down for longer than its retention): what was produced before is skipped',
    ),
    session_timeout: duration()
      .default(30_000)
      .describe('A collector that sends no heartbeat for this long is dropped from the group and its partitions reassigned'),
    heartbeat_interval: duration()
      .default(3000)
      .describe('How often a collector tells the group it is alive, also while sinks are writing'),
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
    progress_after: z
      .number()
      .int()
      .min(0)
      .default(100_000)
      .describe(
        'A group at least this many records behind (the lag of all its partitions) is logged with done / total, rate and time left every 10s, and once caught up (under a tenth of it); 0: never',
      ),
  })
  .meta({ renamed: { from_beginning: 'start_at (beginning or end)' } });

/** Which Kafka client library runs the bus; see bus/kafka/client.ts. */
export const KAFKA_CLIENTS = ['auto', 'librdkafka', 'kafkajs'] as const;
export type KafkaClientChoice = (typeof KAFKA_CLIENTS)[number];

export const kafkaBusOptions = z
  .strictObject({
    client: z
      .enum(KAFKA_CLIENTS)
      .default('auto')
      .describe(
        'Kafka client: librdkafka (native, about 3x the throughput per CPU-second; an optional dependency that must have built), kafkajs (pure JavaScript), or auto: librdkafka when it is installed, kafkajs otherwise',
      ),
    brokers: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .default(['localhost:9092'])
      .transform((v, ctx) => {
        const list =
          typeof v === 'string'
            ? v
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean)
            : v;
        // Checked here, not at connect: `localhost` (no port) would otherwise retry forever on "Port should be >= 0".
        for (const [i, b] of list.entries()) {
          const bad = broker.safeParse(b);
          if (!bad.success) ctx.addIssue({ code: 'custom', message: bad.error.issues[0]!.message, path: typeof v === 'string' ? [] : [i] });
        }
        return list;
      })
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
        'Most distinct topics a templated topic makes, per agent; later values go to one topic named with "_other" in place of the values, with a warn log line and sluice_template_overflow_events_total. The combinations of the topics that exist at the first send are admitted first and do not count; 0 = no limit',
      ),
    client_id: z.string().min(1).default('sluice').describe('Client id the brokers see in their logs and quotas'),
    connection_timeout: duration().default(3000).describe('How long to wait for a TCP (and TLS) connection to a broker'),
    tls: kafkaTlsOptions.optional().describe('TLS to the brokers (present: on)'),
    sasl: kafkaSaslOptions.optional().describe('SASL authentication'),
    producer: kafkaProducerOptions.default(kafkaProducerOptions.parse({})).describe('Agent side: how events are produced'),
    consumer: kafkaConsumerOptions.default(kafkaConsumerOptions.parse({})).describe('Collector side: the consumer group'),
  })
  .superRefine((v, ctx) => {
    if (v.client !== 'librdkafka' && LIBRDKAFKA_ONLY_COMPRESSION.includes(v.producer.compression))
      ctx.addIssue({
        code: 'custom',
        path: ['producer', 'compression'],
        message: `compression "${v.producer.compression}" is built into librdkafka only: set client: librdkafka, or use gzip`,
      });
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
 * The topic name the template's fixed text (`segments`: before, between and after its values)
 * and the sanitized values make, within Kafka's length limit. A name that fits is the two
 * joined. A longer one keeps every literal, so the consumers' pattern still matches it, and
 * cuts the values instead: the shorter ones stay whole while each longer one gets an equal
 * share of the room left, and the longest (the last of equally long ones) ends with
 * `-` and a hash of the full name, so two long values never make one topic. Each value keeps
 * a character at least: the topic schema leaves room for that and the hash. A name with one
 * value and nothing after it is cut as it was when the whole name was cut (its first 236
 * characters and the hash), so the topics such long values made then keep their names.
 */
export function limitTopic(segments: readonly string[], values: readonly string[]): string {
  const name = joinTopic(segments, values);
  if (name.length <= TOPIC_MAX) return name;
  let room = TOPIC_MAX - HASH_MARK - segments.reduce((n, s) => n + s.length, 0);
  const byLength = values.map((_, i) => i).sort((a, b) => values[a]!.length - values[b]!.length);
  const kept: number[] = [];
  for (const [rank, i] of byLength.entries()) {
    kept[i] = Math.min(values[i]!.length, Math.floor(room / (values.length - rank)));
    room -= kept[i]!;
  }
  const longest = byLength[byLength.length - 1];
  const hash = createHash('sha256')
    .update(name)
    .digest('hex')
    .slice(0, HASH_MARK - 1);
  return joinTopic(
    segments,
    values.map((v, i) => (i === longest ? `${v.slice(0, kept[i])}-${hash}` : v.slice(0, kept[i]))),
  );
}

function joinTopic(segments: readonly string[], values: readonly string[]): string {
  let name = segments[0]!;
  for (let i = 1; i < segments.length; i++) name += values[i - 1]! + segments[i]!;
  return name;
}

/**
 * The record key template (undefined: records have no key) and the template that places
 * records on partitions. When they are the same, the client's partitioner places records by
 * their key; otherwise the producer computes the partition (placement.ts).
 */
export function recordPlacement(producer: KafkaBusOptions['producer']): { key: string | undefined; partitionBy: string } {
  return { key: producer.key, partitionBy: producer.partition_by ?? producer.key ?? DEFAULT_PARTITION_BY };
}

const DEFAULT_PARTITION_BY = '{service}/{module}';

/** The record key (and partition_by) template: values as they are (a key is bytes, not a name). */
export function keyRenderer(key: string): (event: LogEvent) => string {
  const t = new EventTemplate(key, NO_TIME);
  return (event) => t.renderCached(event);
}

/**
 * A templated topic's subscription: the regular expression a client that subscribes by
 * pattern is given (librdkafka, whose glibc regexec runs it as an automaton), and the test
 * Sluice itself applies to topic names, in one pass (V8's engine backtracks on the pattern).
 */
export interface TopicPattern {
  regex: string;
  matches: (name: string) => boolean;
}

/** What a consumer subscribes to: the fixed topic, or every topic the template can produce. */
export function topicSubscription(topic: string): string | TopicPattern {
  const parts = parseTemplate(topic, NO_TIME);
  if (parts.every((p) => p.kind === 'literal')) return topic;
  return { regex: templatePattern(parts, TOPIC_VALUE), matches: templateMatcher(parts, isTopicChar) };
}

/** Redacts what must never be logged from a bus description. */
export function describeBus(options: KafkaBusOptions): Record<string, unknown> {
  return {
    brokers: options.brokers,
    topic: options.topic,
    client_id: options.client_id,
    tls: options.tls !== undefined,
    sasl: options.sasl ? { mechanism: options.sasl.mechanism, username: options.sasl.username } : undefined,
  };
}
