import type { LogEvent } from './event.js';
import type { Logger } from './log.js';

/**
 * The component contract. Every hop hands data on and only then lets the previous hop
 * forget it; the types carry that promise:
 *
 *   Source --put(events, checkpoint)--> Channel       put resolves once the events are durable
 *   Channel --take()--> Transaction --> bus sink      commit() only after Kafka acked them all
 *   bus source --AckableBatch--> Sink(s)              ack() only after every sink wrote durably
 */

/**
 * A source's position, carried in the same durable write as the batch it covers, so a
 * crash between "channel has the events" and "source saved its position" cannot repeat
 * or lose lines: on restart the source takes the newest checkpoint the channel recovered.
 * `seq` grows with every checkpoint a source emits; `state` is the source's own JSON.
 */
export interface SourceCheckpoint {
  source: string;
  seq: number;
  /**
   * The source's own JSON: its whole state, or with `patch` a JSON Merge Patch (RFC 7386)
   * of it. A source tracking many files changes few of them per put, and a whole state in
   * every record made the checkpoints most of what a trickle of lines wrote to disk.
   */
  state: unknown;
  /**
   * `state` is a merge patch to apply to the state of the checkpoint with seq `base` of the
   * same `run`: this source's previous checkpoint in the same channel, the newest one it
   * accepted. A channel applies patches in put order (core/checkpoint-patch.ts) and keeps
   * whole states. When the checkpoint a patch applies to is not the one it holds (the
   * record that carried it was damaged, or is gone), it keeps the one it holds, older,
   * until the next whole one: never a state mixing positions of different times, never
   * none (a source with none would start as on its first run).
   */
  patch?: true;
  /** With `patch`: the seq of the checkpoint it applies to. */
  base?: number;
  /**
   * Which run of the source made it (a random id per start): a patch applies only to a
   * checkpoint of its own run, so seqs counted again after a restart never match one
   * counted before.
   */
  run?: string;
}

/**
 * Why put() refused a batch while the agent stops: it would have had to wait (for room, or
 * for a failing disk) and stopping cannot wait for that. Nothing of the batch was stored;
 * a source treats it as "stopping" and keeps its position, so the batch is read again on
 * the next start.
 */
export class PutAbortedError extends Error {
  override readonly name = 'PutAbortedError';
}

/** What a source sees of the channel. */
export interface ChannelWriter {
  /**
   * Appends events (and optionally the position they bring the source to). Resolves only
   * once they are durable as the channel defines it; waits while the channel is full —
   * that wait is the source's backpressure. Rejects with PutAbortedError when the agent
   * stops while it waits (Channel.abortWaitingPuts), or `signal` aborts while it waits (its
   * source stops on its own: a reload removed or replaced it); a put admitted is stored.
   */
  put(events: LogEvent[], checkpoint?: SourceCheckpoint, signal?: AbortSignal): Promise<void>;
  /**
   * The newest checkpoint this source put that the channel holds (recovered after a
   * restart), always whole: the patches put after a whole state are merged into it.
   */
  lastCheckpoint(source: string): SourceCheckpoint | undefined;
}

/**
 * A batch taken from the channel: it stays owned by the channel until commit(). Several
 * may be open at once (taken one after another); they commit in the order they were taken.
 */
export interface Transaction {
  readonly events: readonly LogEvent[];
  /**
   * Releases the events for good: the next hop has them durably. Only once every
   * transaction taken before it has committed. A rejection (the channel could not record
   * it, e.g. a full disk) leaves the transaction open: commit it again, never resend it.
   */
  commit(): Promise<void>;
  /**
   * Gives the events back for redelivery, in the same order, before anything newer —
   * together with those of every transaction taken after it, which can then no longer be
   * committed (their rollback is a no-op).
   */
  rollback(): Promise<void>;
}

export interface Channel extends ChannelWriter {
  open(): Promise<void>;
  /**
   * Takes up to `max` events after those of the open transactions. Waits until at least
   * one is available or `signal` aborts (then resolves with an empty transaction). The
   * forwarder is the only taker, with one take at a time; it may keep several transactions
   * open (a pipeline), committing them in take order.
   */
  take(max: number, signal?: AbortSignal): Promise<Transaction>;
  /**
   * The agent is stopping: puts waiting for room (or for a failing disk), and later puts
   * that would wait, reject with PutAbortedError instead; puts that fit are still stored.
   * Takes and commits go on, so what is buffered can still be forwarded.
   */
  abortWaitingPuts(): void;
  /** What is buffered and not yet committed (taken-but-uncommitted included): for draining on shutdown and status. */
  stats(): { events: number; bytes: number };
  close(): Promise<void>;
}

export interface Source {
  start(out: ChannelWriter): Promise<void>;
  /** Stops reading; resolves when no put is in flight any more. */
  stop(): Promise<void>;
}

/** A batch handed from a bus source to the collector, with the acknowledgement that lets the bus forget it. */
export interface AckableBatch {
  readonly events: readonly LogEvent[];
  /**
   * The ordered stream of the bus the batch was read from (Kafka: `topic+partition`), when
   * the bus has several and a group of collectors shares them: the unit a rebalance moves
   * from one collector to another. A sink that must hand a stream over without writing it
   * twice (the webhdfs sink) keeps its resume point per lane. Absent: one stream, one reader.
   */
  readonly lane?: string;
  /** Every sink that received the batch has written it durably: the bus may commit its offsets. */
  ack(): Promise<void>;
}

/** An event a sink's destination refused for good (it would fail the same way every time), with why. */
export interface SinkRefusal {
  event: LogEvent;
  /** What refused it: the path, the index, the status (the collector adds the sink's name). */
  reason: string;
}

/**
 * What a sink did with a batch, event by event: every event of the batch not listed here is
 * durably stored. `refused` events go to the collector's dead-letter with their reason;
 * `retry` events (the destination could not take them now: a 429, a busy node) are written
 * again by the collector after its backoff. The sink itself never loops on a failure.
 */
export interface WriteResult {
  readonly refused: readonly SinkRefusal[];
  readonly retry: readonly LogEvent[];
}

/** The whole batch is stored. */
export const WRITTEN: WriteResult = Object.freeze({ refused: [], retry: [] });

export interface Sink {
  open(): Promise<void>;
  /**
   * Resolves once every event of the batch is durably stored, refused or to be retried, as
   * the result says (file fsync'd, every bulk item settled). A rejection means the
   * destination is down and nothing of the batch is known stored: the collector, the only
   * retry owner, writes the whole batch again after its backoff (writes are idempotent by
   * event id, so what did get through is not duplicated). `lane`: the batch's AckableBatch.lane,
   * for sinks that track lanes (others ignore it).
   */
  write(batch: readonly LogEvent[], lane?: string): Promise<WriteResult>;
  close(): Promise<void>;
}

/** What every component is given when it is created. */
export interface ComponentContext {
  /** The component's name in the config (the key under sources:, sinks:, ...). */
  name: string;
  logger: Logger;
  /** Directory for the component's own state (checkpoints, buffers); created by the runtime. */
  dataDir: string;
  /** Host name stamped on events. */
  host: string;
  /**
   * The process's bus, for a component that writes to it outside the event flow (a
   * dead-letter on a topic); absent where the component has no business with it.
   */
  bus?: Bus;
  /**
   * This process's index among a collector's workers (`--workers N`), which share one config
   * and data directory; undefined when it runs alone. A component that appends to a local
   * file of its own (the file dead-letter) keeps one per worker.
   */
  worker?: number;
}

/**
 * The agent's side of the bus (Kafka producer, or the in-process bus of `sluice run`).
 * The agent's forwarder takes a transaction from the channel, sends its events, and
 * commits the transaction only when send() resolved.
 */
export interface BusProducer {
  /**
   * How the forwarder groups events for this producer: at most `maxEvents` per send (one
   * channel transaction), and while the channel holds fewer, up to `timeoutMs` of waiting
   * for a fuller send (0: never wait). Absent: the forwarder's defaults (2,000, no wait).
   */
  readonly batch?: { readonly maxEvents: number; readonly timeoutMs: number };
  open(): Promise<void>;
  /**
   * Resolves only when every event is settled: the bus holds it durably (Kafka: acks=all),
   * or the bus refused it for good and BusProducerOptions.refused has kept it durably.
   */
  send(events: readonly LogEvent[]): Promise<void>;
  close(): Promise<void>;
  /**
   * How many send() calls may be outstanding at once: the forwarder keeps up to that many
   * in flight (each settling on its own, committed in order). Absent: 1, one at a time.
   */
  readonly maxInFlight?: number;
}

/**
 * An event the bus refused for good, not for an outage (Kafka: the record is too large for
 * the topic, invalid, or the topic may not be written): sending it again would fail again.
 */
export interface RefusedEvent {
  /** What the bus said, with its error name (e.g. "MESSAGE_TOO_LARGE: ..."). */
  reason: string;
  topic: string;
  /** The size of the record's value as sent. */
  bytes: number;
  event: LogEvent;
}

export interface BusProducerOptions {
  /**
   * Where events the bus refused for good go (the agent's dead-letter). Resolving means they
   * are durably kept, so send() may resolve and the channel commit past them; without it
   * such an event fails its send (never dropped silently).
   */
  refused?: (events: readonly RefusedEvent[]) => Promise<void>;
}

/** A bus record that is not a Sluice event, with where it was read: what the dead-letter keeps of it. */
export interface UndecodableRecord {
  reason: string;
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  /** The raw value, as received (null: a tombstone). */
  value: Buffer | null;
}

export interface BusConsumerOptions {
  /**
   * Where records that do not decode go. Resolving means they are durably kept, so the bus
   * may commit past them; without it such a record fails its batch (never skipped silently).
   */
  undecodable?: (records: readonly UndecodableRecord[]) => Promise<void>;
}

/** The collector's side of the bus. */
export interface BusConsumer {
  /**
   * Starts delivering batches. `deliver` resolving means the batch was taken on; the bus
   * may forget it (commit offsets) only once the batch's ack() has resolved.
   */
  start(deliver: (batch: AckableBatch) => Promise<void>): Promise<void>;
  /** Stops fetching; resolves after the batches in flight were acked (or given up uncommitted). */
  stop(): Promise<void>;
}

/** One record written as is to a topic of the bus (a dead-letter entry). */
export interface BusRecord {
  key: string | Buffer | null;
  value: string | Buffer;
  headers?: Record<string, string>;
  /**
   * The same for the same record written again after a failed write (its value may differ:
   * a dead-letter entry carries the time it was written), so a client that still holds the
   * first copy waits for it instead of appending a second. Absent: every write is new.
   */
  id?: string;
}

/**
 * A record the bus refused for good (Kafka: too large for the topic, invalid, a topic it may
 * not write): written again, it would be refused again.
 */
export interface BusRecordRefusal {
  /** The record's place in the write. */
  index: number;
  /** The bus's name for the refusal (e.g. MESSAGE_TOO_LARGE): the first word of `reason`. */
  error: string;
  /** What the bus said, with its error name ("MESSAGE_TOO_LARGE: ..."). */
  reason: string;
}

/** What a write did: every record not listed in `refused` is held durably by the bus. */
export interface BusRecordWriteResult {
  readonly refused: readonly BusRecordRefusal[];
}

/** Durable writes to one topic of the bus, outside the event flow (the collector's dead-letter). */
export interface BusRecordWriter {
  /**
   * Resolves once the bus holds every record durably (Kafka: acks=all) but those it refused
   * for good, listed in the result: the bus does not have them, and the caller keeps them
   * elsewhere. Rejects when the bus could not take the records now (a broker down): the
   * caller writes them again, and records with an id the bus acked before the failure are
   * not written a second time.
   */
  write(records: readonly BusRecord[]): Promise<BusRecordWriteResult>;
  close(): Promise<void>;
}

/** Where a bus reports whether it is reachable (the api's readiness). */
export interface BusHealth {
  ok(): void;
  failed(err: unknown): void;
}

/** What a `bus:` component creates: either side, for the agent or the collector. */
export interface Bus {
  producer(options?: BusProducerOptions): BusProducer;
  consumer(options?: BusConsumerOptions): BusConsumer;
  /** A writer to `topic` on this bus; absent on a bus without topics (the in-process bus). */
  recordWriter?(topic: string): BusRecordWriter;
  /**
   * Checks now and then that the bus is reachable, for readiness, as `side` uses it (a
   * consumer also reports its group's lag); absent on a bus that cannot be unreachable.
   */
  probe?(side: 'producer' | 'consumer', health: BusHealth, logger: Logger): { stop(): Promise<void> };
}
