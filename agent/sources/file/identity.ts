import type { FileHandle } from 'node:fs/promises';
import type { FileEntry, LostEntry } from './checkpoint.js';
import { hashPrefix, type Fingerprint } from './fingerprint.js';

/**
 * Who a file found at a path is, decided from its device + inode and its first bytes,
 * against what the source knows (README.md, "Identity"):
 * - `resume`: a file of the checkpoint (same inode, same first bytes, at least as long);
 * - `continue`: a file let go or a truncated generation (same first bytes, at least as long
 *   as the position reached): a copytruncate copy, or the very file back under a name we
 *   follow;
 * - `twin`: it starts like a file being followed: a copytruncate copy whose original has not
 *   been seen truncated yet, or a genuine copy; the caller looks at the original first;
 * - `new`: read from the start (or the end, for `start_at: end` on the very first scan).
 * A file of the same inode as one followed is a rename: the caller knows that from its table.
 * A format may rule out continuing or copying a file found elsewhere (`mayContinue`).
 */
export type Decision = { kind: 'resume'; entry: FileEntry } | { kind: 'continue'; lost: LostEntry } | { kind: 'twin' } | { kind: 'new' };

/** First bytes of a candidate, hashed at each length an entry was fingerprinted at (once per length). */
export class Prefix {
  private readonly hashes = new Map<number, string>();
  readonly fp: Fingerprint;

  constructor(readonly bytes: Buffer) {
    this.fp = hashPrefix(bytes);
  }

  startsLike(other: Fingerprint): boolean {
    if (other.len === 0 || other.len > this.bytes.length) return false;
    let h = this.hashes.get(other.len);
    if (h === undefined) this.hashes.set(other.len, (h = hashPrefix(this.bytes.subarray(0, other.len)).hash));
    return h === other.hash;
  }
}

/** The lost entry a checkpointed file becomes when it is gone or its inode holds other content. */
export function lostOf(entry: FileEntry, now: number): LostEntry {
  const l: LostEntry = { id: entry.id, fp: entry.fp, path: entry.path, pos: entry.pos, at: now };
  if (entry.tail !== undefined) l.tail = entry.tail;
  return l;
}

/** Most lost entries remembered: a burst of short-lived files cannot grow the checkpoint without bound. */
const MAX_LOST = 10_000;

/**
 * A new file that starts like a live one, waiting for that one's truncation: a copytruncate
 * copy in the making, perhaps still being written.
 */
export interface Deferral {
  /** When it was first seen (ms). */
  since: number;
  /** Its size at the last look, and when a look last found it changed (ms). */
  size: number;
  changedAt: number;
  /**
   * The file, open since it was first seen ("dev:ino" of it): logrotate may delete its copy
   * (compress) right after the truncation, before the source looks again, and then only this
   * handle reads it. Closed when the wait ends, unless the file is taken up with it.
   */
  fh: FileHandle;
  key: string;
  /** The live file it may be a copy of ("dev:ino"), looked at before a copy gone from its path is given up. */
  of: string | undefined;
  /**
   * For a file first seen shorter than a fingerprint (cp creates the copy, then writes it):
   * the generation of the live file it is named as a copy of (`of`), when first seen.
   */
  generation?: number;
}

/** A followed file as far as identity goes. */
interface Live {
  readonly fp: Fingerprint;
  readonly path: string;
}

export class Identities {
  /** Checkpoint entries not found yet (by "dev:ino"): until the start is over. */
  readonly restored = new Map<string, FileEntry>();
  private lost: LostEntry[] = [];
  /** New files that start like a live file, by path: a copytruncate copy in the making? */
  readonly deferred = new Map<string, Deferral>();

  /** `mayContinue`: the format's rule (format.ts), else a file may continue or copy one anywhere. */
  constructor(readonly mayContinue: (was: string, path: string) => boolean = () => true) {}

  restore(files: readonly FileEntry[], lost: readonly LostEntry[]): void {
    this.restored.clear();
    for (const e of files) this.restored.set(`${e.dev}:${e.ino}`, e);
    this.lost = [...lost];
  }

  get lostEntries(): readonly LostEntry[] {
    return this.lost;
  }

  /**
   * Decides for the file at `path`, not followed yet. `live`: the files followed now. A
   * checkpoint entry of this inode is used up by the decision (it is resumed, or its inode
   * now holds other content and it becomes lost).
   */
  decide(key: string, path: string, size: number, prefix: Prefix, live: Iterable<Live>, now: number): Decision {
    const entry = this.restored.get(key);
    if (entry) {
      this.restored.delete(key);
      if ((entry.fp.len === 0 || prefix.startsLike(entry.fp)) && size >= entry.pos) return { kind: 'resume', entry };
      // The inode now holds other content (reused, or rewritten while we were down).
      this.addLost(lostOf(entry, now));
    }
    const lost = this.continuable(path, prefix, size);
    if (lost) {
      this.lost = this.lost.filter((l) => l !== lost);
      return { kind: 'continue', lost };
    }
    return this.twinOf(path, prefix, live) ? { kind: 'twin' } : { kind: 'new' };
  }

  /** A lost entry the file at `path` could continue (starts with its bytes, at least as long as its position). */
  continuable(path: string, prefix: Prefix, size: number): LostEntry | undefined {
    return this.lost.find((l) => prefix.startsLike(l.fp) && size >= l.pos && this.mayContinue(l.path, path));
  }

  /** A followed file that the file at `path` starts like, and may be a copy of. */
  twinOf<F extends Live>(path: string, prefix: Prefix, live: Iterable<F>): F | undefined {
    if (prefix.fp.len === 0) return undefined;
    for (const f of live) if (prefix.startsLike(f.fp) && this.mayContinue(f.path, path)) return f;
    return undefined;
  }

  addLost(l: LostEntry): void {
    if (l.fp.len === 0) return; // nothing was read from it: nothing to continue
    this.lost = this.lost.filter((x) => x.id !== l.id);
    this.lost.push(l);
    if (this.lost.length > MAX_LOST) this.lost.shift();
  }

  forget(now: number, forgetAfter: number): void {
    if (this.lost.length > 0) this.lost = this.lost.filter((l) => now - l.at < forgetAfter);
  }
}
