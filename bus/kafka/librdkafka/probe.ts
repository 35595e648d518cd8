import { sleep } from '../../../core/backoff.js';
import type { Logger } from '../../../core/log.js';
import type { BusHealth } from '../../../core/pipeline.js';
import type { ClientSetup } from '../client.js';
import { connectionConfig } from './config.js';
import { describeNativeError, loadNative, type NativeProducer, releaseFailedConnect } from './native.js';

/**
 * The producer side's reachability for /ready, on librdkafka: an agent whose bus runs on
 * librdkafka then loads no kafkajs at all (kafkajs and an admin connection cost about
 * 12 MiB of RSS). A client of its own, as the kafkajs probe has (the agent's producer
 * connects only when it has something to send), that never produces: the connection
 * options alone, no idempotence, so it asks the brokers for no producer id. One metadata
 * request every `intervalMs`, for the brokers alone (not every topic of the cluster, which
 * is megabytes on a large one); librdkafka reconnects by itself, and a connect that failed
 * is tried again with a new client.
 */
export function startProducerProbe(
  setup: Pick<ClientSetup, 'options' | 'tls'>,
  status: BusHealth,
  logger: Logger,
  intervalMs = 5000,
): { stop(): Promise<void> } {
  const abort = new AbortController();
  // connection_timeout, as the kafkajs probe waits, rather than the producer's longer
  // connectTimeout: a process stopping waits for a connect or request in flight (the
  // binding's threadpool thread), and with the brokers down one nearly always is.
  const timeout = Math.max(1000, setup.options.connection_timeout);
  let client: NativeProducer | undefined;
  const loop = (async () => {
    while (!abort.signal.aborted) {
      try {
        client ??= await connect(setup, timeout, logger);
        // A stop asked for while it connected: no request more to wait for.
        if (abort.signal.aborted) break;
        await metadata(client, timeout);
        status.ok();
      } catch (err) {
        status.failed(new Error(`kafka unreachable: ${describeNativeError(err)}`));
      }
      await sleep(intervalMs, abort.signal);
    }
  })();
  return {
    async stop() {
      abort.abort();
      // A connect or request in flight holds the client (the binding runs it on a threadpool
      // thread): disconnected once it ended, bounded by its timeout.
      await loop;
      if (client) await disconnect(client);
    },
  };
}

function connect(setup: Pick<ClientSetup, 'options' | 'tls'>, timeout: number, logger: Logger): Promise<NativeProducer> {
  return new Promise((resolve, reject) => {
    const client = new (loadNative().Producer)(connectionConfig(setup, '-probe'));
    // Outages are what the failed metadata requests report; librdkafka's own events are detail.
    client.on('event.error', (err) => logger.debug({ err: describeNativeError(err) }, 'librdkafka probe error'));
    client.connect({ timeout }, (err) => {
      if (err) {
        releaseFailedConnect(client);
        reject(err);
        return;
      }
      // Its error events are served as they come, not queued for a poll that never comes.
      client.setPollInBackground(true);
      resolve(client);
    });
  });
}

function metadata(client: NativeProducer, timeout: number): Promise<void> {
  return new Promise((resolve, reject) => client.getMetadata({ timeout, allTopics: false }, (err) => (err ? reject(err) : resolve())));
}

function disconnect(client: NativeProducer): Promise<void> {
  return new Promise((resolve) => {
    try {
      client.disconnect(() => resolve());
    } catch {
      // Already disconnected.
      resolve();
    }
  });
}
