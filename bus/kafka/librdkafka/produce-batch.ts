/** A record's headers as the bus's producer makes them: one array per service/module, never changed. */
export type HeaderList = Record<string, string | Buffer>[];

/** Numbers per record in ProduceBatch.layout (and the addon's produceBatch). */
export const BATCH_NUMBERS = 8;
/** Where each number is in a record's slots. */
export const SLOT = { TOPIC: 0, PARTITION: 1, VALUE_AT: 2, VALUE_BYTES: 3, KEY_AT: 4, KEY_BYTES: 5, HEADERS: 6, SEQUENCE: 7 } as const;

/** A batch is handed over once it holds this many value bytes or records: its buffers stay small. */
const FLUSH_BYTES = 256 * 1024;
const FLUSH_RECORDS = 1024;
/** A buffer grown past this by one large event is let go at the next batch. */
const KEEP_BYTES = 4 * 1024 * 1024;

/**
 * Records handed to librdkafka in one call (NativeProducer.produceBatch) instead of one call
 * each: a call across to the addon per record, its headers walked element by element, cost
 * 2.3-2.7 µs of the main thread per record, the batch 0.8-0.9 (bus/kafka/README.md,
 * "Throughput"). Values and keys are written back to back into one buffer, the numbers of
 * each record into one Int32Array; topics and headers stay JavaScript values, which the
 * producer turns into its own indexes. Reused from batch to batch: librdkafka copies what it
 * is handed before the call returns.
 */
export class ProduceBatch {
  data: Buffer = Buffer.allocUnsafeSlow(FLUSH_BYTES + 64 * 1024);
  layout = new Int32Array(FLUSH_RECORDS * BATCH_NUMBERS);
  readonly topics: string[] = [];
  readonly headers: (HeaderList | undefined)[] = [];
  count = 0;
  private used = 0;

  /** Whether the batch should be handed over before more is added. */
  get full(): boolean {
    return this.count >= FLUSH_RECORDS || this.used >= FLUSH_BYTES;
  }

  clear(): void {
    // One very large event grew it: not kept for every batch after.
    if (this.data.length > KEEP_BYTES) this.data = Buffer.allocUnsafeSlow(FLUSH_BYTES + 64 * 1024);
    this.count = 0;
    this.used = 0;
    this.topics.length = 0;
    this.headers.length = 0;
  }

  /**
   * Adds a record whose value is `value` (a string as UTF-8) and whose opaque is the send's
   * sequence base plus `sequence`; returns the value's size in bytes.
   */
  add(
    topic: string,
    partition: number | null,
    value: string | Uint8Array,
    key: Buffer | null,
    headers: HeaderList | undefined,
    sequence: number,
  ): number {
    const text = typeof value === 'string';
    const at = this.reserve((text ? value.length * 3 : value.length) + (key?.length ?? 0));
    let valueBytes: number;
    if (text) valueBytes = this.data.write(value, at, 'utf8');
    else {
      this.data.set(value, at);
      valueBytes = value.length;
    }
    let keyAt = at + valueBytes;
    if (key) key.copy(this.data, keyAt);
    else keyAt = -1;
    this.used = at + valueBytes + (key?.length ?? 0);
    const slots = this.count * BATCH_NUMBERS;
    const layout = this.layout;
    layout[slots + SLOT.PARTITION] = partition ?? -1;
    layout[slots + SLOT.VALUE_AT] = at;
    layout[slots + SLOT.VALUE_BYTES] = valueBytes;
    layout[slots + SLOT.KEY_AT] = keyAt;
    layout[slots + SLOT.KEY_BYTES] = key ? key.length : -1;
    layout[slots + SLOT.SEQUENCE] = sequence;
    this.topics.push(topic);
    this.headers.push(headers);
    this.count++;
    return valueBytes;
  }

  /** Where `bytes` more fit: the buffer and the layout grow (a large event, or a full batch not handed over yet). */
  private reserve(bytes: number): number {
    if (this.used + bytes > this.data.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.data.length * 2, this.used + bytes));
      this.data.copy(grown, 0, 0, this.used);
      this.data = grown;
    }
    if ((this.count + 1) * BATCH_NUMBERS > this.layout.length) {
      const grown = new Int32Array(this.layout.length * 2);
      grown.set(this.layout);
      this.layout = grown;
    }
    return this.used;
  }

  /** The value of record `i` (for a producer that takes records one at a time). */
  value(i: number): Uint8Array {
    const slots = i * BATCH_NUMBERS;
    return new Uint8Array(
      this.data.buffer,
      this.data.byteOffset + this.layout[slots + SLOT.VALUE_AT]!,
      this.layout[slots + SLOT.VALUE_BYTES]!,
    );
  }

  /** The key of record `i`, or null. */
  key(i: number): Buffer | null {
    const slots = i * BATCH_NUMBERS;
    const bytes = this.layout[slots + SLOT.KEY_BYTES]!;
    return bytes < 0 ? null : this.data.subarray(this.layout[slots + SLOT.KEY_AT]!, this.layout[slots + SLOT.KEY_AT]! + bytes);
  }
}

/** What produceBatch handed over: records [from, next) were queued; `error` is why record `next` was not (null: all were). */
export interface BatchOutcome<E> {
  next: number;
  error: E | null;
}
