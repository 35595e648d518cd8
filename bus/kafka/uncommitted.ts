/**
 * Records this collector wrote to its sinks but could not commit the offsets of, per
 * topic-partition. A commit fails when the broker (the group coordinator) is down or the
 * group is rebalancing; the partition is then read again from the last committed offset,
 * usually by this same process once it has rejoined the group. Without this memory every
 * batch written during the outage would be written a second time: in the broker-kill test
 * that was every batch fetched before the broker died and written after (6,000 of 24,000
 * events).
 *
 * A record is only taken as written if the record at that offset is the same event
 * (same id): a topic deleted and recreated under the same name, or offsets reset by an
 * operator, never make the collector skip a record it did not write. Undecodable records
 * have no id and are always delivered again. The memory lives as long as the process: a
 * collector that restarts reads the uncommitted records again (at-least-once).
 */
export class UncommittedWrites {
  private readonly partitions = new Map<string, WrittenRange>();

  constructor(
    /** Most ids remembered per partition; older ones are forgotten (they would be delivered twice, never lost). */
    private readonly maxPerPartition = 100_000,
  ) {}

  /** What this process wrote from `topic`/`partition` and has not committed, if anything. */
  get(topic: string, partition: number): WrittenRange | undefined {
    return this.partitions.get(key(topic, partition));
  }

  /**
   * A batch was written but its commit failed. `offsets[i]` is the offset of the record
   * whose event id is `ids[i]` (null: it had none); offsets may have gaps (compaction,
   * transaction markers), which are remembered as "not written".
   */
  remember(topic: string, partition: number, offsets: readonly string[], ids: readonly (string | null)[]): void {
    if (offsets.length === 0) return;
    const first = BigInt(offsets[0]!);
    const batch: (string | null)[] = new Array<string | null>(Number(BigInt(offsets[offsets.length - 1]!) - first) + 1).fill(null);
    for (let i = 0; i < offsets.length; i++) batch[Number(BigInt(offsets[i]!) - first)] = ids[i] ?? null;
    const k = key(topic, partition);
    const prior = this.partitions.get(k);
    const end = first + BigInt(batch.length);
    let range: WrittenRange;
    if (prior && first <= prior.end && prior.from <= end) {
      // Touching or overlapping what is already remembered, on either side (the batch of a
      // commit answered late may come before batches remembered already): one range, the
      // new batch's ids where the two overlap.
      const from = prior.from < first ? prior.from : first;
      const ids = new Array<string | null>(Number((prior.end > end ? prior.end : end) - from)).fill(null);
      for (let i = 0; i < prior.ids.length; i++) ids[Number(prior.from - from) + i] = prior.ids[i]!;
      for (let i = 0; i < batch.length; i++) ids[Number(first - from) + i] = batch[i]!;
      range = new WrittenRange(topic, partition, from, ids);
    } else {
      range = new WrittenRange(topic, partition, first, batch);
    }
    const excess = range.ids.length - this.maxPerPartition;
    if (excess > 0) range = new WrittenRange(topic, partition, range.from + BigInt(excess), range.ids.slice(excess));
    this.partitions.set(k, range);
  }

  /**
   * The group gave this member `assignment` (topic -> partitions): partitions it no longer
   * owns are read again by their new owner, whatever this process remembers about them.
   */
  retain(assignment: Readonly<Record<string, readonly number[]>>): void {
    for (const [k, range] of this.partitions) if (!assignment[range.topic]?.includes(range.partition)) this.partitions.delete(k);
  }

  /** Offsets below `next` are committed: nothing below it needs remembering. */
  committed(topic: string, partition: number, next: bigint): void {
    const k = key(topic, partition);
    const range = this.partitions.get(k);
    if (!range || next <= range.from) return;
    if (next >= range.end) this.partitions.delete(k);
    else this.partitions.set(k, new WrittenRange(topic, partition, next, range.ids.slice(Number(next - range.from))));
  }
}

export class WrittenRange {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly from: bigint,
    readonly ids: readonly (string | null)[],
  ) {}

  get end(): bigint {
    return this.from + BigInt(this.ids.length);
  }

  /** Whether the event `id` read at `offset` is one this process already wrote. */
  has(offset: bigint, id: string): boolean {
    if (offset < this.from) return false;
    const i = offset - this.from;
    return i < BigInt(this.ids.length) && this.ids[Number(i)] === id;
  }
}

function key(topic: string, partition: number): string {
  return `${partition}:${topic}`;
}
