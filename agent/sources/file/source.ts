import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { LogEvent } from '../../../core/event.js';
import { type ChannelWriter, type ComponentContext, PutAbortedError, type Source, type SourceCheckpoint } from '../../../core/pipeline.js';
import {
  CheckpointError,
  CheckpointFile,
  newerCheckpoint,
  parseState,
  type FileEntry,
  type FileSourceState,
  type LostEntry,
} from './checkpoint.js';
import { Discovery } from './discovery.js';
import { PathTemplate, timeParser, type TimeParser } from './fields.js';
import { TailedFile } from './file.js';
import type { DecodedEvent, FileDescription, FileFormat } from './format.js';
import { fileIdOf, fingerprintOf, hashPrefix, prefixMatches, readPrefix, type Fingerprint } from './fingerprint.js';
import { PathMatcher } from './glob.js';
import { fileMetrics } from './metrics.js';
import { compileRules, MultilineJoiner } from './multiline.js';
import type { FileSourceOptions } from './options.js';

type Cut = 'truncated' | 'split' | undefined;
type FileFields = TailedFile['fields'];

/**
 * The `file` source: tails the files matching the globs and hands their lines to the
 * channel in batches, each put carrying the positions it brings the source to (README.md).
 *
 * One loop does everything in turn — discovery, checks, reading, putting — so positions
 * change only between puts and a put's checkpoint covers exactly the events before it.
 * While a put waits (channel full) nothing is read: the files are the buffer.
 */
export class FileSource implements Source {
  private readonly files = new Map<string, TailedFile>();
  private readonly byPath = new Map<string, TailedFile>();
  private restored = new Map<string, FileEntry>();
  private lost: LostEntry[] = [];
  private readonly found = new Set<string>();
  private readonly touched = new Set<string>();
  /** New files that start like a live file: a copytruncate copy in the making? (path -> decide-by time) */
  private readonly deferred = new Map<string, number>();
  private batch: LogEvent[] = [];
  private batchBytes = 0;
  private seq = 0;
  private out: ChannelWriter | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private putFailing = false;
  private wakeUp: (() => void) | undefined;
  private readonly readBuf: Buffer;
  private now = 0;
  private lastPoll = 0;
  private lastRescan = 0;
  private lastSave = 0;
  private savedState = '';
  private initialScan = true;
  private hadCheckpoint = false;
  private rr = 0;
  private readonly matcher: PathMatcher;
  private readonly discovery: Discovery;
  private readonly checkpointFile: CheckpointFile;
  private readonly template: PathTemplate | undefined;
  private readonly parseTime: TimeParser | undefined;
  private readonly multiline: ReturnType<typeof compileRules> | undefined;
  private readonly label: { component: string };
  private counts = { truncated: 0, split: 0 };

  constructor(
    private readonly options: FileSourceOptions,
    private readonly ctx: ComponentContext,
    /** Another format of lines (container logs); default: a line (or a multiline group) is an event. */
    private readonly format?: FileFormat,
  ) {
    const where = `source ${ctx.name}`;
    try {
      this.matcher = new PathMatcher(options.include, options.exclude);
      this.template = options.path_pattern === undefined ? undefined : new PathTemplate(options.path_pattern);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
    this.parseTime = options.timestamp ? timeParser(options.timestamp, where) : undefined;
    this.multiline = options.multiline ? compileRules(options.multiline, where) : undefined;
    this.readBuf = Buffer.allocUnsafe(options.read_buffer_bytes);
    this.checkpointFile = new CheckpointFile(join(ctx.dataDir, 'checkpoint.json'));
    this.label = { component: ctx.name };
    this.discovery = new Discovery(
      this.matcher,
      options.watch,
      {
        found: (p) => {
          this.found.add(p);
          this.wake();
        },
        touched: (p) => {
          this.touched.add(p);
          this.wake();
        },
      },
      ctx.logger,
    );
  }

  async start(out: ChannelWriter): Promise<void> {
    if (await this.loop) throw new Error(`source ${this.ctx.name} started twice`);
    this.out = out;
    const own = await this.checkpointFile.load();
    const fromChannel = out.lastCheckpoint(this.ctx.name);
    const cp = newerCheckpoint(own, fromChannel);
    if (cp) {
      const where = cp === own ? this.checkpointFile.path : `the channel's checkpoint of ${this.ctx.name}`;
      if (cp.source !== this.ctx.name) {
        throw new CheckpointError(`${where} belongs to source "${cp.source}", not "${this.ctx.name}": dataDir shared between components?`);
      }
      const state = parseState(cp.state, where);
      this.hadCheckpoint = true;
      this.seq = Math.max(own?.seq ?? 0, fromChannel?.seq ?? 0);
      for (const e of state.files) this.restored.set(`${e.dev}:${e.ino}`, e);
      this.lost = state.lost;
      this.savedState = cp === own ? JSON.stringify(state) : '';
      this.ctx.logger.info({ seq: cp.seq, files: state.files.length, from: where }, 'resuming from checkpoint');
    }
    this.now = Date.now();
    for (const p of await this.discovery.scan()) await this.adopt(p);
    this.lastRescan = this.lastPoll = this.now;
    // Files in the checkpoint that the scan did not find were deleted or moved away while
    // we were down; remembered as lost, so a copy of them continues where reading stopped.
    for (const e of this.restored.values()) this.addLost({ id: e.id, fp: e.fp, path: e.path, pos: e.pos, at: this.now });
    this.restored.clear();
    this.initialScan = false;
    this.loop = this.run().catch((err) => {
      this.ctx.logger.error({ err: String(err) }, 'file source stopped on an unexpected error');
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    await this.discovery.close();
    if (!this.putFailing) await this.saveOwnCheckpoint(true);
    for (const f of this.files.values()) await f.close();
    fileMetrics.openFiles.set(this.label, 0);
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private async run(): Promise<void> {
    const o = this.options;
    while (!this.stopping) {
      this.now = Date.now();
      if (this.now - this.lastRescan >= o.rescan_interval) {
        this.lastRescan = this.now;
        for (const p of await this.discovery.scan()) if (!this.byPath.has(p)) this.found.add(p);
      }
      if (this.now - this.lastPoll >= o.poll_interval) {
        this.lastPoll = this.now;
        for (const f of [...this.files.values()]) await this.check(f);
        for (const p of this.deferred.keys()) this.found.add(p);
        this.lost = this.lost.filter((l) => this.now - l.at < o.forget_after);
      }
      for (const p of [...this.touched]) {
        this.touched.delete(p);
        const f = this.byPath.get(p);
        if (f) await this.check(f);
        else this.found.add(p);
      }
      for (const p of [...this.found]) {
        this.found.delete(p);
        await this.adopt(p);
      }
      this.flushIdle();
      const read = await this.readRound();
      if (this.batch.length > 0) await this.putBatch();
      else if (read === 0) {
        await this.saveOwnCheckpoint(false);
        await this.sleep(this.nextDeadline());
      }
    }
  }

  /** Reads one chunk per file in turn until the batch is full or no file has more. */
  private async readRound(): Promise<number> {
    const o = this.options;
    const order = [...this.files.values()];
    let total = 0;
    let idle = 0;
    while (idle < order.length && this.batch.length < o.batch_max_events && this.batchBytes < o.batch_max_bytes && !this.stopping) {
      const f = order[this.rr++ % order.length]!;
      const n = f.atEof || !this.files.has(f.key) ? 0 : await this.readChunk(f);
      total += n;
      idle = n === 0 ? idle + 1 : 0;
    }
    return total;
  }

  private async readChunk(f: TailedFile): Promise<number> {
    if (!f.fh) {
      await this.makeRoomForOne();
      if (!(await f.reopen())) {
        this.release(f);
        return 0;
      }
      fileMetrics.openFiles.inc(this.label);
    }
    this.now = Date.now();
    f.lastUsedAt = this.now;
    const { bytesRead } = await f.fh!.read(this.readBuf, 0, this.readBuf.length, f.readPos);
    if (bytesRead === 0) {
      f.atEof = true;
      return 0;
    }
    if (f.fp.len === 0) await f.fingerprintIfEmpty(this.options.fingerprint_bytes);
    f.lastGrowthAt = this.now;
    const used = f.splitter.push(this.readBuf, bytesRead);
    f.readPos += used;
    // A short read means the end for now; the next poll or notification says when it grew.
    if (used === bytesRead && bytesRead < this.readBuf.length) f.atEof = true;
    return used;
  }

  private readonly batchFull = (): boolean =>
    this.batch.length >= this.options.batch_max_events || this.batchBytes >= this.options.batch_max_bytes;

  private onLine(f: TailedFile, buf: Buffer, start: number, end: number, offset: number, next: number, cut: Cut): void {
    if (cut === 'truncated') this.counts.truncated++;
    else if (cut === 'split') this.counts.split++;
    if (f.decoder) {
      f.decoder.line(buf, start, end, offset, next, cut, this.now);
      return;
    }
    const message = buf.toString('utf8', start, end);
    if (f.joiner) f.joiner.push(message, offset, next, cut, this.now);
    else this.emit(f, message, offset, next, cut);
  }

  /** An event of a decoder: it may hold records that started before this event's end, so the position stops at the oldest. */
  private emitDecoded(f: TailedFile, e: DecodedEvent): void {
    const fields: FileFields = e.fields ? { ...f.fields, ...e.fields } : { ...f.fields };
    if (e.cut) fields[e.cut === 'truncated' ? 'log.truncated' : 'log.split'] = true;
    const source = { kind: this.format!.kind, path: f.path, fileId: f.id, offset: e.offset } as LogEvent['source'];
    if (f.description?.container !== undefined) source.container = f.description.container;
    if (e.stream !== undefined) source.stream = e.stream;
    this.batch.push({
      id: f.ids.id(e.offset),
      timestamp: e.timestamp ?? this.now,
      message: e.message,
      service: f.service,
      module: f.module,
      host: this.ctx.host,
      source,
      fields,
    });
    this.batchBytes += e.message.length;
    f.emitPos = Math.max(f.emitPos, Math.min(e.next, f.decoder!.heldFrom()));
  }

  private emit(f: TailedFile, message: string, offset: number, next: number, cut: Cut): void {
    const fields: FileFields = f.hasFields ? { ...f.fields } : {};
    if (cut) fields[cut === 'truncated' ? 'log.truncated' : 'log.split'] = true;
    this.batch.push({
      id: f.ids.id(offset),
      timestamp: this.parseTime?.(message) ?? this.now,
      message,
      service: f.service,
      module: f.module,
      host: this.ctx.host,
      source: { kind: 'file', path: f.path, fileId: f.id, offset },
      fields,
    });
    this.batchBytes += next - offset;
    f.emitPos = next;
  }

  private async putBatch(): Promise<void> {
    const events = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    const checkpoint: SourceCheckpoint = { source: this.ctx.name, seq: ++this.seq, state: this.state() };
    for (let delay = 100; ; delay = Math.min(delay * 2, 30_000)) {
      try {
        await this.out!.put(events, checkpoint);
        this.putFailing = false;
        break;
      } catch (err) {
        // Not accepted: the positions stay where the channel has them; retry the same batch.
        this.putFailing = true;
        // The agent is stopping and the channel had no room: the batch is read again on the next start.
        if (err instanceof PutAbortedError) return;
        this.ctx.logger.error({ err: String(err), events: events.length, retryInMs: delay }, 'channel refused a batch; retrying');
        if (this.stopping) return;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    fileMetrics.events.inc(this.label, events.length);
    fileMetrics.bytes.inc(this.label, bytes);
    if (this.counts.truncated) fileMetrics.truncatedLines.inc(this.label, this.counts.truncated);
    if (this.counts.split) fileMetrics.splitLines.inc(this.label, this.counts.split);
    this.counts = { truncated: 0, split: 0 };
  }

  /** The positions of everything handed on so far: valid as "acknowledged" whenever no batch is pending. */
  private state(): FileSourceState {
    const files: FileEntry[] = [];
    for (const f of this.files.values()) files.push({ id: f.id, dev: f.dev, ino: f.ino, fp: f.fp, path: f.path, pos: f.emitPos });
    return { v: 1, files, lost: this.lost };
  }

  private async saveOwnCheckpoint(force: boolean): Promise<void> {
    if (this.batch.length > 0 || this.putFailing) return;
    if (!force && this.now - this.lastSave < this.options.checkpoint_interval) return;
    this.lastSave = this.now;
    const state = this.state();
    const text = JSON.stringify(state);
    if (text === this.savedState) return;
    await this.checkpointFile.save({ source: this.ctx.name, seq: ++this.seq, state });
    this.savedState = text;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping || this.found.size > 0 || this.touched.size > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), Math.max(1, ms));
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Milliseconds until the next timed duty: poll, rescan, checkpoint save, a flush timeout. */
  private nextDeadline(): number {
    const o = this.options;
    let at = Math.min(this.lastPoll + o.poll_interval, this.lastRescan + o.rescan_interval, this.lastSave + o.checkpoint_interval);
    for (const f of this.files.values()) {
      if (o.partial_line_timeout > 0 && f.splitter.pending > 0) at = Math.min(at, f.lastGrowthAt + o.partial_line_timeout);
      if (f.joiner?.pending) at = Math.min(at, f.joiner.lastLineAt + o.multiline!.flush_timeout);
      if (f.decoder) at = Math.min(at, f.decoder.deadline(f.lastGrowthAt));
    }
    return at - Date.now();
  }

  /** Emits partial lines and multiline events whose file went quiet. */
  private flushIdle(): void {
    const o = this.options;
    for (const f of this.files.values()) {
      if (o.partial_line_timeout > 0 && f.splitter.pending > 0 && f.atEof && this.now - f.lastGrowthAt >= o.partial_line_timeout) {
        f.splitter.flush();
      }
      if (f.joiner?.pending && this.now - f.joiner.lastLineAt >= o.multiline!.flush_timeout) f.joiner.flush();
      f.decoder?.tick(this.now, f.atEof ? this.now - f.lastGrowthAt : 0);
    }
  }

  /**
   * Looks at a known file: grown (read on), truncated or rewritten (copytruncate: start
   * again at 0), no longer at its path (renamed away, deleted: read to the end, let go
   * after rotateWait), idle (close the descriptor).
   */
  private async check(f: TailedFile): Promise<void> {
    const o = this.options;
    this.now = Date.now();
    if (!f.fh) {
      const st = await stat(f.path).catch(() => undefined);
      if (!st || st.dev !== f.dev || st.ino !== f.ino) {
        this.release(f);
        if (st) this.found.add(f.path);
        return;
      }
      if (st.size === f.seenSize && st.mtimeMs === f.seenMtime) return;
      await this.makeRoomForOne();
      if (!(await f.reopen())) {
        // Same inode, other first bytes: rewritten while closed. The old content is gone.
        this.release(f);
        this.found.add(f.path);
        return;
      }
      fileMetrics.openFiles.inc(this.label);
    }
    const st = await f.fh!.stat();
    const changed = st.size !== f.seenSize || st.mtimeMs !== f.seenMtime;
    f.seenSize = st.size;
    f.seenMtime = st.mtimeMs;
    if (st.size < f.readPos || (changed && f.fp.len > 0 && !(await prefixMatches(f.fh!, f.fp)))) await this.truncated(f);
    if (st.size > f.readPos) f.atEof = false;
    if (!f.detached) {
      const pst = await stat(f.path).catch(() => undefined);
      if (!pst || pst.dev !== f.dev || pst.ino !== f.ino) {
        f.detached = true;
        if (pst) this.found.add(f.path);
      }
    }
    if (f.detached) {
      if (f.atEof && this.now - f.lastGrowthAt >= o.rotate_wait) {
        // It will not grow any more: what is held is complete.
        f.splitter.flush();
        f.joiner?.flush();
        f.decoder?.flush();
        this.release(f);
      }
      return;
    }
    if (f.atEof && o.idle_close > 0 && this.now - f.lastGrowthAt >= o.idle_close) await this.closeFile(f);
  }

  private async truncated(f: TailedFile): Promise<void> {
    this.ctx.logger.info({ path: f.path, fileId: f.id, at: f.readPos }, 'file truncated or rewritten; reading it again from the start');
    fileMetrics.truncations.inc(this.label);
    // What was read of the old content is complete now; a copy of it (copytruncate) continues after it.
    f.splitter.flush();
    f.joiner?.flush();
    f.decoder?.flush();
    this.addLost({ id: f.id, fp: f.fp, path: f.path, pos: f.emitPos, at: this.now });
    f.readPos = f.emitPos = 0;
    f.fp = await fingerprintOf(f.fh!, this.options.fingerprint_bytes);
    f.id = fileIdOf(f.dev, f.ino, f.fp);
    this.initSplitter(f);
    f.atEof = false;
    f.lastGrowthAt = this.now;
    this.wakeDeferredCopies();
  }

  private wakeDeferredCopies(): void {
    for (const p of this.deferred.keys()) this.found.add(p);
  }

  /** Stops following a file; its position is remembered as lost for forget_after. */
  private release(f: TailedFile): void {
    this.files.delete(f.key);
    if (this.byPath.get(f.path) === f) this.byPath.delete(f.path);
    if (f.fh) fileMetrics.openFiles.dec(this.label);
    void f.close();
    fileMetrics.released.inc(this.label);
    this.addLost({ id: f.id, fp: f.fp, path: f.path, pos: f.emitPos, at: this.now });
    this.ctx.logger.debug({ path: f.path, fileId: f.id, pos: f.emitPos }, 'file let go');
  }

  private addLost(l: LostEntry): void {
    if (l.fp.len === 0) return; // nothing was read from it: nothing to continue
    this.lost = this.lost.filter((x) => x.id !== l.id);
    this.lost.push(l);
    if (this.lost.length > 10_000) this.lost.shift();
  }

  private async closeFile(f: TailedFile): Promise<void> {
    if (!f.fh) return;
    await f.close();
    fileMetrics.openFiles.dec(this.label);
  }

  /** Keeps the open descriptors under max_open_files, closing the least recently used (never a detached one). */
  private async makeRoomForOne(): Promise<void> {
    const open = [...this.files.values()].filter((f) => f.fh);
    let excess = open.length + 1 - this.options.max_open_files;
    if (excess <= 0) return;
    open.sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    for (const f of open) {
      if (excess <= 0) break;
      if (f.detached) continue;
      await this.closeFile(f);
      excess--;
    }
  }

  /** A path from discovery: a known file (maybe renamed), a file resumed from a checkpoint, a copy of a lost one, or new. */
  private async adopt(path: string): Promise<void> {
    if (!this.matcher.matches(path)) return;
    let description: FileDescription | undefined;
    if (this.format && !this.byPath.has(path) && !(description = await this.format.describe(path))) return;
    const known = this.byPath.get(path);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') this.ctx.logger.warn({ path, code }, 'cannot open file; will retry at the next rescan');
      return;
    }
    let keep = false;
    try {
      const st = await fh.stat();
      if (!st.isFile()) return;
      const key = `${st.dev}:${st.ino}`;
      const same = this.files.get(key);
      if (same) {
        if (known && known !== same && !known.detached) known.detached = true;
        if (same.path !== path) {
          if (this.byPath.get(same.path) === same) this.byPath.delete(same.path);
          same.path = path;
          if (description) same.description = description;
          this.refreshFields(same);
        }
        same.detached = false;
        same.atEof = false;
        this.byPath.set(path, same);
        return;
      }
      if (known && !known.detached) known.detached = true;
      const prefix = await readPrefix(fh, this.options.fingerprint_bytes);
      const fp = hashPrefix(prefix);
      const hashes = new Map<number, string>();
      const startsLike = (other: Fingerprint): boolean => {
        if (other.len === 0 || other.len > prefix.length) return false;
        let h = hashes.get(other.len);
        if (h === undefined) hashes.set(other.len, (h = hashPrefix(prefix.subarray(0, other.len)).hash));
        return h === other.hash;
      };

      const restored = this.restored.get(key);
      if (restored) {
        this.restored.delete(key);
        if ((restored.fp.len === 0 || startsLike(restored.fp)) && st.size >= restored.pos) {
          keep = await this.track(
            fh,
            st.dev,
            st.ino,
            restored.fp.len === 0 ? fp : restored.fp,
            path,
            restored.pos,
            restored.fp.len === 0 ? undefined : restored.id,
            description,
          );
          return;
        }
        // The inode now holds other content (reused, or rewritten while we were down).
        this.addLost({ id: restored.id, fp: restored.fp, path: restored.path, pos: restored.pos, at: this.now });
      }

      const lost = this.lost.find((l) => startsLike(l.fp) && st.size >= l.pos);
      if (lost) {
        // A copy of (or the very) file we let go: continue where it was left, with its id.
        this.lost = this.lost.filter((l) => l !== lost);
        this.deferred.delete(path);
        this.ctx.logger.info({ path, fileId: lost.id, pos: lost.pos, was: lost.path }, 'continuing a file that was let go');
        keep = await this.track(fh, st.dev, st.ino, lost.fp, path, lost.pos, lost.id, description);
        return;
      }

      if (fp.len > 0) {
        const twin = [...this.files.values()].find((f) => startsLike(f.fp));
        if (twin) {
          // Starts like a live file: a copytruncate copy whose truncation we have not seen yet,
          // or a genuine copy. Look at the original now; wait rotateWait for it to be truncated.
          await this.check(twin);
          if (this.lost.some((l) => startsLike(l.fp) && st.size >= l.pos)) {
            this.found.add(path);
            return;
          }
          const until = this.deferred.get(path) ?? this.now + this.options.rotate_wait;
          if (this.now < until) {
            this.deferred.set(path, until);
            return;
          }
        }
      }
      this.deferred.delete(path);
      const pos = this.initialScan && !this.hadCheckpoint && this.options.start_at === 'end' ? st.size : 0;
      keep = await this.track(fh, st.dev, st.ino, fp, path, pos, undefined, description);
    } finally {
      if (!keep) await fh.close();
    }
  }

  private async track(
    fh: FileHandle,
    dev: number,
    ino: number,
    fp: Fingerprint,
    path: string,
    pos: number,
    id: string | undefined,
    description: FileDescription | undefined,
  ): Promise<boolean> {
    await this.makeRoomForOne();
    const f = new TailedFile(id ?? fileIdOf(dev, ino, fp), dev, ino, fp, path, pos, this.now);
    f.fh = fh;
    f.description = description;
    fileMetrics.openFiles.inc(this.label);
    this.initSplitter(f);
    this.refreshFields(f);
    const old = this.byPath.get(path);
    if (old && !old.detached) old.detached = true;
    this.files.set(f.key, f);
    this.byPath.set(path, f);
    this.ctx.logger.debug({ path, fileId: f.id, pos }, 'tailing file');
    return true;
  }

  private initSplitter(f: TailedFile): void {
    const o = this.options;
    f.resetSplitter(
      o.max_line_bytes,
      o.long_lines,
      (buf, s, e, off, next, cut) => this.onLine(f, buf, s, e, off, next, cut),
      this.batchFull,
    );
    f.joiner = this.multiline
      ? new MultilineJoiner(this.multiline, o.multiline!, (message, offset, next, cut) => this.emit(f, message, offset, next, cut))
      : undefined;
    if (this.format) {
      f.joiner = undefined;
      f.decoder = this.format.decoder((e) => this.emitDecoded(f, e), f);
    }
  }

  private refreshFields(f: TailedFile): void {
    const o = this.options;
    if (f.description) {
      f.service = f.description.service;
      f.module = f.description.module;
      f.fields = f.description.fields;
      f.hasFields = true;
      return;
    }
    const captured = this.template?.capture(f.path) ?? {};
    const { service, module, ...rest } = captured;
    f.service = o.service ?? service ?? this.ctx.name;
    f.module = o.module ?? module ?? basename(f.path, extname(f.path));
    f.fields = { ...o.fields, ...rest };
    f.hasFields = Object.keys(f.fields).length > 0;
  }
}
