import { Backoff, sleep } from '../core/backoff.js';
import { type Logger, OutageLog } from '../core/log.js';
import { counter, gauge } from '../core/metrics.js';
import type { BusProducer, Channel, Transaction } from '../core/pipeline.js';
import { Notifier } from './channel/wait.js';

export interface ForwarderOptions {
  /** Most events per transaction taken from the channel. */
  batchEvents: number;
  /**
   * When the channel holds some events but fewer than batchEvents, wait this long for more
   * before taking them: fewer, fuller requests to the bus under light load. 0: never wait.
   */
  lingerMs?: number;
  /**
   * Most channel transactions between take and commit. Default: one more than the
   * producer sends at once, so committing one overlaps sending the next.
   */
  maxInFlight?: number;
  /** Longest wait between retries of a failing send or commit. Default 30 s. */
  retryBackoffMaxMs?: number;
  /** The component label of the forwarder's metrics. Default "forwarder". */
  component?: string;
}

const metrics = {
  forwarded: counter('sluice_forwarder_events_total', 'Events the bus acknowledged and the channel released', ['component']),
  sendFailures: counter('sluice_forwarder_send_failures_total', 'Sends that failed; their transactions were rolled back and sent again', [
    'component',
  ]),
  commitFailures: counter(
    'sluice_forwarder_commit_failures_total',
    'Channel commits that failed after the bus had the events; retried (never sent again)',
    ['component'],
  ),
  takeFailures: counter('sluice_forwarder_take_failures_total', 'Takes that failed (the channel could not read); retried', ['component']),
  inFlight: gauge('sluice_forwarder_in_flight', 'Channel transactions taken and not yet committed', ['component']),
};

/** What `sent` settles with for a transaction that was never handed to the producer. */
const NOT_SENT = Symbol('not sent');

interface InFlight {
  tx: Transaction;
  /** Settles with the send's error, or undefined once the bus has every event. */
  sent: Promise<unknown>;
}

/**
 * The agent's last hop: takes transactions from the channel, sends them on the bus, and
 * commits each only once the bus has every event durably.
 *
 * Pipelined: up to maxInFlight transactions are out at once (as many sends as the
 * producer takes, BusProducer.maxInFlight), so taking, lingering and committing overlap
 * with sending instead of queueing behind one await; they are committed in the order they
 * were taken, as the channel requires.
 *
 * A failed send: the forwarder stops taking, waits for the other sends to settle, rolls
 * back the oldest transaction (which gives back every later one too: the same events come
 * again, in order) and retries after a capped backoff, for as long as it takes; meanwhile
 * the channel fills and sources pause. A failed commit (the channel's pointer cannot be
 * written, a full disk) is retried on its own with backoff: the bus already has those
 * events, so they are never sent again while the agent runs. Outages are logged once when
 * they begin and once when they end (OutageLog), and counted.
 */
export class Forwarder {
  private readonly stopping = new AbortController();
  private readonly changed = new Notifier();
  private readonly queue: InFlight[] = [];
  private readonly maxInFlight: number;
  private readonly maxSends: number;
  private readonly bus: OutageLog;
  private readonly commits: OutageLog;
  private readonly takes: OutageLog;
  private readonly component: string;
  private loop: Promise<void> | undefined;
  private sending = 0;
  /** Settles once the send queued last has been handed to the producer (or given up). */
  private sendTurn: Promise<void> = Promise.resolve();
  private queuedEvents = 0;
  private paused = false;
  /** stop() stopped waiting for sends in flight. */
  private abandoned = false;
  private takeAbort: AbortController | undefined;
  private taking: Promise<void> | undefined;
  forwarded = 0;

  constructor(
    private readonly channel: Channel,
    private readonly producer: BusProducer,
    private readonly logger: Logger,
    private readonly options: ForwarderOptions,
  ) {
    this.maxSends = Math.max(1, producer.maxInFlight ?? 1);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? this.maxSends + 1);
    this.component = options.component ?? 'forwarder';
    this.bus = new OutageLog(logger, { what: 'bus' });
    this.commits = new OutageLog(logger, { what: 'channel commit' });
    this.takes = new OutageLog(logger, { what: 'channel take' });
  }

  start(): void {
    // Every failure the loops expect is retried inside them; this is the last line for a bug.
    this.loop ??= this.run().catch((err: unknown) => this.logger.error({ err }, 'forwarder stopped on an unexpected error'));
  }

  /**
   * Stops taking; resolves once every transaction in flight is committed or rolled back, or
   * after `graceMs` when a send never settles (a destination that retries on its own): its
   * transaction is left open, so the channel delivers its events again after the restart,
   * as after a crash at that point.
   */
  async stop(graceMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.stopping.abort();
    this.takeAbort?.abort();
    this.changed.notify();
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      (this.loop ?? Promise.resolve()).then(() => true),
      new Promise<boolean>((resolve) => {
        if (Number.isFinite(graceMs)) timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!settled) {
      this.abandoned = true;
      this.logger.warn(
        { in_flight: this.queue.length, events: this.queuedEvents, grace_ms: graceMs },
        'sends still in flight at stop; their events stay in the channel and are sent again on the next start',
      );
    }
    metrics.inFlight.remove({ component: this.component });
  }

  private async run(): Promise<void> {
    const taker = this.takeLoop();
    try {
      await this.commitLoop(taker);
    } finally {
      await taker;
    }
  }

  /** Takes transactions while fewer than maxInFlight are out, and starts sending each. */
  private async takeLoop(): Promise<void> {
    const stop = this.stopping.signal;
    const linger = this.options.lingerMs ?? 0;
    const takeBackoff = new Backoff(100, this.options.retryBackoffMaxMs ?? 30_000);
    while (!stop.aborted) {
      if (this.paused || this.queue.length >= this.maxInFlight) {
        await this.changed.wait(stop);
        continue;
      }
      if (linger > 0 && !this.bus.down) {
        const available = this.channel.stats().events - this.queuedEvents;
        if (available > 0 && available < this.options.batchEvents) await sleep(linger, stop);
      }
      if (stop.aborted) break;
      // One signal per take that the stop also aborts. Not AbortSignal.any([stop, ...]): on
      // Node 20 every signal it makes stays reachable from the agent-long stop signal, about
      // 65 bytes of heap per take for good (tens of MiB a day at full speed).
      const takeAbort = new AbortController();
      const onStop = () => takeAbort.abort();
      stop.addEventListener('abort', onStop);
      this.takeAbort = takeAbort;
      this.taking = this.takeOne(takeAbort.signal);
      try {
        await this.taking;
        this.takes.ok();
        takeBackoff.reset();
      } catch (err) {
        // The channel could not read (a disk error): nothing was taken; try again.
        metrics.takeFailures.inc({ component: this.component });
        this.takes.failed(err);
        await takeBackoff.sleep(stop);
      } finally {
        stop.removeEventListener('abort', onStop);
        this.taking = undefined;
      }
    }
  }

  /** One take; what it gets joins the queue (and is sent, unless a failed send is being handled). */
  private async takeOne(signal: AbortSignal): Promise<void> {
    const tx = await this.channel.take(this.options.batchEvents, signal);
    if (tx.events.length === 0) return;
    this.queue.push({ tx, sent: this.paused ? Promise.resolve(NOT_SENT) : this.send(tx) });
    this.queuedEvents += tx.events.length;
    metrics.inFlight.set({ component: this.component }, this.queue.length);
    this.changed.notify();
  }

  /**
   * Sends once fewer than the producer's maxInFlight sends are outstanding, in take order;
   * settles with the error, if any. Not sent at all if a failed send is being handled
   * meanwhile: it is about to be rolled back, and sending it would duplicate it.
   */
  private async send(tx: Transaction): Promise<unknown> {
    // Strictly in take order, one after the other: the producer tells a send that will be
    // rolled back with an older failed one by the order its sends were called in.
    const turn = this.sendTurn;
    let started!: () => void;
    this.sendTurn = new Promise<void>((resolve) => (started = resolve));
    let sent: Promise<void>;
    try {
      await turn;
      while (this.sending >= this.maxSends && !this.paused) await this.changed.wait();
      if (this.paused) return NOT_SENT;
      this.sending++;
      try {
        sent = this.producer.send(tx.events);
      } catch (err) {
        sent = Promise.reject(err);
      }
    } finally {
      started();
    }
    try {
      await sent;
      return undefined;
    } catch (err) {
      // Before the slot is freed: a send waiting for it must see that it is not to go out.
      this.pause();
      return err ?? new Error('send failed');
    } finally {
      this.sending--;
      this.changed.notify();
    }
  }

  /** Settles the oldest transaction in flight, in order: commit once sent, or roll everything back. */
  private async commitLoop(taker: Promise<void>): Promise<void> {
    const sendBackoff = new Backoff(100, this.options.retryBackoffMaxMs ?? 30_000);
    for (;;) {
      const head = this.queue[0];
      if (!head) {
        if (this.stopping.signal.aborted) {
          // The taker may still queue what its last take got.
          await taker;
          if (this.queue.length === 0) return;
          continue;
        }
        await this.changed.wait();
        continue;
      }
      const err = await head.sent;
      if (err === undefined) {
        if (!(await this.commit(head.tx))) return this.giveBack('commit');
        this.settled();
        this.forwarded += head.tx.events.length;
        metrics.forwarded.inc({ component: this.component }, head.tx.events.length);
        this.bus.ok();
        sendBackoff.reset();
        continue;
      }
      if (err !== NOT_SENT) {
        metrics.sendFailures.inc({ component: this.component });
        this.bus.failed(err, { events: head.tx.events.length, in_flight: this.queue.length });
      }
      await this.giveBack('send');
      if (this.stopping.signal.aborted) return;
      if (err !== NOT_SENT) await sendBackoff.sleep(this.stopping.signal);
      this.paused = false;
      this.changed.notify();
    }
  }

  /**
   * Commits `tx`, retrying with backoff while the channel refuses (a full disk): never
   * rolled back, since the bus has its events. False if stopping came first: the events
   * stay in the channel and go out again on the next start.
   */
  private async commit(tx: Transaction): Promise<boolean> {
    const backoff = new Backoff(50, this.options.retryBackoffMaxMs ?? 30_000);
    for (;;) {
      try {
        await tx.commit();
        this.commits.ok();
        return true;
      } catch (err) {
        // Given up at stop: the channel closed under this transaction, and delivers it again.
        if (this.abandoned) return false;
        metrics.commitFailures.inc({ component: this.component });
        this.commits.failed(err, { events: tx.events.length });
        if (this.stopping.signal.aborted) {
          this.logger.warn(
            { events: tx.events.length, err },
            'stopping with a commit that failed; its events are sent again on the next start',
          );
          return false;
        }
        await backoff.sleep(this.stopping.signal);
      }
    }
  }

  /** Stops taking, waits for every send to settle, and rolls back everything in flight (oldest first takes the rest with it). */
  private async giveBack(why: 'send' | 'commit'): Promise<void> {
    this.pause();
    await this.taking;
    await Promise.all(this.queue.map((e) => e.sent));
    const head = this.queue[0];
    if (head) {
      try {
        await head.tx.rollback();
      } catch (err) {
        this.logger.error({ err, why }, 'rolling back the transactions in flight failed; the channel delivers them again after a restart');
      }
    }
    this.queue.length = 0;
    this.queuedEvents = 0;
    metrics.inFlight.set({ component: this.component }, 0);
  }

  /** Stops taking and sending until the transactions in flight are rolled back. */
  private pause(): void {
    this.paused = true;
    this.takeAbort?.abort();
  }

  private settled(): void {
    const done = this.queue.shift()!;
    this.queuedEvents -= done.tx.events.length;
    metrics.inFlight.set({ component: this.component }, this.queue.length);
    this.changed.notify();
  }
}
