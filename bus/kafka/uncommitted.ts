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
  private readonly partitions = new Map<string, PartitionWrites>();

  constructor(
    /** Most ids remembered per partition; the lowest offsets are forgotten first (they would be delivered twice, never lost). */
    private readonly maxPerPartition = 100_000,
  ) {}

  /** What this process wrote from `topic`/`partition` and has not committed, if anything. */
  get(topic: string, partition: number): PartitionWrites | undefined {
    return this.partitions.get(key(topic, partition));
  }

  /**
   * A batch was written but its commit failed. `offsets[i]` is the offset of the record
   * whose event id is `ids[i]` (null: it had none); offsets may have gaps (compaction,
   * transaction markers), which are remembered as "not written". Failures are not reported
   * in offset order (librdkafka answers a commit made during an outage long after, with
   * the commits of earlier batches answered later still), so a batch joins what it touches
   * and is kept beside what it does not: every batch remembered is skipped when read again.
   */
  remember(topic: string, partition: number, offsets: readonly string[], ids: readonly (string | null)[]): void {
    if (offsets.length === 0) return;
    const first = BigInt(offsets[0]!);
    const batch: (string | null)[] = new Array<string | null>(Number(BigInt(offsets[offsets.length - 1]!) - first) + 1).fill(null);
    for (let i = 0; i < offsets.length; i++) batch[Number(BigInt(offsets[i]!) - first)] = ids[i] ?? null;
    const k = key(topic, partition);
    const ranges = [...(this.partitions.get(k)?.ranges ?? [])];
    let merged = new WrittenRange(topic, partition, first, batch);
    const kept: WrittenRange[] = [];
    for (const r of ranges) {
      if (r.from <= merged.end && merged.from <= r.end) merged = join(r, merged);
      else kept.push(r);
    }
    kept.push(merged);
    kept.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
    let total = 0;
    for (const r of kept) total += r.ids.length;
    // Over the bound: the lowest offsets go first.
    while (total > this.maxPerPartition) {
      const r = kept[0]!;
      const excess = total - this.maxPerPartition;
      if (excess >= r.ids.length) {
        kept.shift();
        total -= r.ids.length;
      } else {
        kept[0] = new WrittenRange(topic, partition, r.from + BigInt(excess), r.ids.slice(excess));
        total -= excess;
      }
    }
    this.partitions.set(k, new PartitionWrites(kept));
  }

  /**
   * The group gave this member `assignment` (topic -> partitions): partitions it no longer
   * owns are read again by their new owner, whatever this process remembers about them.
   */
  retain(assignment: Readonly<Record<string, readonly number[]>>): void {
    for (const [k, writes] of this.partitions) {
      const { topic, partition } = writes.ranges[0]!;
      if (!assignment[topic]?.includes(partition)) this.partitions.delete(k);
    }
  }

  /** Offsets below `next` are committed: nothing below it needs remembering. */
  committed(topic: string, partition: number, next: bigint): void {
    const k = key(topic, partition);
    const writes = this.partitions.get(k);
    if (!writes || next <= writes.ranges[0]!.from) return;
    const kept: WrittenRange[] = [];
    for (const r of writes.ranges) {
      if (next >= r.end) continue;
      kept.push(next <= r.from ? r : new WrittenRange(topic, partition, next, r.ids.slice(Number(next - r.from))));
    }
    if (kept.length === 0) this.partitions.delete(k);
    else this.partitions.set(k, new PartitionWrites(kept));
  }
}

/** The ranges remembered of one partition: disjoint, in offset order, never empty. */
export class PartitionWrites {
  constructor(readonly ranges: readonly WrittenRange[]) {}

  /** Whether the event `id` read at `offset` is one this process already wrote. */
  has(offset: bigint, id: string): boolean {
    for (const r of this.ranges) if (offset < r.end) return r.has(offset, id);
    return false;
  }
}

/** Two ranges that touch or overlap as one; `b`'s ids where they overlap. */
function join(a: WrittenRange, b: WrittenRange): WrittenRange {
  // bigint: Math.min/max do not take them.
  let from = a.from;
  if (b.from < from) from = b.from;
  let end = a.end;
  if (b.end > end) end = b.end;
  const ids = new Array<string | null>(Number(end - from)).fill(null);
  for (let i = 0; i < a.ids.length; i++) ids[Number(a.from - from) + i] = a.ids[i]!;
  for (let i = 0; i < b.ids.length; i++) ids[Number(b.from - from) + i] = b.ids[i]!;
  return new WrittenRange(a.topic, a.partition, from, ids);
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
