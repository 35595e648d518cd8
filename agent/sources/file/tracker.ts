import type { Stats } from 'node:fs';
import { type FileHandle, readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { Backoff } from '../../../core/backoff.js';
import type { Logger } from '../../../core/log.js';
import type { FileEntry, FileSourceState, LostEntry } from './checkpoint.js';
import { Descriptors, openToRead } from './descriptors.js';
import type { PathTemplate } from './path-template.js';
import {
  type CheckResult,
  type FileTimings,
  isFileError,
  MIN_OVERLAP_BYTES,
  READ_TAIL_BYTES,
  statPath,
  TailedFile,
  tailDigest,
} from './file.js';
import { type Fingerprint, fileIdOf, readPrefix } from './fingerprint.js';
import type { FileDescription, FileFormat } from './format.js';
import type { PathMatcher } from './glob.js';
import { type Deferral, Identities, lostOf, Prefix } from './identity.js';

import { fileMetrics } from './metrics.js';
import type { LineReader } from './reader.js';

export interface TrackerSettings extends FileTimings {
  sourceName: string;
  startAtEnd: boolean;
  maxOpenFiles: number;
  forgetAfter: number;
  service: string | undefined;
  module: string | undefined;
  fields: Record<string, string>;
  template: PathTemplate | undefined;
  format: FileFormat | undefined;
  newReader: (f: TailedFile, head: Buffer) => LineReader;
  /** A path to look at again soon (it may hold a new file). */
  lookAgain: (path: string) => void;
}

/** How a file came to be followed, for the "file taken up" line. */
type How = 'new' | 'checkpoint' | 'continued' | 'moved_while_stopped' | 'copy_after_wait';

/** A file whose I/O fails is tried again after this, as the source's own restarts: 1 s doubling to 1 min. */
const retryBackoff = (): Backoff => new Backoff(1000, 60_000);

/**
 * A copy found when its original was seen truncated, open and looked at: it continues the
 * generation that ended (`whole`), or holds only the start of what was read of it (`prefix`).
 */
interface Copy {
  path: string;
  fh: FileHandle;
  st: Stats;
  prefix: Prefix;
  description: FileDescription | undefined;
  holds: 'whole' | 'prefix';
  /** The file waiting as a copy it is: its handle stays the deferral's until it is taken up. */
  waiting: Deferral | undefined;
}

/** How long a file has been waiting as a copy: `Deferral` without its handle. */
type Wait = Pick<Deferral, 'since' | 'size' | 'changedAt'>;

/** A path whose file could be opened but not read (EIO, ESTALE): not taken up before `at`. */
interface Retry {
  at: number;
  backoff: Backoff;
}

/**
 * The table of files followed: which file a path leads to, what a newly found path is
 * (a rename, a checkpointed file, a copy of a lost one, a new file: identity.ts decides),
 * what a file's own check means for the others (tailed file: file.ts), and the positions
 * that make the checkpoint.
 */
export class Tracker {
  private readonly files = new Map<string, TailedFile>();
  /** Files by the path they are followed at, and those paths by directory (the neighbours copyNameOf looks at). */
  private readonly byPath = new Map<string, TailedFile>();
  private readonly byDir = new Map<string, Set<string>>();
  readonly ids: Identities;
  readonly fds: Descriptors;
  private readonly label: { component: string };
  private now = 0;
  /** Paths that could not be opened (permissions): reported once, not at every rescan. */
  private readonly unreadable = new Set<string>();
  /** Paths whose file could not be read when found: looked at again after a backoff. */
  private readonly retries = new Map<string, Retry>();
  /** Checkpoint entries whose file could not be read yet (in `ids.restored`): looked for again after this. */
  private recoverAt = 0;
  private readonly recovering = retryBackoff();
  /** The very first scan of this source (no checkpoint yet): where start_at applies. */
  firstRun = false;

  constructor(
    private readonly s: TrackerSettings,
    private readonly matcher: PathMatcher,
    private readonly logger: Logger,
  ) {
    this.label = { component: s.sourceName };
    this.ids = new Identities(s.format?.mayContinue);
    this.fds = new Descriptors(s.maxOpenFiles, fileMetrics.openFiles, this.label);
  }

  /** The files to read, in a stable order. */
  followed(): TailedFile[] {
    return [...this.files.values()];
  }

  has(path: string): boolean {
    return this.byPath.has(path);
  }

  at(path: string): TailedFile | undefined {
    return this.byPath.get(path);
  }

  setTime(now: number): void {
    this.now = now;
  }

  /**
   * A path from discovery: a known file (maybe renamed), a file of the checkpoint, a copy of
   * a lost one, or a new file. A file that cannot be read (EIO, ESTALE) is logged, counted
   * and looked at again after a backoff; the others are taken up meanwhile.
   */
  async adopt(path: string): Promise<void> {
    if (!this.matcher.matches(path)) return;
    const retry = this.retries.get(path);
    if (retry && retry.at > this.now) return;
    try {
      await this.identify(path, await this.stillThere(path), retry);
      this.retries.delete(path);
    } catch (err) {
      if (!isFileError(err)) throw err;
      const r = retry ?? { at: 0, backoff: retryBackoff() };
      this.retries.set(path, r);
      const delay = r.backoff.nextDelay();
      r.at = this.now + delay;
      this.cannotRead(err, delay, r.backoff.failures, { path });
    }
  }

  /**
   * The file waiting as a copy at `path`, no longer waiting: decided again, through its own
   * handle, when the path still leads to it. One the path no longer leads to (deleted,
   * compressed, replaced) may hold lines its original no longer does: that original is looked
   * at first, the file still waiting, so that a truncation found now continues from it; else
   * it is given up. An error leaves it waiting as it was, to be looked at again.
   */
  private async stillThere(path: string): Promise<Deferral | undefined> {
    const d = this.ids.deferred.get(path);
    if (!d) return undefined;
    let st: Stats | undefined;
    try {
      st = await statPath(path);
    } catch (err) {
      // Unreadable for longer than any wait lasts (ESTALE, EACCES): its handle is let go.
      if (this.now >= d.since + Math.max(this.s.rotateWait, this.s.forgetAfter)) await this.endDeferral(path, d);
      throw err;
    }
    if (st && `${st.dev}:${st.ino}` === d.key) {
      this.ids.deferred.delete(path);
      return d;
    }
    const original = d.of === undefined ? undefined : this.files.get(d.of);
    try {
      if (original) await this.check(original);
    } finally {
      if (this.ids.deferred.get(path) === d) await this.endDeferral(path, d);
    }
    return undefined;
  }

  /** `deferral`: the file at `path` was waiting as a copy; looked at through its handle. */
  private async identify(path: string, deferral: Deferral | undefined, retry: Retry | undefined): Promise<void> {
    let fh: FileHandle;
    if (deferral) fh = deferral.fh;
    else {
      try {
        fh = await openToRead(path);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code !== 'ENOENT' && !this.unreadable.has(path)) {
          if (this.unreadable.size < 10_000) this.unreadable.add(path);
          this.logger.warn({ path, err: e }, 'cannot open file; trying again at every rescan');
        }
        return;
      }
      if (this.unreadable.delete(path)) this.logger.info({ path }, 'file can be opened now');
    }
    let kept = false;
    try {
      const st = await fh.stat();
      if (!st.isFile()) return;
      const key = `${st.dev}:${st.ino}`;
      const known = this.byPath.get(path);
      const same = this.files.get(key);
      if (known && known !== same) known.detach();
      if (same) {
        this.renamed(same, path);
        return;
      }
      let description: FileDescription | undefined;
      if (this.s.format && !(description = await this.s.format.describe(path))) return;
      const prefix = new Prefix(await readPrefix(fh, this.s.fingerprintBytes));
      if (retry) this.logger.info({ path, failures: retry.backoff.failures }, 'file can be read again');
      const d = this.ids.decide(key, path, st.size, prefix, this.files.values(), this.now);
      if (d.kind === 'resume') {
        const { entry } = d;
        const fp = entry.fp.len === 0 ? prefix.fp : entry.fp;
        kept = await this.track(fh, st, prefix, fp, path, entry.pos, entry.fp.len === 0 ? undefined : entry.id, description, 'checkpoint');
        this.files.get(key)!.prefixOf = entry.prefixOf;
        return;
      }
      // A file that starts like a generation let go continues it only if it holds what was
      // read of it: another writer's file with the same header does not.
      const { tail } = d.kind === 'continue' ? d.lost : {};
      if (d.kind === 'continue' && (tail === undefined || (await digestBefore(fh, d.lost.pos)) === tail)) {
        kept = await this.track(fh, st, prefix, d.lost.fp, path, d.lost.pos, d.lost.id, description, 'continued', { was: d.lost.path });
        return;
      }
      if (d.kind === 'continue') this.ids.addLost(d.lost);
      let how: How = 'new';
      if (d.kind === 'new' && prefix.bytes.length < this.s.fingerprintBytes) {
        // cp creates the copy, then writes it: a copy seen before a fingerprint's worth of its
        // bytes is told from a new file only by its name and by being the start of its original.
        const original = this.copyNameOf(path);
        if (original) {
          const { generation } = original;
          const looked = await this.lookAtOriginal(original, path, deferral, key, prefix, st.size);
          if (looked) {
            kept = looked === 'kept';
            return;
          }
          const was = deferral?.generation === undefined ? undefined : deferral;
          // Its original truncated, replaced or gone while it was short: the shorter-copy rule decided then.
          const same =
            this.isLive(original) &&
            original.generation === generation &&
            (was === undefined || (was.of === original.key && was.generation === generation));
          if (same && (await this.beginsLike(original, prefix.bytes)) !== false) {
            const waiting = this.stillWaiting(path, st.size, deferral, original.path, true);
            if (waiting && this.mayPin(path, fh, deferral)) {
              kept = await this.defer(path, { ...waiting, fh, key, of: original.key, generation });
              return;
            }
            how = 'copy_after_wait';
          }
        }
      }
      if (d.kind === 'twin') {
        // Starts like a live file: a copytruncate copy whose truncation we have not seen yet,
        // or a genuine copy. Look at the original now; else wait for it to be truncated.
        const twin = this.ids.twinOf(path, prefix, this.followed());
        const looked = await this.lookAtOriginal(twin, path, deferral, key, prefix, st.size);
        if (looked) {
          kept = looked === 'kept';
          return;
        }
        const copying = twin !== undefined && (await this.endsLike(fh, st.size, twin));
        const waiting = this.stillWaiting(path, st.size, deferral, twin?.path, copying);
        if (waiting && this.mayPin(path, fh, deferral)) {
          kept = await this.defer(path, { ...waiting, fh, key, of: twin?.key });
          return;
        }
        how = 'copy_after_wait';
      }
      const pos = this.firstRun && this.s.startAtEnd ? st.size : 0;
      kept = await this.track(fh, st, prefix, prefix.fp, path, pos, undefined, description, how);
    } finally {
      if (!kept) {
        this.fds.unpin(fh);
        await fh.close();
      }
    }
  }

  /**
   * Before a new file waits as a copy of `original`: that original is looked at now. Found
   * truncated, its copy may be this very file, taken up through its own handle (`kept`) or
   * opened again (`done`), or may be taken up by a later look, once the generation let go
   * is remembered (`done`, looked at again). Undefined: the file is still undecided.
   */
  private async lookAtOriginal(
    original: TailedFile | undefined,
    path: string,
    deferral: Deferral | undefined,
    key: string,
    prefix: Prefix,
    size: number,
  ): Promise<'kept' | 'done' | undefined> {
    if (original && (await this.checkWhileWaiting(original, path, deferral))) return 'kept';
    if (this.files.has(key)) return 'done';
    if (this.ids.continuable(path, prefix, size)) {
      this.s.lookAgain(path);
      return 'done';
    }
    return undefined;
  }

  /**
   * Looks at `original` with the file at `path` back among the waiting ones if it was waiting:
   * a truncation found now continues from it through its handle, even if it is in another
   * directory (olddir) or already gone by name. Whether it was taken up so (its handle is the
   * followed file's then).
   */
  private async checkWhileWaiting(original: TailedFile, path: string, deferral: Deferral | undefined): Promise<boolean> {
    if (deferral) this.ids.deferred.set(path, deferral);
    try {
      await this.check(original);
    } finally {
      if (deferral && this.ids.deferred.get(path) === deferral) this.ids.deferred.delete(path);
    }
    return deferral !== undefined && this.files.get(deferral.key)?.fh === deferral.fh;
  }

  /**
   * Whether a file may wait as a copy with its handle open: one waiting already may; a new
   * one only while fewer than a quarter of max_open_files wait, so that a burst of files with
   * a followed file's first bytes (a job's fixed banner) cannot take the descriptors of the
   * files being read. One beyond is read as a new file at once (if it was a copy, its lines
   * come twice).
   */
  private mayPin(path: string, fh: FileHandle, deferral: Deferral | undefined): boolean {
    if (deferral?.fh === fh || this.fds.canPin()) return true;
    this.logger.warn(
      { path, waiting: this.ids.deferred.size, max_open_files: this.s.maxOpenFiles },
      'too many files waiting as copies of followed ones; reading this one as a new file (if it is a copy, its lines come twice)',
    );
    return false;
  }

  /** Keeps a new file waiting as a copy (`stillWaiting`), its handle open and counted against max_open_files. */
  private async defer(path: string, d: Deferral): Promise<boolean> {
    await this.fds.pin(d.fh);
    this.ids.deferred.set(path, d);
    return true;
  }

  /** A wait that ends without the file being taken up: its handle is closed. */
  private async endDeferral(path: string, d: Deferral): Promise<void> {
    this.ids.deferred.delete(path);
    this.fds.unpin(d.fh);
    await d.fh.close().catch(() => undefined);
  }

  /**
   * After the first scan of a start: checkpointed files not found under a followed name were
   * renamed (or deleted) while the source was down. Each is looked for by identity (device +
   * inode + first bytes) among the files of its directory, whatever their names, and read
   * to its end before it is let go; the others are remembered as lost. One that cannot be
   * read (EIO, ESTALE) keeps its entry, position included, and is looked for again after a
   * backoff.
   */
  async recoverMoved(): Promise<void> {
    const inodes = new Map<string, Map<string, string>>();
    let retryIn: number | undefined;
    for (const [key, entry] of [...this.ids.restored]) {
      const dir = dirname(entry.path);
      let byInode = inodes.get(dir);
      if (!byInode) inodes.set(dir, (byInode = await inodesOf(dir)));
      const at = byInode.get(key);
      if (at !== undefined && this.retries.has(at)) {
        // Its path failed to be read when found: tried again there, resumed from this entry.
        retryIn ??= this.recovering.nextDelay();
        continue;
      }
      try {
        if (at !== undefined && (await this.recover(entry, at))) continue;
      } catch (err) {
        if (!isFileError(err)) throw err;
        retryIn ??= this.recovering.nextDelay();
        this.cannotRead(err, retryIn, this.recovering.failures, { path: entry.path, found_at: at, file_id: entry.id, offset: entry.pos });
        continue;
      }
      this.ids.restored.delete(key);
      this.ids.addLost(lostOf(entry, this.now));
    }
    if (retryIn === undefined) this.recovering.reset();
    else this.recoverAt = this.now + retryIn;
  }

  /**
   * The scanned paths, those holding a checkpointed file first. A copy made while the source
   * was down (copytruncate) whose name sorts before its original's would otherwise be
   * decided first, as a new file read again from its start; decided after the original, it
   * finds the original's position remembered as lost and continues there.
   */
  async checkpointedFirst(paths: string[]): Promise<string[]> {
    if (this.ids.restored.size === 0) return paths;
    const first: string[] = [];
    const rest: string[] = [];
    for (const p of paths) {
      const st = await stat(p).catch(() => undefined);
      (st && this.ids.restored.has(`${st.dev}:${st.ino}`) ? first : rest).push(p);
    }
    return [...first, ...rest];
  }

  private async recover(entry: FileEntry, at: string): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await openToRead(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    let kept = false;
    try {
      const st = await fh.stat();
      if (`${st.dev}:${st.ino}` !== `${entry.dev}:${entry.ino}` || st.size < entry.pos) return false;
      const prefix = new Prefix(await readPrefix(fh, this.s.fingerprintBytes));
      if (entry.fp.len > 0 && !prefix.startsLike(entry.fp)) return false;
      let description: FileDescription | undefined;
      if (this.s.format && !(description = await this.s.format.describe(entry.path))) return false;
      this.ids.restored.delete(`${st.dev}:${st.ino}`);
      const fp = entry.fp.len === 0 ? prefix.fp : entry.fp;
      // Events keep the name the file was followed under (its fields, its stream); it is
      // not found under a followed name, so it is read to its end and let go.
      kept = await this.track(
        fh,
        st,
        prefix,
        fp,
        entry.path,
        entry.pos,
        entry.fp.len === 0 ? undefined : entry.id,
        description,
        'moved_while_stopped',
        {
          found_at: at,
          followed: false,
        },
      );
      this.files.get(`${st.dev}:${st.ino}`)!.prefixOf = entry.prefixOf;
      return kept;
    } finally {
      if (!kept) await fh.close();
    }
  }

  /**
   * The live file (followed at its path) of the directory of `path` whose copies logrotate
   * names as `path` is named (`namedAfter`), and that it may be a copy of (the format's rule).
   * Of several (app.log and app.log-20261130 for app.log-20261130.1), the longest name.
   */
  private copyNameOf(path: string): TailedFile | undefined {
    const dir = dirname(path);
    const name = basename(path);
    let found: TailedFile | undefined;
    for (const p of this.byDir.get(dir) ?? []) {
      if (found && p.length <= found.path.length) continue;
      const f = this.byPath.get(p)!;
      if (this.isLive(f) && namedAfter(basename(p), name) && this.ids.mayContinue(p, path)) found = f;
    }
    return found;
  }

  /** Followed at its path (not renamed away, deleted or let go). */
  private isLive(f: TailedFile): boolean {
    return (f.state === 'following' || f.state === 'closed') && this.byPath.get(f.path) === f;
  }

  /**
   * Whether `bytes` are the first bytes of the generation `f` is reading, read from its file;
   * undefined when that file no longer starts like the generation (truncated or rewritten
   * since its last check: the next one decides) or cannot be read.
   */
  private async beginsLike(f: TailedFile, bytes: Buffer): Promise<boolean | undefined> {
    let fh: FileHandle;
    try {
      fh = await openToRead(f.path);
    } catch (err) {
      if (isFileError(err)) return undefined;
      throw err;
    }
    try {
      const st = await fh.stat();
      if (st.dev !== f.dev || st.ino !== f.ino) return undefined;
      const head = await readPrefix(fh, Math.max(bytes.length, f.fp.len));
      if (f.fp.len > 0 && !new Prefix(head).startsLike(f.fp)) return undefined;
      return head.length >= bytes.length && head.subarray(0, bytes.length).equals(bytes);
    } catch (err) {
      if (isFileError(err)) return undefined;
      throw err;
    } finally {
      await fh.close();
    }
  }

  /**
   * Whether a file that starts like a followed one (a copytruncate copy in the making?) waits
   * longer for that one's truncation, and how: until rotate_wait after a look last found it
   * grown, since a copy of a large file may take longer than rotate_wait to write; but no
   * longer than forget_after (at least rotate_wait) after it was first seen, for a file that
   * grows for ever and is no copy (another writer starting with the same bytes).
   */
  private stillWaiting(
    path: string,
    size: number,
    was: Deferral | undefined,
    like: string | undefined,
    copying: boolean,
  ): Wait | undefined {
    const now = this.now;
    const d = { since: was?.since ?? now, size, changedAt: was && was.size === size ? was.changedAt : now };
    // Only a file whose end is its look-alike's bytes at the same place is being copied: a new
    // file after a rename rotation (same header, its own lines) waits rotate_wait as before.
    if (!copying) return now < d.since + this.s.rotateWait ? d : undefined;
    if (now >= d.changedAt + this.s.rotateWait) return undefined;
    if (now < d.since + Math.max(this.s.rotateWait, this.s.forgetAfter)) return d;
    this.logger.warn(
      { path, like, waited_ms: now - d.since },
      'file starting like a followed one still grows after forget_after; reading it as a new file',
    );
    return undefined;
  }

  /**
   * Looks at a followed file and acts on what it found (file.ts: the transitions). A copy
   * found at a truncation continues the generation that ended at once: deleted right after
   * (compressed), it is still read through the descriptor opened here. Returns whether
   * the file had changed since the last look (the poll schedule's evidence), undefined when
   * it was not looked at (waiting to retry after an error).
   */
  async check(f: TailedFile): Promise<boolean | undefined> {
    if (f.retryAt > this.now) return undefined;
    const found: { copy?: Copy } = {};
    try {
      const r = await f.check(this.now, async (fp, end, read) => (found.copy = await this.copyHolding(f, fp, end, read))?.holds);
      if (r.moved) await this.findMoved(f);
      else this.apply(f, r, found.copy === undefined);
      if (r.truncated && found.copy) {
        const { copy } = found;
        found.copy = undefined;
        await this.continueCopy(copy, r.truncated);
      }
      return r.changed === true;
    } catch (err) {
      await this.failed(f, err);
      return false;
    } finally {
      if (found.copy) await closeCopy(found.copy);
    }
  }

  /** Reads a chunk of a file; a closed file that cannot be reopened is looked for by its inode, or let go. */
  async read(f: TailedFile, buf: Buffer, paused: () => boolean): Promise<number> {
    if (f.retryAt > this.now) return 0;
    try {
      const claimed = f.prefixOf;
      const n = await f.read(buf, this.now, paused);
      if (claimed !== undefined && f.prefixOf === undefined) this.disproved(f, claimed);
      if (n >= 0) {
        if (f.failing) this.readable(f);
        return n;
      }
      await this.findMoved(f);
    } catch (err) {
      await this.failed(f, err);
    }
    return 0;
  }

  /**
   * Forgets lost entries older than forget_after; looks again at deferred copies, and at files
   * that could not be read once their backoff is over.
   */
  async housekeeping(): Promise<void> {
    this.ids.forget(this.now, this.s.forgetAfter);
    for (const p of this.ids.deferred.keys()) this.s.lookAgain(p);
    for (const [p, r] of this.retries) if (r.at <= this.now) this.s.lookAgain(p);
    if (this.ids.restored.size > 0 && this.now >= this.recoverAt) await this.recoverMoved();
  }

  /** The positions of everything handed on so far: valid as "acknowledged" whenever no batch is pending. */
  state(): FileSourceState {
    // By "dev:ino", as `files` and `ids.restored` are: an entry leaves `restored` before its
    // inode is followed, so no key is in both.
    const files: Record<string, FileEntry> = {};
    for (const f of this.files.values()) {
      const entry: FileEntry = { id: f.id, dev: f.dev, ino: f.ino, fp: f.fp, path: f.path, pos: f.emitPos };
      if (f.prefixOf !== undefined) entry.prefixOf = f.prefixOf;
      const tail = f.tail();
      if (tail !== undefined) entry.tail = tail;
      files[f.key] = entry;
    }
    // Checkpointed files that could not be read yet keep their positions.
    for (const [key, entry] of this.ids.restored) files[key] = entry;
    return { v: 2, files, lost: [...this.ids.lostEntries] };
  }

  /** Where each file's events up to now end: what a put about to be made carries. */
  positions(): Map<TailedFile, number> {
    const at = new Map<TailedFile, number>();
    for (const f of this.files.values()) at.set(f, f.emitPos);
    return at;
  }

  /**
   * The channel has the events up to `at` (default: up to where each file's events end,
   * when no batch is pending): returns the bytes that became durable.
   */
  settle(at?: Map<TailedFile, number>): number {
    let done = 0;
    for (const f of this.files.values()) {
      const pos = at ? at.get(f) : f.emitPos;
      if (pos === undefined || pos <= f.durablePos) continue;
      done += pos - f.durablePos;
      f.durablePos = pos;
    }
    return done;
  }

  /** Bytes of the followed files not in the channel yet (size at the last look minus durable position). */
  lag(): number {
    let bytes = 0;
    for (const f of this.files.values()) if (f.size > f.durablePos) bytes += f.size - f.durablePos;
    return bytes;
  }

  get count(): number {
    return this.files.size;
  }

  /** Closes every file without emitting what their readers hold (a stop, or a restart from the last durable position). */
  async closeAll(): Promise<void> {
    for (const f of this.files.values()) await f.release();
    for (const [p, d] of [...this.ids.deferred]) await this.endDeferral(p, d);
    this.files.clear();
    this.byPath.clear();
    this.byDir.clear();
    this.retries.clear();
    this.recovering.reset();
  }

  /**
   * One followed file's read or check failed (EIO, ESTALE): logged, counted, and tried again
   * after a backoff at the same position, while the others are read on. Anything else is a
   * bug, for the source's supervision.
   */
  private async failed(f: TailedFile, err: unknown): Promise<void> {
    if (!isFileError(err)) throw err;
    f.failing ??= retryBackoff();
    const delay = f.failing.nextDelay();
    f.retryAt = this.now + delay;
    this.cannotRead(err, delay, f.failing.failures, { path: f.path, file_id: f.id, offset: f.readPos });
    // A stale NFS handle never works again: a followed file is opened by its path again and
    // verified when it is retried. A detached one keeps its descriptor: nothing else leads to it.
    if (f.state === 'following') await f.closeIdle();
  }

  private disproved(f: TailedFile, was: string): void {
    this.logger.warn(
      { path: f.path, was, file_id: f.id },
      'file taken for the copy of a truncated one grew after; reading it again from its start',
    );
  }

  private readable(f: TailedFile): void {
    this.logger.info({ path: f.path, file_id: f.id, failures: f.failing!.failures }, 'file can be read again');
    f.failing = undefined;
  }

  private cannotRead(err: unknown, retryIn: number, failures: number, fields: Record<string, unknown>): void {
    fileMetrics.fileErrors.inc(this.label);
    this.logger.warn({ ...fields, err, failures, retry_in_ms: retryIn }, 'cannot read file; trying it again later');
  }

  /**
   * A closed file (max_open_files, idle_close) its path no longer leads to: renamed while it
   * was closed, it is found by its inode in its directory, as after a restart, and read there
   * to its end (detached); not found (deleted, or rewritten in place), it is let go.
   */
  private async findMoved(f: TailedFile): Promise<void> {
    const inodes = await inodesOf(dirname(f.path));
    const pathTaken = [...inodes.values()].includes(f.path);
    if (pathTaken) this.s.lookAgain(f.path);
    const at = inodes.get(f.key);
    if (at !== undefined && (await f.reopen(at))) {
      if (at !== f.path)
        this.logger.info({ path: f.path, file_id: f.id, pos: f.emitPos, found_at: at }, 'closed file found under another name');
      return;
    }
    await f.release();
    this.apply(f, { release: pathTaken ? 'replaced' : 'deleted' });
  }

  /** `remember`: a truncated generation is remembered as lost (not when a copy found now continues it). */
  private apply(f: TailedFile, r: CheckResult, remember = true): void {
    if (r.truncated) {
      if (remember) this.ids.addLost(r.truncated);
      fileMetrics.truncations.inc(this.label);
      this.logger.info({ path: f.path, file_id: r.truncated.id, pos: r.truncated.pos }, 'file truncated; reading it again from the start');
      // A copy waiting for its original's truncation can now be recognised.
      for (const p of this.ids.deferred.keys()) this.s.lookAgain(p);
    }
    if (r.pathTaken) this.s.lookAgain(f.path);
    if (r.release) {
      if (this.files.get(f.key) === f) this.files.delete(f.key);
      if (this.byPath.get(f.path) === f) this.deletePath(f.path);
      this.ids.addLost(f.lostEntry(this.now));
      fileMetrics.released.inc(this.label);
      this.logger.info({ path: f.path, file_id: f.id, pos: f.emitPos, reason: r.release }, 'file let go');
    }
  }

  /**
   * Whether the last bytes of the file behind `fh` (`size` long) are those of `twin` at the same
   * offsets: what a copy being written has, and a file with only the same first bytes has not.
   */
  private async endsLike(fh: FileHandle, size: number, twin: TailedFile): Promise<boolean> {
    const n = Math.min(READ_TAIL_BYTES, size);
    if (n === 0) return false;
    const mine = Buffer.alloc(n);
    if ((await fh.read(mine, 0, n, size - n)).bytesRead !== n) return false;
    let other: FileHandle;
    try {
      other = await openToRead(twin.path);
    } catch (err) {
      if (isFileError(err) || (err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    try {
      const st = await other.stat();
      if (st.dev !== twin.dev || st.ino !== twin.ino) return false;
      return await holdsAt(other, mine, size);
    } finally {
      await other.close();
    }
  }

  /**
   * A copy of the generation of `f` that ends now: a file of its directory matching the globs,
   * or one already waiting as a copy (elsewhere), not followed, starting with the
   * generation's first bytes, and holding all of it up to `end`, or (in its directory only) a
   * start of what was read (`copyOf`). One holding all of it is taken before one holding a
   * start. Opened and looked at before the generation ends, so it is certain to continue it.
   */
  private async copyHolding(f: TailedFile, fp: Fingerprint, end: number, read: Buffer): Promise<Copy | undefined> {
    const dir = dirname(f.path);
    const names = await readdir(dir).catch(() => [] as string[]);
    // A file waiting as a copy is looked at through its handle, whether its path still leads to it or not.
    const waiting = [...this.ids.deferred];
    const held = new Set(waiting.map(([, d]) => d.key));
    const candidates: [string, Deferral | undefined][] = [
      ...names.map((n): [string, undefined] => [join(dir, n), undefined]).filter(([p]) => this.matcher.matches(p)),
      ...waiting,
    ];
    const least = shortestCopy(fp, end, read.length);
    let start: Copy | undefined;
    let ambiguous = false;
    try {
      for (const [path, deferral] of candidates) {
        if (!this.ids.mayContinue(f.path, path)) continue;
        try {
          // logrotate writes its copy beside the original, under a name made from the
          // original's: a shorter file elsewhere, or named otherwise, ending like what was read
          // is more likely another writer's with the same output.
          const named = dirname(path) === dir && namedAfter(basename(f.path), basename(path));
          const copy = await this.openCopy(path, deferral, held, fp, end, read, named ? least : end);
          if (copy?.holds === 'whole') return copy;
          if (copy && start) {
            // Two could each be the copy: the one not taken would never be read. Neither is
            // taken, and both are read as new files (the real copy's lines twice).
            await closeCopy(copy);
            ambiguous = true;
          } else if (copy) start = copy;
        } catch (err) {
          // One that cannot be read is no copy to rely on; the file itself is fine.
          if (!isFileError(err)) throw err;
        }
      }
      if (ambiguous) return undefined;
      const found = start;
      start = undefined;
      return found;
    } finally {
      if (start) await closeCopy(start);
    }
  }

  /**
   * `waiting`: the file waiting as a copy at `path`, read through its handle; else the file at
   * `path`, unless it is one of those (`held`, by "dev:ino"). `least`: the shortest file to
   * look at (`end` when only a whole copy will do).
   */
  private async openCopy(
    path: string,
    waiting: Deferral | undefined,
    held: Set<string>,
    fp: Fingerprint,
    end: number,
    read: Buffer,
    least: number,
  ): Promise<Copy | undefined> {
    let fh: FileHandle;
    if (waiting) fh = waiting.fh;
    else {
      // Most files of the directory are followed: a stat rules them out without opening them.
      const seen = await statPath(path);
      if (!seen || held.has(`${seen.dev}:${seen.ino}`) || !this.mayBeCopy(seen, least)) return undefined;
      try {
        fh = await openToRead(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    }
    let copy: Copy | undefined;
    try {
      const st = await fh.stat();
      if (!this.mayBeCopy(st, least) || (!waiting && held.has(`${st.dev}:${st.ino}`))) return undefined;
      const prefix = new Prefix(await readPrefix(fh, this.s.fingerprintBytes));
      if (!prefix.startsLike(fp)) return undefined;
      const holds = await copyOf(fh, st.size, fp, end, read);
      if (!holds) return undefined;
      let description: FileDescription | undefined;
      if (this.s.format && !(description = await this.s.format.describe(path))) return undefined;
      copy = { path, fh, st, prefix, description, holds, waiting };
      return copy;
    } finally {
      if (!copy && !waiting) await fh.close();
    }
  }

  private mayBeCopy(st: Stats, least: number): boolean {
    const key = `${st.dev}:${st.ino}`;
    return st.isFile() && st.size >= least && !this.files.has(key) && !this.ids.restored.has(key);
  }

  /**
   * Takes up a copy found at its original's truncation where the generation that ended
   * stopped. A copy shorter than that was read to its end already: it is followed from there
   * under a fileId of its own, as a new file, so that if it turns out to be no copy (it grows)
   * and is read from its start, none of its events has an id of the original's.
   */
  private async continueCopy(c: Copy, lost: LostEntry): Promise<void> {
    this.retries.delete(c.path);
    if (c.holds === 'whole') {
      await this.track(c.fh, c.st, c.prefix, lost.fp, c.path, lost.pos, lost.id, c.description, 'continued', { was: lost.path });
    } else {
      await this.track(c.fh, c.st, c.prefix, c.prefix.fp, c.path, c.st.size, undefined, c.description, 'continued', { was: lost.path });
      this.files.get(`${c.st.dev}:${c.st.ino}`)!.prefixOf = lost.path;
    }
    // Its handle is the followed file's now (until then the deferral's, for a stop to close).
    if (c.waiting && this.ids.deferred.get(c.path) === c.waiting) this.ids.deferred.delete(c.path);
  }

  private renamed(f: TailedFile, path: string): void {
    if (f.path !== path) {
      if (this.byPath.get(f.path) === f) this.deletePath(f.path);
      this.logger.debug({ path, was: f.path, file_id: f.id }, 'file renamed');
    }
    f.follow(path);
    this.setPath(path, f);
  }

  private setPath(path: string, f: TailedFile): void {
    this.byPath.set(path, f);
    const dir = dirname(path);
    let paths = this.byDir.get(dir);
    if (!paths) this.byDir.set(dir, (paths = new Set()));
    paths.add(path);
  }

  private deletePath(path: string): void {
    this.byPath.delete(path);
    const dir = dirname(path);
    const paths = this.byDir.get(dir);
    if (paths?.delete(path) && paths.size === 0) this.byDir.delete(dir);
  }

  private async track(
    fh: FileHandle,
    st: Stats,
    prefix: Prefix,
    fp: Fingerprint,
    path: string,
    pos: number,
    id: string | undefined,
    description: FileDescription | undefined,
    how: How,
    extra: { was?: string; found_at?: string; followed?: boolean } = {},
  ): Promise<boolean> {
    // Taken up at a position, it has read nothing yet: the bytes before it (what was read of
    // it, or of the generation it continues) give the lost entry it leaves a tail to compare.
    const before = pos > 0 ? await bytesBefore(fh, pos) : undefined;
    // The handle of a file that was waiting as a copy is counted as this file's from now on.
    this.fds.unpin(fh);
    await this.fds.makeRoom();
    const f = new TailedFile(
      id ?? fileIdOf(st.dev, st.ino, fp),
      st.dev,
      st.ino,
      fp,
      path,
      pos,
      this.now,
      this.fds,
      this.s,
      this.s.newReader,
      prefix.bytes,
    );
    f.adoptHandle(fh);
    if (before) f.readBefore(before);
    f.size = st.size;
    f.description = description;
    this.setFields(f);
    this.files.set(f.key, f);
    const { followed = true, ...also } = extra;
    if (followed) {
      const old = this.byPath.get(path);
      if (old && old !== f) old.detach();
      this.setPath(path, f);
    } else f.detach();
    this.logger.info({ path, file_id: f.id, pos, how, encoding: f.reader.encoding, ...also }, 'file taken up');
    return true;
  }

  /**
   * service / module / fields from the format's description, else the path template, else
   * the defaults. Set once, when the file is taken up: a file renamed by rotation keeps
   * them (its rotated name rarely fits the template), only `source.path` follows the name.
   */
  private setFields(f: TailedFile): void {
    if (f.description) {
      f.service = f.description.service;
      f.module = f.description.module;
      f.fields = f.description.fields;
      f.hasFields = true;
      return;
    }
    const s = this.s;
    const { service, module, ...rest } = s.template?.capture(f.path) ?? {};
    f.service = s.service ?? service ?? s.sourceName;
    f.module = s.module ?? module ?? basename(f.path, extname(f.path));
    f.fields = { ...s.fields, ...rest };
    f.hasFields = Object.keys(f.fields).length > 0;
  }
}

/** A copy found at a truncation and not taken up is closed, unless its handle is a waiting file's. */
async function closeCopy(c: Copy): Promise<void> {
  if (!c.waiting) await c.fh.close().catch(() => undefined);
}

/** Regular files of a directory by "dev:ino" (empty when it cannot be read). */
async function inodesOf(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const p = join(dir, name);
    const st = await stat(p).catch(() => undefined);
    if (st?.isFile()) out.set(`${st.dev}:${st.ino}`, p);
  }
  return out;
}

/**
 * The shortest file that can be shown to hold the start of a generation read up to `end`
 * with its last `known` bytes: its end compared with MIN_OVERLAP_BYTES of them, past the
 * first bytes the fingerprint compares.
 */
function shortestCopy(fp: Fingerprint, end: number, known: number): number {
  return Math.min(end, Math.max(fp.len, end - known) + MIN_OVERLAP_BYTES);
}

/**
 * How a file `size` long, starting like the generation (`fp`), holds what was read of it up to
 * `end` (`read`: its last bytes): `whole` when it is at least as long and holds the last
 * READ_TAIL_BYTES at the same place; `prefix` when it is shorter and all its bytes that `read`
 * covers past the fingerprint (MIN_OVERLAP_BYTES at least) are what was read there: a file
 * that differs anywhere in them is no copy.
 */
async function copyOf(fh: FileHandle, size: number, fp: Fingerprint, end: number, read: Buffer): Promise<'whole' | 'prefix' | undefined> {
  if (size >= end) return (await holdsAt(fh, read.subarray(Math.max(0, read.length - READ_TAIL_BYTES)), end)) ? 'whole' : undefined;
  const from = Math.max(fp.len, end - read.length);
  if (size - from < MIN_OVERLAP_BYTES) return undefined;
  const at = read.length - (end - from);
  return (await holdsAt(fh, read.subarray(at, at + size - from), size)) ? 'prefix' : undefined;
}

/**
 * Whether `name` is made from the file name `original` as logrotate names its copies: the
 * original's name, or its stem keeping its extension (`extension` option), then a rotation
 * suffix (app.log.1, app.log-20261130, app.1.log, app-20261130.log). Only those shapes:
 * another writer's `job-2.log` beside `job.log` is no copy of it. String comparisons only:
 * names are untrusted input.
 */
export function namedAfter(original: string, name: string): boolean {
  if (name.length > original.length && name.startsWith(original) && rotationSuffix(name.slice(original.length))) return true;
  const ext = extname(original);
  const stem = original.slice(0, original.length - ext.length);
  return (
    ext !== '' &&
    name.length > original.length &&
    name.startsWith(stem) &&
    name.endsWith(ext) &&
    rotationSuffix(name.slice(stem.length, name.length - ext.length))
  );
}

/**
 * A suffix logrotate puts on a copy: `.` and a number (numbered rotation), or a separator
 * (`-` by default, `_` or `.` by `dateformat`) and a date: digits and separators with at
 * least the 8 digits of a day.
 */
function rotationSuffix(suffix: string): boolean {
  const sep = suffix[0];
  if (sep !== '.' && sep !== '-' && sep !== '_') return false;
  let digits = 0;
  let others = 0;
  for (let i = 1; i < suffix.length; i++) {
    const c = suffix.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c === 45 || c === 46 || c === 95) others++;
    else return false;
  }
  if (digits === 0 || !(suffix.charCodeAt(1) >= 48 && suffix.charCodeAt(1) <= 57)) return false;
  return (sep === '.' && others === 0) || digits >= 8;
}

/**
 * The READ_TAIL_BYTES (at most) just before `pos`, or undefined when the file holds fewer or
 * they cannot be read (EIO): the file is taken up all the same (a copy found at a truncation
 * has no other chance), its own reads then fail and are retried.
 */
async function bytesBefore(fh: FileHandle, pos: number): Promise<Buffer | undefined> {
  const n = Math.min(READ_TAIL_BYTES, pos);
  const got = Buffer.alloc(n);
  try {
    const { bytesRead } = await fh.read(got, 0, n, pos - n);
    return bytesRead === n ? got : undefined;
  } catch (err) {
    if (!isFileError(err)) throw err;
    return undefined;
  }
}

/** The tail digest of the bytes of `fh` before offset `end` (undefined when it has fewer). */
async function digestBefore(fh: FileHandle, end: number): Promise<string | undefined> {
  const n = Math.min(READ_TAIL_BYTES, end);
  const got = Buffer.alloc(n);
  const { bytesRead } = await fh.read(got, 0, n, end - n);
  return bytesRead === n ? tailDigest(got) : undefined;
}

/** Whether `fh` holds `bytes` just before offset `end`. */
async function holdsAt(fh: FileHandle, bytes: Buffer, end: number): Promise<boolean> {
  if (bytes.length === 0) return true;
  const got = Buffer.alloc(bytes.length);
  const { bytesRead } = await fh.read(got, 0, bytes.length, end - bytes.length);
  return bytesRead === bytes.length && got.equals(bytes);
}
