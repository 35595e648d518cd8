import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { LogEvent } from '../../core/event.js';
import { OutageLog, type Logger } from '../../core/log.js';
import { loadTls } from '../../core/options/tls.js';
import { type ComponentContext, type Sink, WRITTEN, type WriteResult } from '../../core/pipeline.js';
import { EventTemplate, TimeWindow } from '../../core/template.js';
import { BatchIds } from '../file/batch-ids.js';
import { OneAtATime } from '../file/one-at-a-time.js';
import { groupBytes, type PathGroup as Group, rollDue, TreeBatches } from '../file/path-groups.js';
import { ID_WORDS } from '../file/id-window.js';
import { WriteJournal } from '../file/journal.js';
import { nextSeqAmong, safePathSegment } from '../file/paths.js';
import { type DayRetention, dayRetention } from '../file/retention.js';
import { HdfsError, isRefusedPath, WebHdfsClient, type Auth } from './client.js';
import { webhdfsMetrics } from './metrics.js';
import type { WebHdfsSinkOptions } from './options.js';
import { LaneLedgers } from './lanes.js';
import { dayDirsOnHdfs } from './retention.js';
import { freshFile, type HdfsFile, leftFile, numbered, placeOf } from './hdfs-file.js';
import { lost, type Settling, settle, tailAfter } from './settle.js';

export type WebHdfsSinkContext = Pick<ComponentContext, 'name' | 'logger'> & Partial<Pick<ComponentContext, 'dataDir'>>;

const MIN_TICK_MS = 20;
const MAX_TICK_MS = 1000;
const NO_KEYS = new Uint32Array(0);
/** Most ids a lane's ledger carries to its next owner: far more than a partition has written and not committed. */
const LANE_CARRY_IDS = 50_000;

/**
 * The `webhdfs` sink: the file sink's tree (same templates, names, rolling, gzip members,
 * retention), in HDFS over WebHDFS, exactly-once.
 *
 * Every batch is one APPEND per file it touches (the first one a CREATE, which fails if the
 * file exists, so two writers never share a file). write() resolves once HDFS closed every
 * append (the DataNodes hold the bytes) and the write journal (sinks/file/journal.ts, on
 * local disk) recorded each file's new length and the batch's ids. A failed APPEND is never
 * blindly retried — that is how Fluentd's and Logstash's webhdfs outputs write data twice —
 * the file is first "settled": an empty APPEND proves nobody (a dead DataNode's writer) holds
 * its lease any more, then its length is compared with what was acknowledged and anything
 * after it is truncated away. An outage of the NameNode or the DataNode makes write() fail,
 * and the collector retries it with backoff without acknowledging: backpressure into Kafka.
 * A path HDFS refuses for good (permissions, a file where a directory must be) sends its
 * events to the dead-letter.
 */
export class WebHdfsSink implements Sink {
  private readonly client: WebHdfsClient;
  private readonly template: EventTemplate;
  private readonly window: TimeWindow;
  private readonly batches: TreeBatches;
  private readonly retention: DayRetention | undefined;
  private readonly gzip: boolean;
  private readonly files = new Map<string, HdfsFile>();
  /** Files whose finishing failed (HDFS down): retried on the timer and at close. */
  private readonly unfinished = new Set<HdfsFile>();
  /** In-progress files a previous run left, from the journal: settled and finished before anything is written. */
  private recovering: [path: string, length: number, lane?: string][] = [];
  private journal: WriteJournal | undefined;
  private readonly serial = new OneAtATime();
  private readonly label: { component: string };
  private readonly logger: Logger;
  private readonly where: string;
  private readonly outage: OutageLog;
  private ids: BatchIds | undefined;
  /** Per-lane ledgers in HDFS (a collector in a group): what hands a partition over to another collector. */
  private lanes: LaneLedgers | undefined;
  /** Last bytes of lane files (their lengths are in the lane ledger, not in the local journal). */
  private readonly laneTails = new Map<string, Buffer>();

  constructor(
    private readonly options: WebHdfsSinkOptions,
    private readonly ctx: WebHdfsSinkContext,
  ) {
    this.where = `sink ${ctx.name}`;
    this.logger = ctx.logger;
    this.label = { component: ctx.name };
    this.gzip = options.compression === 'gzip';
    const auth: Auth =
      options.auth === 'delegation_token' ? { delegation: options.delegation_token! } : { user: options.user ?? userInfo().username };
    this.client = new WebHdfsClient({
      namenodes: options.namenodes,
      auth,
      timeoutMs: options.request_timeout,
      ...(options.tls ? { tls: loadTls(options.tls, `sinks.${ctx.name}`) } : {}),
    });
    const sanitize = (v: string) => safePathSegment(v).replace(/:/g, '_');
    this.template = new EventTemplate(options.path, { timeZone: options.time_zone, sanitize });
    this.window = new TimeWindow(options.max_event_age, options.max_future);
    this.retention = dayRetention(this.template, options, ctx, webhdfsMetrics.expiredDays);
    this.batches = new TreeBatches(this.template, this.window, options, ctx, 'HDFS', webhdfsMetrics);
    this.outage = new OutageLog(ctx.logger, { what: 'hdfs', fields: { namenodes: options.namenodes } });
  }

  async open(): Promise<void> {
    if (this.ctx.dataDir !== undefined && this.options.dedupe_window > 0) {
      this.journal = await WriteJournal.open(join(this.ctx.dataDir, 'journal'), this.options.dedupe_window);
      this.ids = new BatchIds(this.journal);
      this.recovering = [...this.journal.lengths];
      const carry = Math.max(1, Math.min(LANE_CARRY_IDS, this.options.dedupe_window >> 2));
      this.lanes = new LaneLedgers(this.client, `${this.options.root === '/' ? '' : this.options.root}/.sluice/lanes`, carry);
    }
    webhdfsMetrics.openFiles.set(this.label, 0);
    const limits = [this.options.roll_age, this.options.idle_timeout].filter((ms) => ms > 0);
    const tick = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.floor(Math.min(MAX_TICK_MS * 4, ...limits) / 4)));
    this.serial.every(
      tick,
      () => this.rollExpired(),
      (err) => this.logger.warn({ err: err.message }, 'finishing files by age or idleness failed; retried on the next tick'),
    );
    if (this.retention) {
      const retentionFailed = (err: Error) => this.logger.warn({ err: err.message }, 'retention failed; retried on the next check');
      // HDFS may be down at start: retention then runs on its next turn, without holding up the collector.
      void this.serial.run(() => this.applyRetention()).catch(retentionFailed);
      this.serial.every(this.options.retention_interval, () => this.applyRetention(), retentionFailed);
    }
  }

  write(batch: readonly LogEvent[], lane?: string): Promise<WriteResult> {
    if (batch.length === 0) return Promise.resolve(WRITTEN);
    return this.serial.run(async () => {
      try {
        const result = await this.writeBatch(batch, this.lanes ? lane : undefined);
        this.outage.ok();
        return result;
      } catch (err) {
        this.outage.failed(err);
        throw err;
      }
    });
  }

  /** Finishes the open files (those HDFS does not let finish now stay in progress, for the next start) and stops the timers. */
  async close(): Promise<void> {
    this.serial.stopTimers();
    await this.serial.run(async () => {
      for (const file of [...this.files.values(), ...this.unfinished]) await this.finishOrKeep(file);
      await this.recordFinished();
      await this.journal?.recordForgotten();
      await this.journal?.close();
    });
    this.client.close();
  }

  get openFiles(): number {
    return this.files.size;
  }

  /** Finishes the files whose age or idleness reached its limit, and retries the ones that failed to finish. */
  async rollExpired(now = Date.now()): Promise<void> {
    for (const file of [...this.unfinished]) await this.finishOrKeep(file);
    for (const f of [...this.files.values()]) if (rollDue(f, this.options, now)) await this.finishOrKeep(f);
    await this.recordFinished();
  }

  /** Deletes the day directories older than retention_days (today, in the sink's time zone, counts as one). */
  async applyRetention(now = Date.now()): Promise<string[]> {
    if (!this.retention) return [];
    return this.retention.apply(now, {
      days: (layout) => dayDirsOnHdfs(this.client, this.options.root, layout),
      remove: async (dir) => {
        for (const file of [...this.files.values(), ...this.unfinished])
          if (file.dir === dir || file.dir.startsWith(`${dir}/`)) await this.finish(file);
        await this.recordFinished();
        // A restart must not look for the files of a removed day in the journal, nor settle a later file of that name.
        await this.journal?.recordForgotten();
        await this.client.delete(dir, true);
      },
    });
  }

  private async writeBatch(batch: readonly LogEvent[], lane: string | undefined): Promise<WriteResult> {
    await this.recover();
    if (lane !== undefined) await this.enterLane(lane);
    return this.batches.write(batch, this.ids, (wave, whole) => this.writeWave(wave, whole, lane));
  }

  /**
   * Appends each file's share in parallel. What went through is journaled even when another
   * file failed: the collector retries the whole batch and the journaled events are skipped,
   * so only the failed files' shares are written again. `whole`: this wave is the whole
   * batch and nothing of it was skipped (its keys are then taken as they are).
   */
  private async writeWave(entries: [string, Group][], whole: boolean, lane: string | undefined): Promise<void> {
    const targets: { file: HdfsFile; group: Group; data?: Buffer }[] = [];
    const touched = new Set<string>();
    /** Groups whose directory HDFS refuses to list (permissions): dead-lettered, like a refused append. */
    const openRefused: Group[] = [];
    for (const [rel, group] of entries) {
      // Files are per lane: the lane's next owner settles and finishes them, nobody else appends.
      const key = lane === undefined ? rel : `${lane}\u0000${rel}`;
      let file = this.files.get(key);
      if (file) this.files.delete(key);
      else {
        await this.makeRoom(touched);
        try {
          file = await this.openFile(key, rel, lane);
        } catch (err) {
          if (!isRefusedPath(err)) throw err;
          group.refused = `HDFS refuses ${placeOf(this.options.root, rel).dir}: ${(err as Error).message}`;
          openRefused.push(group);
          continue;
        }
      }
      touched.add(key);
      this.files.set(key, file);
      targets.push({ file, group });
    }
    webhdfsMetrics.openFiles.set(this.label, this.files.size);
    // Files about to be created are recorded first, in one record: a crash right after a CREATE leaves no orphan.
    const fresh = targets.filter((t) => !t.file.created);
    if (fresh.length > 0)
      await this.recordFresh(
        lane,
        fresh.map((t) => t.file.path),
      );
    const results = await Promise.allSettled(targets.map(async (t) => (t.data = await this.appendTo(t.file, t.group.lines))));
    const done: typeof targets = [];
    const refusedGroups: Group[] = [...openRefused];
    let failure: Error | undefined;
    for (const [i, r] of results.entries()) {
      const t = targets[i]!;
      if (r.status === 'fulfilled') done.push(t);
      else if (isRefusedPath(r.reason)) {
        this.files.delete(t.file.rel);
        // A file holding acknowledged lines (refused now: its permissions changed) is still
        // finished, by the next roll tick or the stop, or it would stay hidden in progress.
        if (t.file.length > 0) this.unfinished.add(t.file);
        else this.forgetFile(t.file);
        t.group.refused = `HDFS refuses ${t.file.path}: ${(r.reason as Error).message}`;
        refusedGroups.push(t.group);
      } else failure ??= new Error(`${this.where}: writing ${t.file.path} failed (${(r.reason as Error).message})`);
    }
    if (refusedGroups.length > 0)
      this.logger.error(
        { paths: refusedGroups.length, reason: refusedGroups[0]!.refused },
        'HDFS refused a path for good; its events go to the dead-letter, the rest of the batch is written',
      );
    const journal = this.journal;
    const ids = this.ids;
    if (journal && ids && done.length > 0) {
      const groups = done.map((t) => t.group);
      const keys = whole && groups.length === entries.length ? ids.keysOf() : ids.keysOf(groups.map((g) => g.rows));
      if (lane !== undefined) await this.recordLane(lane, done, keys);
      else
        try {
          await journal.commit(
            done.map((t) => ({
              path: t.file.path,
              length: t.file.length + t.data!.length,
              tail: tailAfter(journal.tail(t.file.path), t.data!),
            })),
            keys,
          );
        } catch (err) {
          // HDFS holds the bytes but they are not acknowledged: settled (cut back) before the next write.
          for (const t of done) t.file.suspect = true;
          throw err;
        }
    }
    for (const t of done) {
      if (lane !== undefined) this.laneTails.set(t.file.path, tailAfter(this.laneTails.get(t.file.path), t.data!));
      t.file.length += t.data!.length;
      t.group.journaled = true;
    }
    if (failure) throw failure;
    const now = Date.now();
    for (const t of done) t.file.lastWriteAt = now;
    if (this.options.roll_size > 0) for (const t of done) if (t.file.length >= this.options.roll_size) await this.finishOrKeep(t.file);
    await this.recordFinished();
  }

  /**
   * Writes one file's share (settling the file first if an earlier write to it failed) and
   * returns the bytes written; the file's length moves once they are journaled.
   */
  private async appendTo(file: HdfsFile, lines: string[]): Promise<Buffer> {
    const data = await groupBytes(lines, this.options);
    const wasSuspect = file.suspect;
    if (wasSuspect) await this.settle(file);
    try {
      if (!file.created) await this.createFile(file, data);
      else await this.client.append(file.path, data);
    } catch (err) {
      if (!isRefusedPath(err)) file.suspect = true;
      throw err;
    }
    if (wasSuspect) {
      // Only our bytes may follow the acknowledged length: a stray append that landed late would show here.
      // Suspect again until that is known: a check that fails after the append leaves the
      // batch in the file, and the retry must settle it away, not append a second copy.
      file.suspect = true;
      const st = await this.client.getFileStatus(file.path);
      if (st?.length !== file.length + data.length) {
        throw new Error(
          `${file.path} is ${st?.length ?? 'missing'} bytes after an append, expected ${file.length + data.length}; it is cut back and written again`,
        );
      }
      file.suspect = false;
    }
    webhdfsMetrics.bytes.inc(this.label, data.length);
    return data;
  }

  /** The first write of a file: CREATE, which fails when the name is taken (by another writer): then the next number. */
  private async createFile(file: HdfsFile, data: Buffer): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.create(file.path, data);
        file.created = true;
        return;
      } catch (err) {
        if (!(err instanceof HdfsError && err.exception === 'FileAlreadyExistsException') || attempt >= 100) {
          if (!isRefusedPath(err)) file.created = true; // unknown: settle() looks
          throw err;
        }
        this.forgetFile(file);
        numbered(file, file.seq + 1, this.gzip);
        await this.recordFresh(file.lane, [file.path]);
      }
    }
  }

  private settle(file: HdfsFile): Promise<void> {
    return settle(file, this.settling());
  }

  private settling(): Settling {
    return {
      client: this.client,
      tail: (path) => this.journal?.tail(path) ?? this.laneTails.get(path),
      logger: this.logger,
      label: this.label,
    };
  }

  /** Records files about to be created: in the lane's ledger, or the local journal. */
  private async recordFresh(lane: string | undefined, paths: string[]): Promise<void> {
    if (lane !== undefined) {
      try {
        await this.lanes!.record(
          lane,
          paths.map((path) => ({ path, length: 0 })),
          NO_KEYS,
        );
      } catch (err) {
        this.leaveLane(lane);
        throw err;
      }
    } else
      await this.journal?.commit(
        paths.map((path) => ({ path, length: 0 })),
        NO_KEYS,
      );
  }

  /**
   * A lane's batch is acknowledged once its ledger in HDFS has the files' lengths and the ids
   * (what the lane's next owner goes by), then the local journal the ids (what this process
   * goes by after a restart: always a part of what the ledger has). If either fails, the
   * ledger may or may not hold the batch: the lane is taken over again, from its own ledger,
   * whose word is final.
   */
  private async recordLane(lane: string, done: { file: HdfsFile; data?: Buffer }[], keys: Uint32Array): Promise<void> {
    try {
      await this.lanes!.record(
        lane,
        done.map((t) => ({ path: t.file.path, length: t.file.length + t.data!.length })),
        keys,
      );
      await this.journal!.commit([], keys);
    } catch (err) {
      this.leaveLane(lane);
      throw err;
    }
  }

  /**
   * Takes the lane over unless this sink still owns it: the lane's ledgers are sealed and
   * read, the in-progress files they name (another collector's, or this one's from before)
   * settled to their recorded lengths and finished, and the ids they hold count as written.
   */
  private async enterLane(lane: string): Promise<void> {
    const lanes = this.lanes!;
    if (lanes.owns(lane) && (await lanes.stillOwned(lane))) return;
    this.leaveLane(lane);
    const state = await lanes.takeOver(lane);
    const journal = this.journal!;
    for (let at = 0; at < state.ids.length; at += ID_WORDS) journal.claim(state.ids, at);
    this.logger.info(
      { lane, files: state.files.size, ids: state.ids.length / ID_WORDS },
      'took over a lane: its in-progress files are settled and finished before it is written',
    );
    for (const [path, length] of state.files) this.recovering.push([path, length, lane]);
    await this.recover();
    try {
      await lanes.recordForgotten(lane);
    } catch (err) {
      this.leaveLane(lane);
      throw err;
    }
    await this.recordFinished();
  }

  /**
   * This sink no longer owns the lane (another collector sealed its ledger, or recording
   * failed): its files of the lane are let go as they are, to be settled by whoever takes
   * the lane next (this sink too, from the ledger).
   */
  private leaveLane(lane: string): void {
    this.lanes!.drop(lane);
    for (const [key, file] of this.files)
      if (file.lane === lane) {
        this.files.delete(key);
        this.laneTails.delete(file.path);
      }
    for (const file of this.unfinished) if (file.lane === lane) this.unfinished.delete(file);
    webhdfsMetrics.openFiles.set(this.label, this.files.size);
  }

  /** The file is finished or given up: neither the journal nor the lane's ledger carries it on. */
  private forgetFile(file: HdfsFile): void {
    this.journal?.forget(file.path);
    if (file.lane !== undefined) {
      this.lanes?.forget(file.lane, file.path);
      this.laneTails.delete(file.path);
    }
  }

  /** Settles and finishes the in-progress files the journal says a previous run left; throws (to be retried) while HDFS is down. */
  private async recover(): Promise<void> {
    while (this.recovering.length > 0) {
      const [path, length, lane] = this.recovering[0]!;
      const file = leftFile(path, length);
      const final = file.finalPath;
      if ((await this.client.getFileStatus(path)) !== undefined) {
        await this.finish(file);
        webhdfsMetrics.recoveredFiles.inc(this.label);
        if (file.length > 0)
          this.logger.info({ file: final, bytes: file.length }, 'finished an in-progress HDFS file left by a previous run');
        else this.logger.info({ file: path }, 'removed an in-progress HDFS file left by a previous run that held nothing acknowledged');
      } else if (length > 0 && (await this.client.getFileStatus(final)) === undefined) {
        // Neither in progress nor finished (a finish whose record the crash cut off leaves the finished name).
        lost(file, 0, this.settling());
      }
      this.journal?.forget(path);
      if (lane !== undefined) this.lanes?.forget(lane, path);
      this.recovering.shift();
    }
  }

  /** Finishes least-recently-written files (not ones this wave uses) until one more may open. */
  private async makeRoom(touched: Set<string>): Promise<void> {
    for (const file of [...this.files.values()]) {
      if (this.files.size < this.options.max_open_files) return;
      if (!touched.has(file.rel)) await this.finishOrKeep(file);
    }
    await this.recordFinished();
  }

  private async openFile(key: string, rel: string, lane: string | undefined): Promise<HdfsFile> {
    const { dir, base } = placeOf(this.options.root, rel);
    const names = ((await this.client.listStatus(dir)) ?? []).map((s) => s.pathSuffix);
    return freshFile(key, lane, dir, base, nextSeqAmong(names, base, this.gzip), this.gzip);
  }

  /** Finishes a file; when HDFS does not let it now, it is kept for the timer to retry. */
  private async finishOrKeep(file: HdfsFile): Promise<void> {
    try {
      await this.finish(file);
      this.unfinished.delete(file);
    } catch (err) {
      if (this.files.get(file.rel) === file) this.files.delete(file.rel);
      this.unfinished.add(file);
      webhdfsMetrics.openFiles.set(this.label, this.files.size);
      this.logger.warn({ file: file.path, err: (err as Error).message }, 'could not finish an HDFS file; retried later');
    }
  }

  /** Renames a file to its final name (an empty one is removed); a rename whose answer was lost is recognised. */
  private async finish(file: HdfsFile): Promise<void> {
    if (this.files.get(file.rel) === file) this.files.delete(file.rel);
    webhdfsMetrics.openFiles.set(this.label, this.files.size);
    if (file.suspect) await this.settle(file);
    if (file.length === 0) {
      if (file.created) await this.client.delete(file.path, false);
    } else if (!(await this.client.rename(file.path, file.finalPath))) {
      const [from, to] = await Promise.all([this.client.getFileStatus(file.path), this.client.getFileStatus(file.finalPath)]);
      if (from !== undefined || to === undefined)
        throw new Error(
          `cannot rename ${file.path} to ${file.finalPath}: ${to !== undefined ? 'a file of that name exists' : 'the file is gone'}`,
        );
    }
    this.forgetFile(file);
    this.unfinished.delete(file);
    if (file.length > 0) webhdfsMetrics.finishedFiles.inc(this.label);
    this.logger.debug({ file: file.finalPath, bytes: file.length }, 'finished file');
  }

  /**
   * The ledgers learn which of their lanes' files were finished (lanes.ts recordForgotten):
   * one append per lane after a round of finishing (a roll, the stop, retention, making
   * room), not one per file. The files are finished whatever happens here: a failure only
   * lets that lane go, and whoever takes it next finds those files' in-progress names gone,
   * and settles nothing.
   */
  private async recordFinished(): Promise<void> {
    if (!this.lanes) return;
    for (const lane of this.lanes.withFinished()) {
      try {
        await this.lanes.recordForgotten(lane);
      } catch (err) {
        this.logger.warn(
          { lane, err: (err as Error).message },
          'could not record finished files in the lane ledger; the lane is taken over again',
        );
        this.leaveLane(lane);
      }
    }
  }
}
