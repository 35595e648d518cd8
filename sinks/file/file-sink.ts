import { constants } from 'node:fs';
import { access, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';
import { type Sink, WRITTEN, type WriteResult } from '../../core/pipeline.js';
import { EventTemplate, TimeWindow } from '../../core/template.js';
import { fileSinkMetrics } from './metrics.js';
import type { FileSinkOptions } from './options.js';
import {
  checkPathTemplate,
  ensureDirInside,
  finalName,
  fitSegment,
  inProgressName,
  isInside,
  isRefusedPath,
  PathRefusedError,
  nextSeq,
  safePathSegment,
  splitBaseName,
} from './paths.js';
import { syncDir } from '../../core/durable-file.js';
import { recoverInProgress } from './recovery.js';
import { type DayRetention, dayDirs, dayRetention, removeDir } from './retention.js';
import { BatchIds } from './batch-ids.js';
import { groupBytes, type PathGroup as Group, rollDue, TreeBatches } from './path-groups.js';
import { OneAtATime } from './one-at-a-time.js';
import { WriteJournal } from './journal.js';

/** One in-progress file: the only writer of its path. */
interface OpenFile {
  /** The rendered path relative to root: the key events are grouped by. */
  rel: string;
  dir: string;
  path: string;
  /** The in-progress path relative to root: its name in the write journal. */
  key: string;
  finalPath: string;
  handle: FileHandle;
  /** Its handle was closed by a finish that then failed: the retry must not close it again. */
  closed?: boolean;
  /** Bytes durably written: everything before this offset was fsync'd. */
  size: number;
  openedAt: number;
  lastWriteAt: number;
}

export interface FileSinkContext {
  name: string;
  logger: Logger;
  /**
   * The sink's state directory: with one, the sink keeps its write journal there and is
   * exactly-once (journal.ts); without one (a library use), at-least-once.
   */
  dataDir?: string;
}

/** Event ids the write journal remembers: well above what a crash can leave written but unacknowledged. */
export const DEDUPE_WINDOW = 500_000;

const MIN_TICK_MS = 20;
const MAX_TICK_MS = 1000;
const SEQ_CACHE_MAX = 10_000;
const OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * The `file` sink: events into a tree partitioned by a path template (service, module,
 * day, ...), with the semantics of Flume's HDFS sink — in-progress files renamed when
 * finished, rolled by size, age and idleness, a cap on open files — and the durability
 * the delivery chain needs: write(batch) resolves only after every byte of the batch was
 * fsync'd (one write and one fsync per file the batch touches), and a failed batch is cut
 * back out of every file it touched, so its retry does not duplicate what got through.
 * A path refused for good (a symlink or a file where a directory must be, EACCES,
 * ENAMETOOLONG...) refuses only the events bound for it; the rest of the batch is written.
 *
 * Every operation (write, roll timer, retention, close) runs one at a time, so a file is
 * never finished or deleted under a write.
 */
export class FileSink implements Sink {
  private readonly root: string;
  private readonly template: EventTemplate;
  private readonly retention: DayRetention | undefined;
  private readonly gzip: boolean;
  /** Open files in least-recently-written order (a Map keeps insertion order; a write re-inserts). */
  private readonly files = new Map<string, OpenFile>();
  /** Files whose finish failed after their last write: tried again on each roll tick and at stop. */
  private readonly unfinished = new Set<OpenFile>();
  private readonly seqs = new Map<string, number>();
  private readonly serial = new OneAtATime();
  private readonly label: { component: string };
  private readonly logger: Logger;
  private readonly where: string;
  private readonly journalDir: string | undefined;
  private journal: WriteJournal | undefined;
  private ids: BatchIds | undefined;
  private readonly window: TimeWindow;
  private readonly batches: TreeBatches;

  constructor(
    private readonly options: FileSinkOptions,
    ctx: FileSinkContext,
  ) {
    this.where = `sink ${ctx.name}`;
    this.journalDir = ctx.dataDir === undefined ? undefined : join(ctx.dataDir, 'journal');
    this.logger = ctx.logger;
    this.label = { component: ctx.name };
    this.root = resolve(options.root);
    this.gzip = options.compression === 'gzip';
    this.window = new TimeWindow(options.max_event_age, options.max_future);
    try {
      checkPathTemplate(options.path);
      this.template = new EventTemplate(options.path, { timeZone: options.time_zone, sanitize: safePathSegment });
      this.retention = dayRetention(this.template, options, ctx, fileSinkMetrics.expiredDays);
    } catch (err) {
      throw new Error(`${this.where}: ${(err as Error).message}`);
    }
    this.batches = new TreeBatches(this.template, this.window, options, ctx, 'the tree', fileSinkMetrics);
  }

  async open(): Promise<void> {
    claimRoot(this.root, this.label.component);
    try {
      await this.openClaimed();
    } catch (err) {
      releaseRoot(this.root, this.label.component);
      throw err;
    }
  }

  private async openClaimed(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    if (this.journalDir) {
      this.journal = await WriteJournal.open(this.journalDir, DEDUPE_WINDOW);
      this.ids = new BatchIds(this.journal);
    }
    const recovered = await recoverInProgress(this.root, this.logger, this.journal);
    await this.journal?.recordForgotten();
    fileSinkMetrics.recoveredFiles.inc(this.label, recovered.files);
    fileSinkMetrics.cutBytes.inc(this.label, recovered.cutBytes);
    fileSinkMetrics.openFiles.set(this.label, 0);
    const limits = [this.options.roll_age, this.options.idle_timeout].filter((ms) => ms > 0);
    if (limits.length > 0) {
      const tick = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.floor(Math.min(...limits) / 4)));
      this.serial.every(
        tick,
        () => this.rollExpired(),
        (err) => this.logger.error({ err: err.message }, 'finishing files by age or idleness failed; retried on the next tick'),
      );
    }
    if (this.retention) {
      await this.serial.run(() => this.applyRetention());
      this.serial.every(
        this.options.retention_interval,
        () => this.applyRetention(),
        (err) => this.logger.error({ err: err.message }, 'retention failed; retried on the next check'),
      );
    }
  }

  write(batch: readonly LogEvent[]): Promise<WriteResult> {
    if (batch.length === 0) return Promise.resolve(WRITTEN);
    return this.serial.run(() => this.batches.write(batch, this.ids, (wave, whole) => this.writeWave(wave, whole)));
  }

  /** Finishes every open file (renamed to its final name) and stops the timers. */
  async close(): Promise<void> {
    this.serial.stopTimers();
    await this.serial.run(async () => {
      // A file that cannot be finished now stays in progress; the next start finishes it.
      for (const file of [...this.files.values(), ...this.unfinished]) await this.finishOrKeep(file);
      await this.journal?.recordForgotten();
      await this.journal?.close();
    });
    releaseRoot(this.root, this.label.component);
  }

  /** Finishes the files whose age or idleness reached its limit; exposed for the roll timer and tests. */
  rollExpired(now = Date.now()): Promise<void> {
    const due = [...this.unfinished, ...[...this.files.values()].filter((f) => rollDue(f, this.options, now))];
    return due.reduce<Promise<void>>((p, f) => p.then(() => this.finishOrKeep(f)), Promise.resolve());
  }

  /** Deletes the day directories older than retention_days (today, in the sink's time zone, counts as one). */
  async applyRetention(now = Date.now()): Promise<string[]> {
    if (!this.retention) return [];
    return this.retention.apply(now, {
      days: (layout) => dayDirs(this.root, layout),
      remove: async (dir) => {
        for (const file of [...this.files.values(), ...this.unfinished]) if (isInside(dir, file.path)) await this.finish(file);
        await this.journal?.recordForgotten();
        await removeDir(dir);
      },
    });
  }

  /** Open in-progress files, for status and tests. */
  get openFiles(): number {
    return this.files.size;
  }

  /**
   * Writes one wave of groups, each to its file, durably, then journals them (`whole`: the
   * batch is this one wave with nothing skipped, so its keys are all of the batch's). A
   * group whose path is refused for good is marked so and left out.
   */
  private async writeWave(entries: [string, Group][], whole: boolean): Promise<void> {
    const touched = new Set<string>();
    const targets: { file: OpenFile; lines: string[]; before: number }[] = [];
    const written: Group[] = [];
    for (const [rel, group] of entries) {
      let file = this.files.get(rel);
      if (file) this.files.delete(rel);
      else {
        await this.makeRoom(touched);
        try {
          file = await this.openFile(rel);
        } catch (err) {
          if (!isRefusedPath(err)) throw err;
          group.refused = `path ${JSON.stringify(rel)} under ${this.root} refused: ${(err as Error).message}`;
          continue;
        }
      }
      this.files.set(rel, file);
      touched.add(rel);
      targets.push({ file, lines: group.lines, before: file.size });
      written.push(group);
    }
    if (written.length < entries.length)
      this.logger.error(
        { paths: entries.length - written.length, reason: entries.find(([, g]) => g.refused)![1].refused },
        'paths refused for good; their events go to the dead-letter, the rest of the batch is written',
      );
    fileSinkMetrics.openFiles.set(this.label, this.files.size);
    if (targets.length === 0) return;
    const ids = this.ids;
    const keys = ids && (whole && written.length === entries.length ? ids.keysOf() : ids.keysOf(written.map((g) => g.rows)));
    const results = await Promise.allSettled(targets.map((t) => this.append(t.file, t.lines)));
    let failed = results.findIndex((r) => r.status === 'rejected');
    let reason = failed === -1 ? undefined : ((results[failed] as PromiseRejectedResult).reason as Error);
    if (reason === undefined && this.journal && keys) {
      // The data is durable; the record makes it acknowledged data (recovery keeps it, a redelivery skips it).
      try {
        await this.journal.commit(
          targets.map((t) => ({ path: t.file.key, length: t.file.size })),
          keys,
        );
      } catch (err) {
        failed = 0;
        reason = err as Error;
      }
    }
    if (reason !== undefined) {
      await this.undo(targets);
      throw new Error(
        `${this.where}: writing ${targets[failed]!.file.path} failed (${reason.message}); the batch is cut back out of every file it touched, to be retried`,
      );
    }
    const now = Date.now();
    for (const t of targets) t.file.lastWriteAt = now;
    // The wave is durable and journaled by now: a file that cannot be finished must not fail
    // it, or the collector would write the batch again, into a new file, beside the copy.
    if (this.options.roll_size > 0) for (const t of targets) if (t.file.size >= this.options.roll_size) await this.finishOrKeep(t.file);
  }

  /**
   * Finishes a file; one that cannot be finished now (its rename or the directory's fsync
   * fails) keeps what was written to it, stays in progress with its journaled length, and is
   * tried again on each roll tick, at stop, and by the next start's recovery.
   */
  private async finishOrKeep(file: OpenFile): Promise<void> {
    try {
      await this.finish(file);
    } catch (err) {
      this.unfinished.add(file);
      this.logger.error(
        { file: file.path, err: (err as Error).message },
        'could not finish a file; what was written to it is kept, and finishing it is tried again',
      );
    }
  }

  private async append(file: OpenFile, lines: string[]): Promise<void> {
    const data = await groupBytes(lines, this.options);
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await file.handle.write(data, done, data.length - done, file.size + done);
      done += bytesWritten;
    }
    await file.handle.datasync();
    file.size += data.length;
    fileSinkMetrics.bytes.inc(this.label, data.length);
  }

  /**
   * Cuts every file of a failed wave back to where it was before it: the collector retries
   * the whole batch, and what one file got must not be there twice. A file that cannot be
   * cut back is let go as it is (finished by recovery on the next start) and reported.
   */
  private async undo(targets: { file: OpenFile; before: number }[]): Promise<void> {
    for (const { file, before } of targets) {
      try {
        await file.handle.truncate(before);
        await file.handle.datasync();
        file.size = before;
      } catch (err) {
        this.files.delete(file.rel);
        fileSinkMetrics.openFiles.set(this.label, this.files.size);
        await file.handle.close().catch(() => undefined);
        this.logger.error(
          { file: file.path, err: (err as Error).message },
          'could not cut a failed batch back out of this file; it is left in progress and finished on the next start, and may hold part of the batch twice',
        );
      }
    }
  }

  /** Finishes least-recently-written files (not ones this wave uses) until one more may open. */
  private async makeRoom(touched: Set<string>): Promise<void> {
    for (const file of this.files.values()) {
      if (this.files.size < this.options.max_open_files) return;
      if (!touched.has(file.rel)) await this.finishOrKeep(file);
    }
  }

  private async openFile(rel: string): Promise<OpenFile> {
    const segments = rel.split('/').map(fitSegment);
    const baseName = segments.pop()!;
    if (!isInside(this.root, resolve(this.root, ...segments, baseName)))
      throw new PathRefusedError(`it resolves outside root ${this.root}`);
    const dir = await ensureDirInside(this.root, segments);
    const base = splitBaseName(baseName);
    const key = join(dir, baseName);
    let seq = this.seqs.get(key) ?? (await nextSeq(dir, base, this.gzip));
    for (;;) {
      const finalPath = join(dir, finalName(base, seq, this.gzip));
      const path = join(dir, inProgressName(finalName(base, seq, this.gzip)));
      try {
        const handle = await open(path, OPEN_FLAGS, this.options.file_mode);
        // The process umask (027) would narrow a wider file_mode: the configured one wins.
        await handle.chmod(this.options.file_mode).catch(async (err: unknown) => {
          await handle.close();
          throw err;
        });
        if (this.seqs.size >= SEQ_CACHE_MAX) this.seqs.clear();
        this.seqs.set(key, seq + 1);
        await syncDir(dir).catch(async (err: unknown) => {
          // The batch fails and is retried; the empty file is removed by the next start's recovery.
          await handle.close();
          throw err;
        });
        const now = Date.now();
        return { rel, dir, path, key: relative(this.root, path), finalPath, handle, size: 0, openedAt: now, lastWriteAt: now };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        seq++;
      }
    }
  }

  /** Closes a file and renames it to its final name (an empty one is removed instead). */
  private async finish(file: OpenFile): Promise<void> {
    if (this.files.get(file.rel) === file) this.files.delete(file.rel);
    fileSinkMetrics.openFiles.set(this.label, this.files.size);
    if (!file.closed) {
      // Not closed twice, even when this close fails (Linux releases the descriptor anyway).
      file.closed = true;
      await file.handle.close();
    }
    // Tried again after a failure that came after these: then the in-progress name is gone.
    if (file.size === 0) await unlink(file.path).catch(ignoreMissing);
    else
      await rename(file.path, file.finalPath).catch(async (err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !(await exists(file.finalPath))) throw err;
      });
    await syncDir(file.dir);
    this.unfinished.delete(file);
    this.journal?.forget(file.key);
    if (file.size > 0) fileSinkMetrics.finishedFiles.inc(this.label);
    this.logger.debug({ file: file.finalPath, bytes: file.size }, 'finished file');
  }
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * The roots of the file sinks open in this process, by sink name. Two sinks on one tree (or
 * one inside the other) take each other's in-progress files for their own: recovery cuts or
 * deletes what the other acknowledged, retention removes the other's days. Refused at open,
 * so a config with such a pair does not start and a reload that adds one is refused.
 */
const openRoots = new Map<string, string>();

function claimRoot(root: string, sink: string): void {
  for (const [other, name] of openRoots) {
    if (name === sink || !(other === root || root.startsWith(other + sep) || other.startsWith(root + sep))) continue;
    throw new Error(
      `sink ${sink}: root ${root} overlaps the root ${other} of sink ${name}: each would take the other's in-progress files for its own (recovery cuts or deletes them, retention removes their days); give each file sink a root of its own`,
    );
  }
  openRoots.set(root, sink);
}

function releaseRoot(root: string, sink: string): void {
  if (openRoots.get(root) === sink) openRoots.delete(root);
}
