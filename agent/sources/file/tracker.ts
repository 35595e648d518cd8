import type { Stats } from 'node:fs';
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { Logger } from '../../../core/log.js';
import type { FileEntry, FileSourceState } from './checkpoint.js';
import { Descriptors } from './descriptors.js';
import type { PathTemplate } from './path-template.js';
import { type CheckResult, type FileTimings, TailedFile } from './file.js';
import { type Fingerprint, fileIdOf, readPrefix } from './fingerprint.js';
import type { FileDescription, FileFormat } from './format.js';
import type { PathMatcher } from './glob.js';
import { Identities, Prefix } from './identity.js';
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

/**
 * The table of files followed: which file a path leads to, what a newly found path is
 * (a rename, a checkpointed file, a copy of a lost one, a new file: identity.ts decides),
 * what a file's own check means for the others (tailed file: file.ts), and the positions
 * that make the checkpoint.
 */
export class Tracker {
  private readonly files = new Map<string, TailedFile>();
  private readonly byPath = new Map<string, TailedFile>();
  readonly ids = new Identities();
  readonly fds: Descriptors;
  private readonly label: { component: string };
  private now = 0;
  /** Paths that could not be opened (permissions): reported once, not at every rescan. */
  private readonly unreadable = new Set<string>();
  /** The very first scan of this source (no checkpoint yet): where start_at applies. */
  firstRun = false;

  constructor(
    private readonly s: TrackerSettings,
    private readonly matcher: PathMatcher,
    private readonly logger: Logger,
  ) {
    this.label = { component: s.sourceName };
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

  /** A path from discovery: a known file (maybe renamed), a file of the checkpoint, a copy of a lost one, or a new file. */
  async adopt(path: string): Promise<void> {
    if (!this.matcher.matches(path)) return;
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code !== 'ENOENT' && !this.unreadable.has(path)) {
        if (this.unreadable.size < 10_000) this.unreadable.add(path);
        this.logger.warn({ path, err: e }, 'cannot open file; trying again at every rescan');
      }
      return;
    }
    if (this.unreadable.delete(path)) this.logger.info({ path }, 'file can be opened now');
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
      const d = this.ids.decide(key, st.size, prefix, this.fingerprints(), this.now);
      if (d.kind === 'resume') {
        const { entry } = d;
        const fp = entry.fp.len === 0 ? prefix.fp : entry.fp;
        kept = await this.track(fh, st, prefix, fp, path, entry.pos, entry.fp.len === 0 ? undefined : entry.id, description, 'checkpoint');
        return;
      }
      if (d.kind === 'continue') {
        this.ids.deferred.delete(path);
        kept = await this.track(fh, st, prefix, d.lost.fp, path, d.lost.pos, d.lost.id, description, 'continued', { was: d.lost.path });
        return;
      }
      let how: How = 'new';
      if (d.kind === 'twin') {
        // Starts like a live file: a copytruncate copy whose truncation we have not seen yet,
        // or a genuine copy. Look at the original now; wait rotate_wait for it to be truncated.
        const twin = this.followed().find((f) => prefix.startsLike(f.fp));
        if (twin) await this.check(twin);
        if (this.ids.continuable(prefix, st.size)) {
          this.s.lookAgain(path);
          return;
        }
        const until = this.ids.deferred.get(path) ?? this.now + this.s.rotateWait;
        if (this.now < until) {
          this.ids.deferred.set(path, until);
          return;
        }
        how = 'copy_after_wait';
      }
      this.ids.deferred.delete(path);
      const pos = this.firstRun && this.s.startAtEnd ? st.size : 0;
      kept = await this.track(fh, st, prefix, prefix.fp, path, pos, undefined, description, how);
    } finally {
      if (!kept) await fh.close();
    }
  }

  /**
   * After the first scan of a start: checkpointed files not found under a followed name were
   * renamed (or deleted) while the source was down. Each is looked for by identity (device +
   * inode + first bytes) among the files of its directory, whatever their names, and read
   * to its end before it is let go; the others are remembered as lost.
   */
  async recoverMoved(): Promise<void> {
    const inodes = new Map<string, Map<string, string>>();
    for (const [key, entry] of [...this.ids.restored]) {
      const dir = dirname(entry.path);
      let byInode = inodes.get(dir);
      if (!byInode) inodes.set(dir, (byInode = await inodesOf(dir)));
      const at = byInode.get(key);
      if (at !== undefined && (await this.recover(entry, at))) continue;
      this.ids.restored.delete(key);
      this.ids.addLost({ id: entry.id, fp: entry.fp, path: entry.path, pos: entry.pos, at: this.now });
    }
  }

  private async recover(entry: FileEntry, at: string): Promise<boolean> {
    const fh = await open(at, 'r').catch(() => undefined);
    if (!fh) return false;
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
      return kept;
    } finally {
      if (!kept) await fh.close();
    }
  }

  /** Looks at a followed file and acts on what it found (file.ts: the transitions). */
  async check(f: TailedFile): Promise<void> {
    this.apply(f, await f.check(this.now));
  }

  /** Reads a chunk of a file; a closed file that cannot be reopened is let go. */
  async read(f: TailedFile, buf: Buffer, paused: () => boolean): Promise<number> {
    const n = await f.read(buf, this.now, paused);
    if (n >= 0) return n;
    await f.release();
    this.apply(f, { release: 'replaced', pathTaken: true });
    return 0;
  }

  /** Forgets lost entries older than forget_after; deferred copies are looked at again. */
  housekeeping(): void {
    this.ids.forget(this.now, this.s.forgetAfter);
    for (const p of this.ids.deferred.keys()) this.s.lookAgain(p);
  }

  /** The positions of everything handed on so far: valid as "acknowledged" whenever no batch is pending. */
  state(): FileSourceState {
    const files: FileEntry[] = [];
    for (const f of this.files.values()) files.push({ id: f.id, dev: f.dev, ino: f.ino, fp: f.fp, path: f.path, pos: f.emitPos });
    return { v: 1, files, lost: [...this.ids.lostEntries] };
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
    this.files.clear();
    this.byPath.clear();
  }

  private apply(f: TailedFile, r: CheckResult): void {
    if (r.truncated) {
      this.ids.addLost(r.truncated);
      fileMetrics.truncations.inc(this.label);
      this.logger.info({ path: f.path, file_id: r.truncated.id, pos: r.truncated.pos }, 'file truncated; reading it again from the start');
      // A copy waiting for its original's truncation can now be recognised.
      for (const p of this.ids.deferred.keys()) this.s.lookAgain(p);
    }
    if (r.pathTaken) this.s.lookAgain(f.path);
    if (r.release) {
      if (this.files.get(f.key) === f) this.files.delete(f.key);
      if (this.byPath.get(f.path) === f) this.byPath.delete(f.path);
      this.ids.addLost(f.lostEntry(this.now));
      fileMetrics.released.inc(this.label);
      this.logger.info({ path: f.path, file_id: f.id, pos: f.emitPos, reason: r.release }, 'file let go');
    }
  }

  private renamed(f: TailedFile, path: string): void {
    if (f.path !== path) {
      if (this.byPath.get(f.path) === f) this.byPath.delete(f.path);
      this.logger.debug({ path, was: f.path, file_id: f.id }, 'file renamed');
    }
    f.follow(path);
    this.byPath.set(path, f);
  }

  private *fingerprints(): Iterable<Fingerprint> {
    for (const f of this.files.values()) yield f.fp;
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
    f.size = st.size;
    f.description = description;
    this.setFields(f);
    this.files.set(f.key, f);
    const { followed = true, ...also } = extra;
    if (followed) {
      const old = this.byPath.get(path);
      if (old && old !== f) old.detach();
      this.byPath.set(path, f);
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
