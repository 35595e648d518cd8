import kafkajs, { type Admin } from 'kafkajs';
import { sleep } from '../../core/backoff.js';
import type { Logger } from '../../core/log.js';
import { gauge } from '../../core/metrics.js';
import type { BusHealth } from '../../core/pipeline.js';
import { BacklogProgress } from '../../core/progress.js';
import type { ClientSetup } from './client.js';
import { kafkaClientConfig } from './kafkajs/config.js';
import { type KafkaBusOptions, topicSubscription } from './options.js';

const { Kafka } = kafkajs;

/**
 * Whether the Kafka bus is reachable, for /ready, on kafkajs (an agent on librdkafka uses
 * librdkafka/probe.ts instead): the producer connects only when it has
 * something to send and the consumer says nothing while idle, so an idle agent would
 * otherwise look connected to a dead cluster. One metadata request every `intervalMs` on a
 * connection of its own, no retries inside kafkajs (a failure is an answer).
 *
 * On a collector the same connection measures the consumer group's lag: for every
 * partition of the subscribed topics, the newest offset minus the group's committed one.
 */
export const consumerLag = gauge(
  'sluice_bus_consumer_lag_records',
  "Records of a partition not yet consumed by the collectors' group (newest offset minus committed offset)",
  ['component', 'topic', 'partition'],
  { aggregator: 'max' },
);

export interface BusProbe {
  stop(): Promise<void>;
}

export function startBusProbe(
  setup: Pick<ClientSetup, 'options' | 'tls'>,
  status: BusHealth,
  logger: Logger,
  side: 'producer' | 'consumer',
  intervalMs = 5000,
): BusProbe {
  const abort = new AbortController();
  const options = setup.options;
  const kafka = new Kafka({ ...kafkaClientConfig({ ...setup, logger }, '-probe'), retry: { retries: 0 } });
  let admin: Admin | undefined;
  const behind = side === 'consumer' ? new GroupBacklog(logger, options.consumer.progress_after) : undefined;
  const loop = (async () => {
    while (!abort.signal.aborted) {
      try {
        if (!admin) {
          admin = kafka.admin({ retry: { retries: 0 } });
          await admin.connect();
          // A stop asked for while it connected: no request more to wait for.
          if (abort.signal.aborted) break;
        }
        await admin.describeCluster();
        status.ok();
        if (behind) behind.update(Date.now(), await measureLag(admin, options));
      } catch (err) {
        status.failed(new Error(`kafka unreachable: ${err instanceof Error ? err.message : String(err)}`));
        const a = admin;
        admin = undefined;
        await a?.disconnect().catch(() => undefined);
      }
      await sleep(intervalMs, abort.signal);
    }
  })();
  return {
    async stop() {
      abort.abort();
      await loop;
      await admin?.disconnect().catch(() => undefined);
    },
  };
}

interface GroupPosition {
  /** Records behind, over every partition. */
  lag: number;
  /** Committed offsets summed over every partition: how far it moved is what was consumed. */
  committed: number;
  partitions: number;
}

/** Sets the per-partition lag gauges and returns the group's totals. */
async function measureLag(admin: Admin, options: KafkaBusOptions): Promise<GroupPosition> {
  const position: GroupPosition = { lag: 0, committed: 0, partitions: 0 };
  const subscription = topicSubscription(options.topic);
  const topics = typeof subscription === 'string' ? [subscription] : (await admin.listTopics()).filter(subscription.matches);
  if (topics.length === 0) return position;
  try {
    const committed = await admin.fetchOffsets({ groupId: options.consumer.group_id, topics });
    for (const { topic, partitions } of committed) {
      const newest = await admin.fetchTopicOffsets(topic);
      for (const p of newest) {
        const c = partitions.find((x) => x.partition === p.partition);
        const high = BigInt(p.high);
        // No committed offset yet: the group starts from the oldest record (start_at: beginning) or the newest.
        const from = c && c.offset !== '-1' ? BigInt(c.offset) : options.consumer.start_at === 'beginning' ? BigInt(p.low) : high;
        const lag = high > from ? Number(high - from) : 0;
        consumerLag.set({ component: 'bus', topic, partition: String(p.partition) }, lag);
        position.lag += lag;
        position.committed += Number(from);
        position.partitions++;
      }
    }
  } catch (err) {
    // A fixed topic not created yet (agents create it with their first record) has no lag;
    // the broker says UNKNOWN_TOPIC_OR_PARTITION when asked for its offsets, and that is no
    // outage. Asking for the list of topics first would cost a metadata request for the
    // whole cluster every round.
    if (typeof subscription === 'string' && isUnknownTopic(err)) return position;
    throw err;
  }
  return position;
}

/** kafkajs's protocol error for a topic the cluster does not have, however it is wrapped. */
function isUnknownTopic(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause)
    if ((e as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
  return false;
}

/**
 * A collector group far behind (a backlog after an outage, or more traffic than it keeps up
 * with) says so in the log with done / total, rate and time left, as the file source does
 * for its files; caught up once under a tenth of `progress_after`. Progress is what the
 * group committed since, whichever member did it.
 */
export class GroupBacklog {
  private readonly progress: BacklogProgress;
  private committed: number | undefined;

  constructor(
    logger: Logger,
    private readonly after: number,
    every?: number,
  ) {
    this.progress = new BacklogProgress(
      logger,
      'records',
      after,
      { begin: 'consumer group behind', during: 'consumer group catching up', end: 'consumer group caught up' },
      every,
    );
  }

  update(now: number, position: GroupPosition): void {
    // A committed offset that moved back (a topic recreated, offsets reset) is no progress.
    const done = this.committed === undefined ? 0 : Math.max(0, position.committed - this.committed);
    this.committed = position.committed;
    this.progress.update(now, position.lag, done, position.lag < this.after / 10, { partitions: position.partitions });
  }
}
