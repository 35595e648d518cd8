import type { Counter } from 'prom-client';
import type { LogEvent } from '../core/event.js';
import { counter, histogram } from '../core/metrics.js';
import {
  type BusProducer,
  type Channel,
  type ChannelWriter,
  PutAbortedError,
  type SourceCheckpoint,
  type Transaction,
} from '../core/pipeline.js';
import type { DeadLetter, DeadLetterEntry } from '../core/dead-letter.js';
import type { ComponentStatus } from '../api/readiness.js';
import type { Taps } from '../api/tap.js';

/**
 * The metrics every component has, emitted by the runtime around it rather than by each
 * implementation, so that they mean the same everywhere (after Vector's component spec):
 *
 *   sluice_component_received_events_total   events a component accepted from the hop before
 *   sluice_component_received_bytes_total
 *   sluice_component_sent_events_total       events the next hop accepted from it
 *   sluice_component_sent_bytes_total
 *   sluice_component_errors_total{stage}     receiving | processing | sending
 *   sluice_component_discarded_events_total{reason}  truncated | unrouted | rejected | undecodable
 *
 * labelled component (`sources.app`, `channel`, `bus`, `routes`, `sinks.es`, `dead-letter`,
 * the names in the logs), kind (source, channel, bus, router, sink, dead_letter) and type
 * (file, disk, kafka, ...).
 *
 * Bytes are the events' message text in UTF-16 code units — exact for ASCII, an estimate
 * beyond. Measured the same way at every hop, so bytes in and out compare across hops;
 * exact UTF-8 counting (Buffer.byteLength) costs ~200 ns per event per hop, more than the
 * whole budget of this instrumentation. Wire bytes are in the type-specific series
 * (sluice_bus_produced_bytes_total, sluice_file_sink_bytes_total, ...).
 */
export interface ComponentId {
  component: string;
  kind: string;
  type: string;
}

const LABELS = ['component', 'kind', 'type'] as const;

const families = {
  receivedEvents: counter('sluice_component_received_events_total', 'Events a component accepted from the hop before it', LABELS),
  receivedBytes: counter('sluice_component_received_bytes_total', 'Message bytes of the events a component accepted', LABELS),
  sentEvents: counter('sluice_component_sent_events_total', 'Events the next hop accepted from a component', LABELS),
  sentBytes: counter('sluice_component_sent_bytes_total', 'Message bytes of the events the next hop accepted', LABELS),
  errors: counter('sluice_component_errors_total', 'Failed operations of a component, by stage (receiving, processing, sending)', [
    ...LABELS,
    'stage',
  ]),
  discarded: counter(
    'sluice_component_discarded_events_total',
    'Events a component did not hand on, or cut, by reason (truncated, unrouted, rejected, undecodable); dead-lettered ones are kept there',
    [...LABELS, 'reason'],
  ),
};

/**
 * End-to-end delivery latency, per sink: the time a sink finished writing an event minus
 * the time that event was read, both taken in this process with the monotonic clock.
 *
 * Where the read time travels: in memory only (the Map below), never on the wire.
 * Putting it in the event would add ~20 bytes to every event on disk and on Kafka (a new
 * slot in the disk channel's binary layout, a key in the agent/collector contract) for a
 * metric; and across hosts the difference of two wall clocks is NTP skew as much as
 * latency. So one process measures what it can measure exactly:
 *
 * - `sluice run`: source read → sink written (since="source_read"), the real end to end;
 * - an agent: source read → Kafka acknowledged (component "bus", since="source_read");
 * - a collector: received from Kafka → sink written (since="bus_receive"); the time spent
 *   in Kafka between the two is the consumer lag.
 *
 * Only the first event of each batch carries a read time (one entry per batch, not per
 * event): the latency is sampled per batch. The entry is keyed by the event's id, not by the
 * object: the disk channel decodes what it hands the taker into new objects (it keeps no
 * decoded events, agent/channel/README.md), with the same ids. The newest STAMPS_KEPT
 * batches are remembered (a stamp serves every sink that writes the event, so delivering
 * does not remove it); older ones, and those from before a restart, are not observed.
 */
export const deliveryLatency = histogram(
  'sluice_delivery_latency_seconds',
  'Time from an event being read (since="source_read") or received from the bus (since="bus_receive") to being written by a sink or acknowledged by the bus',
  [...LABELS, 'since'],
  [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
);

type Since = 'source_read' | 'bus_receive';
/** Batches whose read time is remembered: minutes of batches at full speed, in well under a MiB. */
export const STAMPS_KEPT = 4096;
/** By event id, oldest first (a Map iterates in insertion order). */
const readAt = new Map<string, { at: number; since: Since }>();
/**
 * How many stamped ids fall in each bucket of idBucket. Every delivered event is looked for:
 * hashing a whole id the disk channel just decoded (a new string) for the Map cost ~200 ns,
 * a few per cent of `sluice run`; an empty bucket rules an id out in a fraction of that.
 */
const stampBuckets = new Uint16Array(1 << 16);

/** A bucket from an id's length and last characters: where ids of one source differ (a file offset, a position). */
function idBucket(id: string): number {
  const n = id.length;
  let h = n;
  for (let i = n > 6 ? n - 6 : 0; i < n; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) | 0;
  return (h ^ (h >>> 16)) & 0xffff;
}

/** Stamps a batch with the time it was read (or received), unless an earlier hop in this process already did. */
export function markRead(events: readonly LogEvent[], since: Since): void {
  const first = events[0];
  if (first === undefined || readAt.has(first.id)) return;
  if (readAt.size >= STAMPS_KEPT) {
    const oldest = readAt.keys().next().value!;
    readAt.delete(oldest);
    stampBuckets[idBucket(oldest)]!--;
  }
  readAt.set(first.id, { at: performance.now(), since });
  stampBuckets[idBucket(first.id)]!++;
}

function messageBytes(events: readonly LogEvent[]): number {
  let n = 0;
  for (let i = 0; i < events.length; i++) n += events[i]!.message.length;
  return n;
}

type Child = ReturnType<Counter<string>['labels']>;

/** One component's series, bound once so that the hot path does no label lookups. */
export class ComponentMeter {
  private readonly rEvents: Child;
  private readonly rBytes: Child;
  private readonly sEvents: Child;
  private readonly sBytes: Child;

  constructor(readonly id: ComponentId) {
    this.rEvents = families.receivedEvents.labels(id);
    this.rBytes = families.receivedBytes.labels(id);
    this.sEvents = families.sentEvents.labels(id);
    this.sBytes = families.sentBytes.labels(id);
    // Present from the start at 0, so a rate() works before the first event.
    for (const stage of ['receiving', 'processing', 'sending']) families.errors.labels({ ...id, stage }).inc(0);
  }

  received(events: readonly LogEvent[]): void {
    this.rEvents.inc(events.length);
    this.rBytes.inc(messageBytes(events));
  }

  sent(events: readonly LogEvent[]): void {
    this.sEvents.inc(events.length);
    this.sBytes.inc(messageBytes(events));
  }

  /** For what is not a batch of events (dead-letter entries, some of them raw records): `count` items, `bytes` in all. */
  receivedItems(count: number, bytes: number): void {
    this.rEvents.inc(count);
    this.rBytes.inc(bytes);
  }

  sentItems(count: number, bytes: number): void {
    this.sEvents.inc(count);
    this.sBytes.inc(bytes);
  }

  error(stage: 'receiving' | 'processing' | 'sending'): void {
    families.errors.labels({ ...this.id, stage }).inc();
  }

  discarded(reason: string, count: number): void {
    if (count > 0) families.discarded.labels({ ...this.id, reason }).inc(count);
  }

  /** Observes the delivery latency of the stamped events of a batch that was just delivered. */
  delivered(events: readonly LogEvent[]): void {
    const now = performance.now();
    for (let i = 0; i < events.length; i++) {
      const id = events[i]!.id;
      if (stampBuckets[idBucket(id)] === 0) continue;
      const t = readAt.get(id);
      if (t !== undefined) deliveryLatency.labels({ ...this.id, since: t.since }).observe((now - t.at) / 1000);
    }
  }

  /** Forgets the component's series (removed by a reload): top and dashboards stop showing it. */
  async remove(): Promise<void> {
    for (const metric of [...Object.values(families), deliveryLatency]) {
      const { values } = await metric.get();
      for (const value of values) {
        const labels = value.labels as Record<string, string | number>;
        if (labels.component !== this.id.component || labels.kind !== this.id.kind || labels.type !== this.id.type) continue;
        // Histogram buckets carry `le`; the series is removed by its own labels.
        const { le: _le, ...own } = labels;
        metric.remove(own);
      }
    }
  }
}

/**
 * What a source writes to: the channel (or, when transforms run, the first transform),
 * with the source's metrics, read-time stamp and tap around it. A put that failed is
 * retried by the source with the same batch: its events are counted as received once.
 */
export function meteredWriter(
  out: ChannelWriter,
  meter: ComponentMeter,
  status: ComponentStatus,
  taps: Taps,
  tapPoint: string,
): ChannelWriter {
  let failedBatch: LogEvent[] | undefined;
  const storedOf = (out as { stored?: (events: LogEvent[]) => readonly LogEvent[] | undefined }).stored;
  return {
    lastCheckpoint: (source) => out.lastCheckpoint(source),
    async put(events: LogEvent[], checkpoint?: SourceCheckpoint, signal?: AbortSignal): Promise<void> {
      if (events !== failedBatch) {
        meter.received(events);
        markRead(events, 'source_read');
        let truncated = 0;
        for (let i = 0; i < events.length; i++) if (events[i]!.fields['log.truncated'] === true) truncated++;
        meter.discarded('truncated', truncated);
      }
      try {
        await out.put(events, checkpoint, signal);
      } catch (err) {
        failedBatch = events;
        // Aborted because the agent stops: not a failure, the source reads the batch again.
        if (err instanceof PutAbortedError) throw err;
        meter.error('sending');
        status.failed(err);
        throw err;
      }
      failedBatch = undefined;
      meter.sent(events);
      status.ok();
      // What went into the channel: after the transforms, so a redacted secret stays redacted.
      if (taps.listening(tapPoint)) taps.publish(tapPoint, storedOf?.(events) ?? events);
    },
  };
}

/** The channel with its metrics: received = put durably, sent = committed by the bus side. */
export class MeteredChannel implements Channel {
  constructor(
    readonly inner: Channel,
    private readonly meter: ComponentMeter,
    private readonly status: ComponentStatus,
  ) {}

  async open(): Promise<void> {
    await this.inner.open();
    this.status.running();
  }

  lastCheckpoint(source: string): SourceCheckpoint | undefined {
    return this.inner.lastCheckpoint(source);
  }

  async put(events: LogEvent[], checkpoint?: SourceCheckpoint, signal?: AbortSignal): Promise<void> {
    try {
      await this.inner.put(events, checkpoint, signal);
    } catch (err) {
      // A put aborted because the agent stops is not a failure: the source did not move on.
      if (!(err instanceof PutAbortedError)) this.meter.error('receiving');
      throw err;
    }
    this.meter.received(events);
  }

  async take(max: number, signal?: AbortSignal): Promise<Transaction> {
    const tx = await this.inner.take(max, signal);
    if (tx.events.length === 0) return tx;
    const meter = this.meter;
    return {
      events: tx.events,
      async commit() {
        await tx.commit();
        meter.sent(tx.events);
      },
      rollback: () => tx.rollback(),
    };
  }

  abortWaitingPuts(): void {
    this.inner.abortWaitingPuts();
  }

  stats(): { events: number; bytes: number } {
    return this.inner.stats();
  }

  async close(): Promise<void> {
    this.status.stopped();
    await this.inner.close();
  }
}

/**
 * The agent's bus side with its metrics and state: received and sent both count events the
 * bus acknowledged (a failed send is an error; its events come again from the channel).
 * Events the bus refused for good are counted as discarded by the dead-letter wrapper, not
 * as sent: `refusedIds` holds the ids the refused callback saw until their send resolves.
 */
export class MeteredProducer implements BusProducer {
  constructor(
    private readonly inner: BusProducer,
    private readonly meter: ComponentMeter,
    private readonly status: ComponentStatus,
    private readonly refusedIds: Set<string> = new Set(),
  ) {}

  get batch(): BusProducer['batch'] {
    return this.inner.batch;
  }

  /** The forwarder sends as many at once as the wrapped producer takes. */
  get maxInFlight(): number | undefined {
    return this.inner.maxInFlight;
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  async send(events: readonly LogEvent[]): Promise<void> {
    try {
      await this.inner.send(events);
    } catch (err) {
      this.meter.error('sending');
      this.status.failed(err);
      throw err;
    }
    const acked = this.refusedIds.size === 0 ? events : events.filter((e) => !this.refusedIds.delete(e.id));
    this.meter.received(events);
    this.meter.sent(acked);
    this.meter.delivered(acked);
    this.status.ok();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * The dead-letter as one caller sees it: what that caller sends there is counted as
 * discarded by that component, with the reason (undecodable records from the bus, events
 * no route took, events a sink's destination refused).
 */
export function meteredDeadLetter(inner: DeadLetter, meter: ComponentMeter, reason: string): DeadLetter {
  return {
    open: () => inner.open(),
    close: () => inner.close(),
    async write(entries: readonly DeadLetterEntry[]): Promise<void> {
      await inner.write(entries);
      meter.discarded(reason, entries.length);
    },
  };
}

/**
 * A dead-letter (the collector's or the agent's) with the metrics and state every component
 * has: received and sent both count the entries it kept durably (a failed write is an
 * error, and its entries come again with the retry); bytes are an event's message, or a
 * raw record's value.
 */
export class MeteredDeadLetter implements DeadLetter {
  constructor(
    private readonly inner: DeadLetter,
    private readonly meter: ComponentMeter,
    private readonly status: ComponentStatus,
  ) {}

  async open(): Promise<void> {
    await this.inner.open();
    this.status.running();
  }

  async write(entries: readonly DeadLetterEntry[]): Promise<void> {
    try {
      await this.inner.write(entries);
    } catch (err) {
      this.meter.error('sending');
      this.status.failed(err);
      throw err;
    }
    if (entries.length === 0) return;
    let bytes = 0;
    for (const e of entries) bytes += e.event ? e.event.message.length : (e.value?.length ?? 0);
    this.meter.receivedItems(entries.length, bytes);
    this.meter.sentItems(entries.length, bytes);
    this.status.ok();
  }

  async close(): Promise<void> {
    this.status.stopped();
    await this.inner.close();
  }
}
