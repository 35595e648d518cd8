/**
 * The librdkafka client alone, with nothing of Sluice around it: the ceiling `bench bus`
 * sets beside the bus's own figures, so that a run tells how much of a gap to Kafka's Java
 * producer is the client's and how much is Sluice's.
 *
 * - produce: the records' wire bytes made beforehand, handed over with the bus's producer
 *   config, placement and record shape (opaque and service/module headers, as the bus sends
 *   them), on Sluice's producer addon in batches (`addon`, what the bus runs on: produceBatch)
 *   or on the binding's own producer record by record (`as-the-bus`; `bare`: neither opaque
 *   nor headers), rounds of
 *   `round` records, two rounds in flight as the forwarder keeps them, every delivery report
 *   awaited.
 * - consume: `KafkaConsumer.consume` with the bus's fetch config on the addon (what the bus
 *   runs on) or the binding, partitions assigned (no group join), no decoding, no commits.
 */
import type { KafkaBusOptions } from '../../bus/kafka/options.js';
import { connectionConfig, fetchConfig, producerConfig } from '../../bus/kafka/librdkafka/config.js';
import { type NativeError, type NativeMessage, loadBinding, loadNative } from '../../bus/kafka/librdkafka/native.js';
import { Placement } from '../../bus/kafka/placement.js';
import { ProduceBatch } from '../../bus/kafka/librdkafka/produce-batch.js';

export interface AlonePhase {
  seconds: number;
  /** CPU-seconds of this process (librdkafka's threads included). */
  cpuSeconds: number;
}

export interface AloneRecord {
  value: Buffer;
  service: string;
  module: string;
}

/** Produces `records` and waits for every delivery report; fails on the first error. */
export async function produceAlone(
  options: KafkaBusOptions,
  topic: string,
  partitions: number,
  records: readonly AloneRecord[],
  shape: 'addon' | 'as-the-bus' | 'bare',
  round: number,
): Promise<AlonePhase> {
  const native = shape === 'addon' ? loadNative() : loadBinding();
  const producer = new native.Producer(producerConfig({ options, tls: undefined }, '-bench-binding'));
  let reported = 0;
  let failure: NativeError | undefined;
  producer.on('delivery-report', (err) => {
    reported++;
    if (err) failure ??= err;
  });
  await new Promise<void>((resolve, reject) => producer.connect({}, (err) => (err ? reject(err) : resolve())));
  producer.setPollInBackground(true);
  // The addon as the bus's producer uses it: records handed over in batches.
  const batch = new ProduceBatch();
  const handOver = () => {
    const outcome = producer.produceBatch(batch, 0, 0);
    if (outcome.error) throw new Error(`addon produceBatch: ${outcome.error.message}`);
    batch.clear();
  };
  const placement = new Placement();
  const headers = new Map<string, Record<string, Buffer>[]>();
  const partitionOf = new Map<string, number>();
  const until = async (n: number) => {
    while (reported < n && !failure) await new Promise((r) => setTimeout(r, 1));
    if (failure) throw new Error(`binding produce: ${failure.message}`);
  };
  try {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let from = 0; from < records.length; from += round) {
      const to = Math.min(records.length, from + round);
      for (let i = from; i < to; i++) {
        const r = records[i]!;
        const pair = `${r.service}/${r.module}`;
        let partition = partitionOf.get(pair);
        if (partition === undefined) partitionOf.set(pair, (partition = placement.partitionOf(pair, partitions)));
        if (shape === 'bare') {
          producer.produce(topic, partition, r.value, null, null, undefined);
          continue;
        }
        let h = headers.get(pair);
        if (!h) headers.set(pair, (h = [{ service: Buffer.from(r.service) }, { module: Buffer.from(r.module) }]));
        if (shape === 'as-the-bus') producer.produce(topic, partition, r.value, null, null, i, h);
        else {
          batch.add(topic, partition, r.value, null, h, i);
          if (batch.full) handOver();
        }
      }
      if (batch.count > 0) handOver();
      await until(from - round);
    }
    await until(records.length);
    const c = process.cpuUsage(c0);
    return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: (c.user + c.system) / 1e6 };
  } finally {
    await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
  }
}

/** Reads `expected` records of `topic` from its start; the clock starts at the first record. */
export async function consumeAlone(
  options: KafkaBusOptions,
  topic: string,
  partitions: number,
  expected: number,
  round: number,
  client: 'addon' | 'binding',
): Promise<AlonePhase> {
  const native = client === 'addon' ? loadNative() : loadBinding();
  const consumer = new native.KafkaConsumer({
    ...connectionConfig({ options, tls: undefined }, `-bench-${client}`),
    'group.id': `${topic}-${client}-${Date.now()}`,
    'enable.auto.commit': false,
    'auto.offset.reset': 'earliest',
    ...fetchConfig(options.consumer),
  });
  await new Promise<void>((resolve, reject) => consumer.connect({}, (err) => (err ? reject(err) : resolve())));
  try {
    consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
    const take = () =>
      new Promise<NativeMessage[]>((resolve, reject) => consumer.consume(round, (err, m) => (err ? reject(err) : resolve(m))));
    let seen = 0;
    let start: { t: bigint; cpu: NodeJS.CpuUsage; seen: number } | undefined;
    while (seen < expected) {
      const messages = await take();
      if (messages.length > 0 && !start) start = { t: process.hrtime.bigint(), cpu: process.cpuUsage(), seen: messages.length };
      seen += messages.length;
    }
    if (!start || seen === start.seen) throw new Error(`${client} consume: no steady window`);
    const c = process.cpuUsage(start.cpu);
    // Scaled to the whole count, as the bus's consume phases are.
    const share = (seen - start.seen) / expected;
    return { seconds: Number(process.hrtime.bigint() - start.t) / 1e9 / share, cpuSeconds: (c.user + c.system) / 1e6 / share };
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}
