/**
 * Where a keyless record goes: the partition Kafka's keyed partitioner (the Java client's
 * default, kafkajs's default, librdkafka's murmur2_random) would give a record whose key is
 * the `partition_by` value. A module's lines land on one partition, and on the same one as
 * when they carried that key, without the key in every record: the librdkafka binding
 * copies a record's key into a new Buffer for each delivery report and each consumed
 * record, which made keyed records cost a third more CPU to produce (bus/kafka/README.md).
 */

/** Kafka's murmur2 (Utils.murmur2 of the Java client) of the UTF-8 bytes of `text`, as a signed 32-bit integer. */
export function murmur2(text: string): number {
  const data = Buffer.from(text);
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ data.length) | 0;
  const whole = data.length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data.readInt32LE(i);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  // The last one to three bytes, mixed in from the highest down.
  const rest = data.length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[whole + 2]! << 16;
    if (rest >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

/** Distinct values whose hash is kept before the cache starts over (values come from templates and may have many). */
const HASHES_KEPT = 10_000;

/** The partition of each `partition_by` value, its hash computed once per distinct value. */
export class Placement {
  private readonly hashes = new Map<string, number>();

  /** The partition among `partitions` for `value` (Kafka's toPositive(murmur2) % count). */
  partitionOf(value: string, partitions: number): number {
    let hash = this.hashes.get(value);
    if (hash === undefined) {
      if (this.hashes.size >= HASHES_KEPT) this.hashes.clear();
      hash = murmur2(value) & 0x7fffffff;
      this.hashes.set(value, hash);
    }
    return hash % partitions;
  }
}
