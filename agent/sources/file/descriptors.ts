import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { Gauge } from 'prom-client';

/** What the budget needs of a file: when it was last used, whether it is at its end, whether it may be closed, and closing it. */
export interface Holder {
  lastUsedAt: number;
  readonly atEof: boolean;
  /** Detached files are never closed early: once closed, nothing leads back to them. */
  readonly closable: boolean;
  closeIdle(): Promise<void>;
}

/**
 * The `max_open_files` budget: a file about to open a descriptor makes room first, closing
 * closable files (they reopen by path later, verified): those at their end first, least
 * recently used first. A file with a backlog is closed only when nothing else can be: if it
 * is renamed or deleted while closed, its unread bytes can only be found again by its
 * inode in its directory (a rename), or not at all (a deletion). The descriptors of files
 * waiting as copies (`pin`) count as well and are never closed here: a copy is often deleted
 * (compressed) right after its original's truncation, and then only its descriptor leads to it.
 */
export class Descriptors {
  private readonly open = new Set<Holder>();
  private readonly pinned = new Set<FileHandle>();

  constructor(
    private readonly max: number,
    private readonly gauge: Gauge<'component'>,
    private readonly label: { component: string },
  ) {}

  async makeRoom(): Promise<void> {
    let excess = this.size + 1 - this.max;
    if (excess <= 0) return;
    const order = [...this.open].filter((f) => f.closable).sort((a, b) => Number(b.atEof) - Number(a.atEof) || a.lastUsedAt - b.lastUsedAt);
    for (const f of order) {
      if (excess-- <= 0) break;
      await f.closeIdle();
    }
  }

  opened(f: Holder): void {
    if (this.open.has(f)) return;
    this.open.add(f);
    this.gauge.inc(this.label);
  }

  closed(f: Holder): void {
    if (this.open.delete(f)) this.gauge.dec(this.label);
  }

  /** Counts a descriptor kept open for a file waiting as a copy, making room for it first. */
  async pin(fh: FileHandle): Promise<void> {
    if (this.pinned.has(fh)) return;
    await this.makeRoom();
    this.pinned.add(fh);
    this.gauge.inc(this.label);
  }

  /** A pinned descriptor closed, or taken up by a followed file (counted as that file's). */
  unpin(fh: FileHandle): void {
    if (this.pinned.delete(fh)) this.gauge.dec(this.label);
  }

  /** Whether one more descriptor may be pinned: a quarter of the budget at most. */
  canPin(): boolean {
    return this.pinned.size < Math.max(1, Math.floor(this.max / 4));
  }

  get size(): number {
    return this.open.size + this.pinned.size;
  }
}

/**
 * Opens a path to read it without waiting for a writer: a FIFO (or a device) the globs take
 * would block open() on a threadpool thread, and the source's loop with it, until something
 * opened it to write. Every caller checks that it is a regular file before reading.
 */
export function openToRead(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDONLY | constants.O_NONBLOCK);
}
