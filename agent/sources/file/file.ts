import type { Stats } from 'node:fs';
import { type FileHandle, stat } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { Backoff } from '../../../core/backoff.js';
import type { FieldValue } from '../../../core/event.js';
import { FileEventIds } from '../../../core/event-id.js';
import type { LostEntry } from './checkpoint.js';
import { type Descriptors, type Holder, openToRead } from './descriptors.js';
import type { FileDescription } from './format.js';
import { type Fingerprint, fileIdOf, fingerprintOf, prefixMatches } from './fingerprint.js';
import type { LineReader } from './reader.js';

/**
 * One file being tailed, as a state machine (after Vector's `FileWatcher`):
 *
 *   following --idle_close / max_open_files--> closed --grew, verified--> following
 *   following --path leads elsewhere (renamed away, deleted)--> detached
 *   detached  --at its end and quiet for rotate_wait--> released
 *   closed    --path holds another file or none, found by its inode in its directory--> detached
 *   closed    --path holds another file or none, not found--> released
 *   following --shrank or first bytes changed (copytruncate)--> following, next generation
 *   detached  --found again under a followed name--> following
 *
 * It owns its descriptor and two positions: `readPos`, the next byte to read, and
 * `emitPos`, the first byte not yet handed on as an event. Bytes between the two are held
 * by its reader (a partial line, an event being joined); only `emitPos` is checkpointed.
 * What a transition means for other files (a lost generation to remember, a path to look
 * at again) is returned to the caller, which owns the table of files.
 */
export type FileState = 'following' | 'closed' | 'detached' | 'released';

export interface FileTimings {
  fingerprintBytes: number;
  rotateWait: number;
  idleClose: number;
}

export interface CheckResult {
  /** The generation that ended when the file was found truncated or rewritten: to remember as lost. */
  truncated?: LostEntry;
  /** The file is done with: let go (why). */
  release?: 'rotated' | 'deleted' | 'replaced';
  /** Its path now holds another file: look at it. */
  pathTaken?: boolean;
  /** A closed file its path no longer leads to: renamed (to look for by its inode) or deleted. */
  moved?: boolean;
  /** Its size or modification time differed from the last look: it grew, or was truncated or rewritten. */
  changed?: boolean;
}

/**
 * A copy of the generation that ends now (copytruncate), its first bytes being `fp`, found
 * holding what was read of it up to `end` (`read`: the last bytes read before `end`):
 * `whole` when it holds all of it (the copy continues from the generation's position),
 * `prefix` when it ends before `end` but is known to be the start of what was read (the
 * writer appended between the copy and the truncation, and the source read that: nothing in
 * the copy is read again), undefined when there is none.
 */
export type CopyFinder = (fp: Fingerprint, end: number, read: Buffer) => Promise<'whole' | 'prefix' | undefined>;

/**
 * The last bytes read that a copy at least as long as what was read must hold at the same
 * place, so it is known to hold what was read, not only to start the same way (two services'
 * files can share a header).
 */
export const READ_TAIL_BYTES = 256;

/**
 * The last bytes read of a file that are kept, to know a copy shorter than what was read for
 * the start of it: logrotate copies, then truncates, and what the writer appends in between
 * (a few milliseconds: a few lines) is read from the original but not in the copy. A copy
 * ending within this window is compared with what was read at the same offsets; one ending
 * earlier cannot be told from another file with the same first bytes and is read as a new
 * one. A byte window, not samples at line ends: keeping it costs one copy of at most this many
 * bytes per read chunk, and nothing per line. 4 KiB per followed file covers tens of lines
 * appended in the race.
 */
export const READ_WINDOW_BYTES = 4096;

/**
 * The fewest bytes of a shorter copy compared with what was read, after the first bytes the
 * fingerprint already compared: a file sharing only a header (a CSV) is not taken for a copy.
 */
export const MIN_OVERLAP_BYTES = 64;

/** The `tail` of a checkpoint entry: the CRC-32 of the bytes before its position (at most READ_TAIL_BYTES), 8 hex digits. */
export function tailDigest(bytes: Buffer): string {
  return crc32(bytes).toString(16).padStart(8, '0');
}

/**
 * The last bytes read (at most READ_WINDOW_BYTES), ending at the read position: one fixed
 * buffer per file, given each chunk's last bytes.
 */
class ReadWindow {
  private buf: Buffer | undefined;
  length = 0;

  push(chunk: Buffer, used: number): void {
    if (used <= 0) return;
    this.buf ??= Buffer.allocUnsafe(READ_WINDOW_BYTES);
    const buf = this.buf;
    if (used >= READ_WINDOW_BYTES) {
      chunk.copy(buf, 0, used - READ_WINDOW_BYTES, used);
      this.length = READ_WINDOW_BYTES;
      return;
    }
    const keep = Math.min(this.length, READ_WINDOW_BYTES - used);
    buf.copyWithin(0, this.length - keep, this.length);
    chunk.copy(buf, keep, 0, used);
    this.length = keep + used;
  }

  /** The last `n` bytes (at most), a view valid until the next push. */
  last(n = this.length): Buffer {
    return this.buf ? this.buf.subarray(this.length - Math.min(n, this.length), this.length) : Buffer.alloc(0);
  }

  /** The `n` bytes ending `back` bytes before the end, or undefined when the window does not hold them all. */
  ending(back: number, n: number): Buffer | undefined {
    if (back + n > this.length) return undefined;
    return this.buf ? this.buf.subarray(this.length - back - n, this.length - back) : Buffer.alloc(0);
  }

  clear(): void {
    this.length = 0;
  }
}

/**
 * A system error (EIO on a bad block, ESTALE on NFS) belongs to the file it came from: that
 * file is tried again later while the others go on. Node's own errors (ERR_*) and errors
 * without a code are bugs, for the source's supervision.
 */
export function isFileError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && !code.startsWith('ERR_');
}

/** The file at a path, or undefined when there is none; an I/O error says nothing about where the file is, so it is thrown. */
export async function statPath(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export class TailedFile implements Holder {
  state: FileState = 'following';
  fh: FileHandle | undefined;
  readPos: number;
  /** The last bytes read before readPos (fewer than READ_WINDOW_BYTES only when fewer were read since it was opened). */
  private readonly window = new ReadWindow();
  /**
   * The original's path while this file is followed from its end as a copy holding only the
   * start of what was read of it (copytruncate's race). logrotate writes its copy to the end
   * before it truncates, and never again: a file that grows after was no copy, and is read
   * again from its start (duplicates rather than lines never read; the tracker warns).
   */
  prefixOf: string | undefined;
  /**
   * How many times it was found truncated or rewritten: a new file waiting as a copy of the
   * generation it was reading stops waiting once that generation ended.
   */
  generation = 0;
  emitPos: number;
  reader!: LineReader;
  /** What another format (container logs) knows of the file: service, module, fields, container. */
  description: FileDescription | undefined;
  /** Last time a read returned bytes (ms): for partial-line flush, idle close and rotate wait. */
  lastGrowthAt: number;
  /** Last time the file was read or checked: least recently used files are closed first. */
  lastUsedAt: number;
  /** The file's size at the last look (taken up, checked, read past): what the lag is measured against. */
  size = 0;
  /** The first byte not yet in the channel: emitPos as of the last accepted put (the lag counts from here). */
  durablePos: number;
  /** A read hit the end: nothing to do until the file grows. */
  atEof = false;
  /** Its reads or checks fail (EIO, ESTALE): not tried again before this time (ms). */
  retryAt = 0;
  /** Set while they fail: the wait before the next try grows with every failure. */
  failing: Backoff | undefined;
  /** Size and mtime at the last check, to re-verify the fingerprint only when they change. */
  private seenSize = -1;
  private seenMtime = -1;
  /** The tail digest at emitPos (`tail` in the checkpoint), and the emitPos it was computed at: the checkpoint is taken at every put. */
  private digest: string | undefined;
  private digestPos = -1;
  /** Fields derived from the path (service, module, captures). */
  service = '';
  module = '';
  fields: Record<string, FieldValue> = {};
  hasFields = false;
  /** Event ids of this file's lines: the file's identity is hashed once, not per line. */
  ids: FileEventIds;

  constructor(
    id: string,
    readonly dev: number,
    readonly ino: number,
    public fp: Fingerprint,
    /** The path events carry: where the file was found (a file renamed away keeps it). */
    public path: string,
    pos: number,
    now: number,
    private readonly fds: Descriptors,
    private readonly timings: FileTimings,
    /** A reader for a generation starting at `pos`, given the file's first bytes as far as known. */
    private readonly newReader: (f: TailedFile, head: Buffer) => LineReader,
    head: Buffer,
  ) {
    this.ids = new FileEventIds(id);
    this.readPos = pos;
    this.emitPos = pos;
    this.durablePos = pos;
    this.lastGrowthAt = now;
    this.lastUsedAt = now;
    this.reader = newReader(this, head);
  }

  /** The fileId: device + inode + fingerprint, fixed before the first event of a generation. */
  get id(): string {
    return this.ids.fileId;
  }

  get key(): string {
    return `${this.dev}:${this.ino}`;
  }

  get closable(): boolean {
    return this.state === 'following';
  }

  /** Takes an open descriptor (the caller opened the file to identify it). */
  adoptHandle(fh: FileHandle): void {
    this.fh = fh;
    this.fds.opened(this);
  }

  /** Found under a followed name (again): its path and fields follow. */
  follow(path: string): void {
    this.path = path;
    if (this.state === 'detached') this.state = 'following';
    this.atEof = false;
  }

  /**
   * The path no longer leads to this file: read it to its end, then let it go. (A closed
   * file cannot be read through its path any more: its next check finds the path taken.)
   */
  detach(): void {
    if (this.state === 'following') this.state = 'detached';
  }

  /**
   * Reads the next chunk into the reader; returns the bytes consumed, or -1 when a closed
   * file cannot be reopened (its path holds another file, or none): moved.
   */
  async read(buf: Buffer, now: number, paused: () => boolean): Promise<number> {
    if (!this.fh && !(await this.reopen())) return -1;
    this.lastUsedAt = now;
    const { bytesRead } = await this.fh!.read(buf, 0, buf.length, this.readPos);
    if (bytesRead === 0) {
      this.atEof = true;
      return 0;
    }
    if (this.prefixOf !== undefined) {
      this.readFromStart(now);
      return 0;
    }
    if (this.fp.len === 0) await this.fingerprintIfEmpty();
    this.lastGrowthAt = now;
    if (this.readPos + bytesRead > this.size) this.size = this.readPos + bytesRead;
    const used = this.reader.push(buf, bytesRead);
    this.window.push(buf, used);
    this.readPos += used;
    // A short read means the end for now; the next poll or notification says when it grew.
    if (bytesRead < buf.length && !paused()) this.atEof = true;
    return used;
  }

  /**
   * Looks at the file: grown (read on), truncated or rewritten (copytruncate: the next
   * generation starts at 0), no longer at its path (detached), done (released), idle (its
   * descriptor closed). `copyHolds` is asked about a copy when a truncation is found.
   */
  async check(now: number, copyHolds: CopyFinder): Promise<CheckResult> {
    const t = this.timings;
    if (this.state === 'released') return {};
    if (this.state === 'closed') {
      const st = await statPath(this.path);
      if (!st || st.dev !== this.dev || st.ino !== this.ino) return { moved: true };
      if (st.size === this.seenSize && st.mtimeMs === this.seenMtime) return {};
      if (!(await this.reopen())) return { moved: true };
    }
    const result: CheckResult = {};
    // Everything that can fail (EIO, ESTALE) is read before anything changes: a check that
    // failed leaves the file as it was, to be checked again.
    const pst = this.state === 'following' ? await statPath(this.path) : undefined;
    // The path still leads to this file: its stat is the descriptor's (an inode held open
    // cannot be reused for another file), so a look costs one syscall, not two.
    const st = pst && pst.dev === this.dev && pst.ino === this.ino ? pst : await this.fh!.stat();
    const changed = st.size !== this.seenSize || st.mtimeMs !== this.seenMtime;
    if (st.size < this.readPos || (changed && this.fp.len > 0 && !(await prefixMatches(this.fh!, this.fp)))) {
      result.truncated = await this.nextGeneration(now, copyHolds);
    }
    // The first look has nothing to compare with: no evidence of how its changes are seen.
    if ((changed && this.seenSize >= 0) || result.truncated) result.changed = true;
    this.size = st.size;
    this.seenSize = st.size;
    this.seenMtime = st.mtimeMs;
    if (st.size > this.readPos) this.atEof = false;
    if (this.state === 'following') {
      if (!pst || pst.dev !== this.dev || pst.ino !== this.ino) {
        this.state = 'detached';
        if (pst) result.pathTaken = true;
      }
    }
    if (this.state === 'detached') {
      if (this.atEof && now - this.lastGrowthAt >= t.rotateWait) {
        // It will not grow any more: what is held is complete.
        this.reader.finish();
        await this.release();
        return { ...result, release: 'rotated' };
      }
      return result;
    }
    if (this.atEof && t.idleClose > 0 && now - this.lastGrowthAt >= t.idleClose) await this.closeIdle();
    return result;
  }

  /** The position of this generation, to remember once it is let go. */
  lostEntry(now: number): LostEntry {
    const entry: LostEntry = { id: this.id, fp: this.fp, path: this.path, pos: this.emitPos, at: now };
    const tail = this.tail();
    if (tail !== undefined) entry.tail = tail;
    return entry;
  }

  /**
   * The digest of the bytes before emitPos, undefined when the window does not hold them (a
   * reader holding more than the window since emitPos, bytes before the position that could
   * not be read when taken up). Computed again only once emitPos moved.
   */
  tail(): string | undefined {
    if (this.digestPos === this.emitPos) return this.digest;
    const bytes = this.window.ending(this.readPos - this.emitPos, Math.min(READ_TAIL_BYTES, this.emitPos));
    if (!bytes) return undefined;
    this.digest = tailDigest(bytes);
    this.digestPos = this.emitPos;
    return this.digest;
  }

  /** Whether the window holds the last READ_TAIL_BYTES before readPos (a file whose bytes before its position could not be read has none until its first read). */
  private tailKnown(): boolean {
    return this.window.length >= Math.min(READ_TAIL_BYTES, this.readPos);
  }

  async closeIdle(): Promise<void> {
    if (!this.fh) return;
    await this.closeHandle();
    if (this.state === 'following') this.state = 'closed';
  }

  /** The bytes just before readPos, read when taken up there: as if read, for a copy or a lost entry to be compared with. */
  readBefore(bytes: Buffer): void {
    this.window.push(bytes, bytes.length);
  }

  /** Done with: the descriptor is closed; what the reader holds is not emitted (the caller finished it if it should be). */
  async release(): Promise<void> {
    this.state = 'released';
    await this.closeHandle();
  }

  /**
   * The old content is done with; the next generation starts at 0 with a new identity. A
   * copy holding everything read of the old one continues it from the first byte not handed
   * on, so what the reader holds (a line without its newline yet, an event being joined)
   * comes out whole from the copy. Without one, or with a copy shorter than what was read
   * (the reader holds more of the line than the copy has), what was read of it is emitted
   * now, a cut line marked as such.
   */
  private async nextGeneration(now: number, copyHolds: CopyFinder): Promise<LostEntry> {
    // Read first: if that fails, the old generation is still whole, to be looked at again.
    const fp = await fingerprintOf(this.fh!, this.timings.fingerprintBytes);
    // A copy is only known to hold what was read when those last bytes were (a file whose bytes
    // before its position could not be read when taken up, truncated before its first read, has none).
    const copy = this.tailKnown() ? await copyHolds(this.fp, this.readPos, this.window.last()) : undefined;
    if (copy !== 'whole') this.reader.finish(true);
    const lost = this.lostEntry(now);
    this.generation++;
    this.fp = fp;
    this.ids = new FileEventIds(fileIdOf(this.dev, this.ino, this.fp));
    this.readFromStart(now);
    return lost;
  }

  /** Reading starts again at byte 0, with nothing held (a new generation has its new fileId set first). */
  private readFromStart(now: number): void {
    this.readPos = this.emitPos = this.durablePos = 0;
    this.window.clear();
    this.digestPos = -1;
    this.prefixOf = undefined;
    this.reader = this.newReader(this, Buffer.alloc(0));
    this.atEof = false;
    this.lastGrowthAt = now;
  }

  /**
   * Opens a closed file again at `path`: its own (following again), or where it was found
   * after its path stopped leading to it (detached: read to its end, then let go). False when
   * `path` holds another file, or none.
   */
  async reopen(path = this.path): Promise<boolean> {
    await this.fds.makeRoom();
    let fh: FileHandle;
    try {
      fh = await openToRead(path);
    } catch (err) {
      if (isGone(err)) return false;
      throw err;
    }
    let same = false;
    try {
      const st = await fh.stat();
      same = st.dev === this.dev && st.ino === this.ino && (await prefixMatches(fh, this.fp));
    } finally {
      if (!same) await fh.close().catch(() => undefined);
    }
    if (!same) return false;
    this.fh = fh;
    this.fds.opened(this);
    if (this.state === 'closed') this.state = path === this.path ? 'following' : 'detached';
    return true;
  }

  private async closeHandle(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    this.fh = undefined;
    this.fds.closed(this);
    await fh.close().catch(() => undefined);
  }

  /**
   * Gives a file that was empty when found its fingerprint once bytes arrive, before any of
   * its events exist (the id is part of every event id).
   */
  private async fingerprintIfEmpty(): Promise<void> {
    if (this.fp.len > 0 || !this.fh) return;
    this.fp = await fingerprintOf(this.fh, this.timings.fingerprintBytes);
    this.ids = new FileEventIds(fileIdOf(this.dev, this.ino, this.fp));
  }
}
