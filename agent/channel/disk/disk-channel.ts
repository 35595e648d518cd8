import { mkdir, stat } from 'node:fs/promises';
import { syncDir } from '../../../core/durable-file.js';
import type { LogEvent } from '../../../core/event.js';
import type { Logger } from '../../../core/log.js';
import type { Channel, SourceCheckpoint, Transaction } from '../../../core/pipeline.js';
import { PutTimes } from '../age.js';
import { CheckpointChains } from '../checkpoints.js';
import { channelMetrics, removeChannelMetrics, reportOldestPut } from '../metrics.js';
import { type ChannelState, EMPTY_TRANSACTION, Transactions } from '../transactions.js';
import { Mutex, Notifier } from '../wait.js';
import { DamageLog } from './damage.js';
import { encodeRecord } from './format/record.js';
import { SEGMENT_HEADER_BYTES } from './format/segment-file.js';
import { DirLock } from './lock.js';
import { PointerStore } from './pointer.js';
import { SegmentReader, type Taken } from './reader.js';
import { recover } from './recovery.js';
import { type Pos, SegmentSet } from './segments.js';
import { type PendingPut, SegmentWriter, type WrittenRecord } from './writer.js';
import { withdrawable } from '../withdrawable.js';

export interface DiskChannelConfig {
  /** Directory of the segments and the pointer; created if missing. */
  path: string;
  /** Bound on the bytes the channel occupies on disk; puts wait beyond it. */
  maxBytes: number;
  /** A segment is closed and a new one started once it would grow past this. */
  segmentBytes: number;
  /** 'always': put resolves after fdatasync. A number: fdatasync every that many ms, put resolves after write(). */
  fsync: 'always' | number;
  /**
   * 'always': a commit resolves after fdatasync of the pointer. A number: commits resolve
   * after write(), and the newest pointer is synced at most that many ms later; a power
   * failure then delivers again what was committed since (never loses anything).
   */
  commitFsync: 'always' | number;
  /** Recently put records kept decoded in memory so a taker that keeps up never re-reads and re-parses them. */
  readCacheBytes: number;
  /** Upper bound of the backoff between retries of a failing disk write. */
  retryBackoffMaxMs: number;
}

export interface DiskChannelStats {
  /** Events put and not yet committed (open transactions' included). */
  events: number;
  /** Bytes of their records. */
  bytes: number;
  diskBytes: number;
  segments: number;
  full: boolean;
  blocked: boolean;
}

/**
 * The disk channel: a write-ahead log of segment files between sources and the bus sink
 * (README.md beside this file describes formats, durability and recovery).
 *
 * put() appends one CRC-framed record per batch (events + the source's checkpoint) through
 * the writer and resolves once it is fsync'd. take() hands out the oldest events no open
 * transaction holds, from the reader; commit() moves the durable pointer past them and
 * deletes segments that are entirely committed, rollback() rewinds the reader. The writer,
 * the reader and the pointer share no lock: a commit's pointer write never waits for a
 * segment write, nor the other way round. open() replays the directory (recovery.ts).
 */
export class DiskChannel implements Channel {
  private state: ChannelState = 'new';
  private readonly segments: SegmentSet;
  private readonly damage: DamageLog;
  private readonly chains: CheckpointChains;
  private readonly lock: DirLock;
  private readonly writer: SegmentWriter;
  private reader: SegmentReader | undefined;
  private pointer: PointerStore | undefined;
  private readonly txns: Transactions<Taken>;
  private committed: Pos = { seg: 1, off: SEGMENT_HEADER_BYTES, idx: 0 };
  private committedCheckpoints = new Map<string, SourceCheckpoint>();
  private readonly checkpoints = new Map<string, SourceCheckpoint>();
  private bufferedEvents = 0;
  private bufferedBytes = 0;
  private dataVersion = 0;
  private readonly dataArrived = new Notifier();
  private readonly commitLock = new Mutex();
  private lastPointerSync = 0;
  private pointerSyncTimer: NodeJS.Timeout | undefined;
  private readonly putTimes = new PutTimes();

  constructor(
    private readonly config: DiskChannelConfig,
    private readonly name: string,
    private readonly logger: Logger,
  ) {
    this.segments = new SegmentSet(config.path, logger);
    this.damage = new DamageLog(name, logger);
    this.chains = new CheckpointChains(logger);
    this.lock = new DirLock(config.path, name);
    this.writer = new SegmentWriter(
      {
        dir: config.path,
        maxBytes: config.maxBytes,
        segmentBytes: config.segmentBytes,
        fsync: config.fsync,
        retryBackoffMaxMs: config.retryBackoffMaxMs,
      },
      this.segments,
      name,
      logger,
      {
        written: (records, events) => this.written(records, events),
        drained: () => this.segments.endsAt(this.committed),
        changed: () => this.publish(),
      },
    );
    this.txns = new Transactions(name, () => this.state, {
      commit: (taken, events) => this.commit(taken, events),
      rollback: async (taken, events) => {
        await this.reader!.rewind(taken.start);
        channelMetrics.rolledBackEvents.inc({ component: this.name }, events);
        // A take waiting for events has some again.
        this.dataVersion++;
        this.dataArrived.notify();
      },
    });
  }

  stats(): DiskChannelStats {
    return {
      events: this.bufferedEvents,
      bytes: this.bufferedBytes,
      diskBytes: this.writer.diskBytes,
      segments: this.segments.list.length,
      full: this.writer.full,
      blocked: this.writer.blocked,
    };
  }

  async open(): Promise<void> {
    if (this.state !== 'new') throw new Error(`channel "${this.name}": open() called twice`);
    const started = Date.now();
    const dir = this.config.path;
    await mkdir(dir, { recursive: true });
    await this.lock.acquire();
    try {
      const { store, read } = await PointerStore.open(dir);
      this.pointer = store;
      const r = await recover(dir, this.name, read, this.segments, this.damage, this.chains, this.logger);
      this.committed = r.committed;
      this.committedCheckpoints = r.committedCheckpoints;
      for (const [source, cp] of r.checkpoints) this.checkpoints.set(source, cp);
      this.bufferedEvents = r.events;
      this.bufferedBytes = r.bytes;
      if (r.events > 0) this.putTimes.put(r.events, await this.recoveredSince());
      if (read.kind !== 'ok' || store.hasLegacy) await this.savePointer(this.committed, this.committedCheckpoints);
      await syncDir(dir);
      this.reader = new SegmentReader(this.segments, this.damage, this.config.readCacheBytes, this.committed);
      this.logger.info(
        { path: dir, segments: this.segments.list.length, records: r.records, events: r.events, bytes: r.bytes, ms: Date.now() - started },
        'channel opened',
      );
    } catch (err) {
      await this.pointer?.close();
      this.lock.release();
      throw err;
    }
    this.state = 'open';
    reportOldestPut(this.name, () => this.putTimes.oldest());
    this.writer.start();
    this.publish();
  }

  lastCheckpoint(source: string): SourceCheckpoint | undefined {
    return this.checkpoints.get(source);
  }

  async put(events: LogEvent[], checkpoint?: SourceCheckpoint, signal?: AbortSignal): Promise<void> {
    if (this.state !== 'open')
      throw new Error(`channel "${this.name}" is ${this.state === 'new' ? 'not open yet' : 'closed'}: put refused`);
    if (events.length === 0 && checkpoint === undefined) return;
    const frame = encodeRecord(events, checkpoint);
    const reserve = frame.length + SEGMENT_HEADER_BYTES;
    if (reserve > this.config.maxBytes) {
      throw new Error(
        `channel "${this.name}": a batch of ${events.length} events encodes to ${frame.length} bytes, more than the ` +
          `channel's whole capacity (max_bytes ${this.config.maxBytes}); raise max_bytes or lower the source's batch size`,
      );
    }
    if (!signal) return new Promise<void>((resolve, reject) => this.writer.put({ frame, events, checkpoint, reserve, resolve, reject }));
    return withdrawable(signal, `channel "${this.name}": its source stopped while the batch waited for room; it reads the batch again`, {
      enqueue: (settle) => {
        const pending: PendingPut = { frame, events, checkpoint, reserve, resolve: settle.resolve, reject: settle.reject };
        this.writer.put(pending);
        return pending;
      },
      withdraw: (pending) => this.writer.withdraw(pending),
    });
  }

  abortWaitingPuts(): void {
    if (this.state !== 'open') return;
    this.writer.abortWaiting(`channel "${this.name}" is stopping: the batch was not stored; its source reads it again on its next start`);
  }

  async take(max: number, signal?: AbortSignal): Promise<Transaction> {
    const done = this.txns.beginTake(max);
    try {
      for (;;) {
        if (this.state !== 'open') return EMPTY_TRANSACTION;
        const version = this.dataVersion;
        const epoch = this.txns.epoch;
        const taken = await this.reader!.collect(max);
        // A rollback while collecting: its rewind runs before the next collect.
        if (epoch !== this.txns.epoch) continue;
        if (taken.events.length > 0) return this.txns.begin(taken.events, taken);
        if (signal?.aborted) return EMPTY_TRANSACTION;
        if (version === this.dataVersion) await this.dataArrived.wait(signal);
      }
    } finally {
      done();
    }
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.dataArrived.notify();
    await this.writer.close(`channel "${this.name}" closed before the batch could be written`);
    clearTimeout(this.pointerSyncTimer);
    await this.commitLock.run(async () => {
      try {
        if (await this.pointer?.sync()) this.pointerSynced();
      } catch (err) {
        this.logger.error(
          { err, path: this.config.path },
          'channel pointer not synced at close; a power failure now would deliver some events again',
        );
      }
    });
    this.txns.abandonAll();
    await this.reader?.close();
    await this.pointer?.close();
    this.state = 'closed';
    this.lock.release();
    removeChannelMetrics(this.name);
  }

  /** The writer stored records: they count as buffered, their checkpoints are the sources' newest, the taker may have them. */
  private written(records: WrittenRecord[], events: number): void {
    for (const r of records) {
      this.bufferedBytes += r.length;
      if (r.checkpoint) this.chains.apply('put', this.checkpoints, r.checkpoint);
    }
    this.bufferedEvents += events;
    this.putTimes.put(events, Date.now());
    channelMetrics.putEvents.inc({ component: this.name }, events);
    this.reader?.remember(records);
    this.dataVersion++;
    this.dataArrived.notify();
    this.publish();
  }

  private async commit(taken: Taken, events: number): Promise<void> {
    await this.commitLock.run(async () => {
      const next = this.segments.normalize(taken.end);
      const merged = new Map(this.committedCheckpoints);
      for (const cp of taken.checkpoints) this.chains.apply('committed', merged, cp);
      const sync = this.config.commitFsync === 'always' || Date.now() - this.lastPointerSync >= this.config.commitFsync;
      await this.savePointer(next, merged, sync);
      if (sync) this.pointerSynced();
      else this.syncPointerLater();
      this.committed = next;
      this.committedCheckpoints = merged;
      this.bufferedEvents -= events;
      this.bufferedBytes -= taken.passedBytes;
      this.putTimes.commit(events);
      if (this.segments.endsAt(next)) {
        // Recomputed rather than trusted: damage skipped at run time cannot leave the gauges stuck above zero.
        this.bufferedEvents = 0;
        this.bufferedBytes = 0;
        this.putTimes.clear();
      }
      channelMetrics.committedEvents.inc({ component: this.name }, events);
      this.reader!.forget(next);
      await this.segments.deleteBefore(next.seg);
    });
    this.publish();
    this.writer.admit();
  }

  /**
   * Put times are not on disk: events recovered at open count from the last write of the
   * oldest segment holding them, which is no earlier than their put (an age too young,
   * never too old), and far closer than the time of the restart.
   */
  private async recoveredSince(): Promise<number> {
    const oldest = this.segments.find(this.committed.seg) ?? this.segments.list[0];
    const st = oldest ? await stat(oldest.path).catch(() => undefined) : undefined;
    return st?.mtimeMs ?? Date.now();
  }

  private savePointer(pos: Pos, checkpoints: Map<string, SourceCheckpoint>, sync = true): Promise<void> {
    return this.pointer!.write({ segment: pos.seg, offset: pos.off, skip: pos.idx, checkpoints: Object.fromEntries(checkpoints) }, sync);
  }

  private pointerSynced(): void {
    this.lastPointerSync = Date.now();
    channelMetrics.pointerSyncs.inc({ component: this.name });
  }

  /**
   * Commits that came without a sync (commit_fsync: a duration): the newest pointer is synced
   * once the interval since the last sync is over, whether or not more commits come.
   */
  private syncPointerLater(retry = false): void {
    if (this.pointerSyncTimer || this.config.commitFsync === 'always') return;
    const interval = this.config.commitFsync;
    const wait = retry ? interval : Math.max(0, this.lastPointerSync + interval - Date.now());
    this.pointerSyncTimer = setTimeout(() => {
      void this.commitLock.run(async () => {
        this.pointerSyncTimer = undefined;
        if (this.state !== 'open') return;
        try {
          if (await this.pointer!.sync()) this.pointerSynced();
        } catch (err) {
          // The interval stays overdue: the next commit syncs itself, and fails while the disk does.
          this.logger.error({ err, path: this.config.path }, 'channel pointer sync failed; trying again');
          this.syncPointerLater(true);
        }
      });
    }, wait);
    this.pointerSyncTimer.unref();
  }

  private publish(): void {
    const component = this.name;
    channelMetrics.bufferedEvents.set({ component }, this.bufferedEvents);
    channelMetrics.bufferedBytes.set({ component }, this.bufferedBytes);
    channelMetrics.diskBytes.set({ component }, this.writer.diskBytes);
    channelMetrics.fillRatio.set({ component }, this.writer.diskBytes / this.config.maxBytes);
    channelMetrics.segments.set({ component }, this.segments.list.length);
  }
}
