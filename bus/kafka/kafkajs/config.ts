import kafkajs from 'kafkajs';
import type { KafkaConfig, SASLOptions, logCreator } from 'kafkajs';
import type { Logger } from '../../../core/log.js';
import type { ClientSetup } from '../client.js';
// Every kafkajs client is configured here: loading this module fixes its idle spin first.
import './request-queue-fix.js';

const { Kafka, logLevel } = kafkajs;

/** The connection part of the options, as kafkajs wants it (TLS files were read by the bus). */
export function kafkaClientConfig(setup: Pick<ClientSetup, 'options' | 'tls' | 'logger'>, clientIdSuffix = ''): KafkaConfig {
  const { options, tls, logger } = setup;
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
  if (tls) {
    config.ssl = {
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(tls.ca ? { ca: [tls.ca] } : {}),
      ...(tls.cert ? { cert: tls.cert } : {}),
      ...(tls.key ? { key: tls.key } : {}),
      ...(tls.servername ? { servername: tls.servername } : {}),
    };
  }
  if (options.sasl) {
    config.sasl = { mechanism: options.sasl.mechanism, username: options.sasl.username, password: options.sasl.password } as SASLOptions;
  }
  return config;
}

export function createKafka(setup: Pick<ClientSetup, 'options' | 'tls' | 'logger'>, clientIdSuffix = ''): InstanceType<typeof Kafka> {
  return new Kafka(kafkaClientConfig(setup, clientIdSuffix));
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
