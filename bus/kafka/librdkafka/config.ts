import type { ClientSetup } from '../client.js';
import type { Config } from './native.js';

/** The connection part of the options, as librdkafka's properties (TLS files were read by the bus). */
export function connectionConfig(setup: Pick<ClientSetup, 'options' | 'tls'>, clientIdSuffix: string): Config {
  const { options, tls } = setup;
  const sasl = options.sasl;
  const config: Config = {
    'bootstrap.servers': options.brokers.join(','),
    'client.id': `${options.client_id}${clientIdSuffix}`,
    'socket.connection.setup.timeout.ms': Math.max(1000, options.connection_timeout),
    'security.protocol': tls ? (sasl ? 'sasl_ssl' : 'ssl') : sasl ? 'sasl_plaintext' : 'plaintext',
    // Sluice logs the state changes (kafka down / back); a line per closed idle connection is noise.
    'log.connection.close': false,
  };
  if (tls) {
    if (tls.ca) config['ssl.ca.pem'] = tls.ca.toString('utf8');
    if (tls.cert) config['ssl.certificate.pem'] = tls.cert.toString('utf8');
    if (tls.key) config['ssl.key.pem'] = tls.key.toString('utf8');
    config['enable.ssl.certificate.verification'] = tls.rejectUnauthorized;
    config['ssl.endpoint.identification.algorithm'] = tls.rejectUnauthorized ? 'https' : 'none';
  }
  if (sasl) {
    config['sasl.mechanisms'] = sasl.mechanism.toUpperCase();
    config['sasl.username'] = sasl.username;
    config['sasl.password'] = sasl.password;
  }
  return config;
}

/**
 * How long connect() waits for the brokers' metadata. The binding waits on a libuv
 * threadpool thread, which process exit joins: with the brokers unreachable, a 30 s wait
 * (request_timeout, as it was) held every SIGTERM for up to 30 s after the pipeline had
 * stopped, and one of the four threads the channel's file I/O needs. A connect that fails
 * is tried again by the next send or poll.
 */
export function connectTimeout(options: Pick<ClientSetup['options'], 'connection_timeout'>): number {
  return Math.max(5000, options.connection_timeout);
}

/** librdkafka's default batch limit; a larger batch.max_bytes raises the request limit with it. */
const DEFAULT_MESSAGE_MAX_BYTES = 1_000_000;

/** An idempotent, acks=all producer with delivery reports, batching as the options say. */
export function producerConfig(setup: Pick<ClientSetup, 'options' | 'tls'>, clientIdSuffix: string): Config {
  const p = setup.options.producer;
  const config: Config = {
    ...connectionConfig(setup, clientIdSuffix),
    'enable.idempotence': true,
    acks: 'all',
    'compression.codec': p.compression,
    'linger.ms': p.batch.timeout,
    'batch.size': p.batch.max_bytes,
    'request.timeout.ms': p.request_timeout,
    // Never given up by librdkafka: a record it times out may have been appended all the
    // same, and sent again it would get a new sequence number, a duplicate the broker
    // cannot drop. The send's wait is bounded by the producer instead (StalledRecords).
    'message.timeout.ms': 0,
    // A send never overflows the local queue (it holds one channel transaction at a time).
    'queue.buffering.max.messages': Math.max(100_000, 2 * p.batch.max_events),
    // The partitioner of the Java client and kafkajs: a key lands on the same partition
    // whichever client produced it, so a module's lines stay in order across a switch.
    partitioner: 'murmur2_random',
    // Topics are created by the producer (create_topics) with the partitions asked for, or not at all.
    'allow.auto.create.topics': false,
    dr_cb: true,
  };
  if (p.batch.max_bytes > DEFAULT_MESSAGE_MAX_BYTES) config['message.max.bytes'] = p.batch.max_bytes + 64 * 1024;
  return config;
}

/** How soon librdkafka fetches again for a partition whose prefetched records filled their bound. */
const FETCH_QUEUE_BACKOFF_MS = 10;

/** How the consumer fetches, as the options say (also what `bench bus` gives the bare binding it compares with). */
export function fetchConfig(c: ClientSetup['options']['consumer']): Config {
  return {
    'fetch.max.bytes': c.max_bytes,
    'max.partition.fetch.bytes': c.max_bytes_per_partition,
    'message.max.bytes': Math.min(1_000_000, c.max_bytes),
    'receive.message.max.bytes': Math.max(100_000_000, c.max_bytes + 512),
    'fetch.wait.max.ms': c.max_wait,
    // What librdkafka prefetches in the background is bounded like one fetch.
    'queued.max.messages.kbytes': Math.max(1024, Math.ceil(c.max_bytes / 1024)),
    // Once that is full, librdkafka looks again after this long (default 1 s) before fetching
    // more: a collector that drains the prefetched records faster than that sat idle for the
    // rest of each second. Read alone on the addon, 111 -> 308 MiB/s (bench/HISTORY.md).
    'fetch.queue.backoff.ms': FETCH_QUEUE_BACKOFF_MS,
  };
}
