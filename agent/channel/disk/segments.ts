import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../../core/log.js';
import { Mutex } from '../wait.js';
import { SEGMENT_HEADER_BYTES, segmentName } from './format/segment-file.js';

export interface Segment {
  id: number;
  path: string;
  /** Bytes written (and, with fsync: always, durable). */
  size: number;
  /** Bytes a reader may read: written records only, always at a record boundary. */
  readable: number;
  sealed: boolean;
  /** Format version of its records: segments written before an upgrade keep theirs. */
  version: number;
  /** The writer's handle of the active segment. */
  fh?: FileHandle;
  needsDirSync: boolean;
}

/** (segment, byte offset of a record, events of that record already passed). */
export interface Pos {
  seg: number;
  off: number;
  idx: number;
}

export function before(a: { seg: number; off: number }, b: { seg: number; off: number }): boolean {
  return a.seg < b.seg || (a.seg === b.seg && a.off < b.off);
}

/**
 * The segment files of a channel, oldest first: what the writer appends to (the last,
 * unsealed one), the reader reads and the committer deletes. Also the arithmetic of
 * positions across segment boundaries.
 */
export class SegmentSet {
  list: Segment[] = [];
  /** Id the next segment created gets. */
  nextId = 1;
  /** Bytes of all segment files. */
  fileBytes = 0;
  private readonly deleting = new Mutex();

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  pathOf(id: number): string {
    return join(this.dir, segmentName(id));
  }

  find(id: number): Segment | undefined {
    for (const s of this.list) if (s.id === id) return s;
    return undefined;
  }

  active(): Segment | undefined {
    const last = this.list[this.list.length - 1];
    return last && !last.sealed ? last : undefined;
  }

  /**
   * Canonical form of a position: past the end of a sealed segment means the start of the
   * next one that exists (or the one the writer will create next).
   */
  normalize(pos: Pos): Pos {
    let p = { ...pos };
    for (;;) {
      const seg = this.list.find((s) => s.id >= p.seg);
      if (!seg) return p.seg >= this.nextId && p.off === SEGMENT_HEADER_BYTES ? p : { seg: this.nextId, off: SEGMENT_HEADER_BYTES, idx: 0 };
      if (seg.id > p.seg) p = { seg: seg.id, off: SEGMENT_HEADER_BYTES, idx: 0 };
      if (p.off < SEGMENT_HEADER_BYTES) p = { seg: p.seg, off: SEGMENT_HEADER_BYTES, idx: 0 };
      if (seg.sealed && p.off >= seg.size) {
        p = { seg: seg.id + 1, off: SEGMENT_HEADER_BYTES, idx: 0 };
        continue;
      }
      return p;
    }
  }

  /** True when nothing is written at or after `pos`. */
  endsAt(pos: Pos): boolean {
    const c = this.normalize(pos);
    const last = this.list[this.list.length - 1];
    return !last || c.seg > last.id || (c.seg === last.id && c.off >= last.size);
  }

  /**
   * Deletes the sealed segments entirely before segment `limit` (the committed position
   * has passed them). A failure is logged and retried at the next call.
   */
  deleteBefore(limit: number): Promise<void> {
    // The committer and the writer (rotating a drained segment) both delete: one at a time, or a segment counts twice.
    return this.deleting.run(() => this.unlinkBefore(limit));
  }

  private async unlinkBefore(limit: number): Promise<void> {
    let gone = 0;
    for (const seg of this.list) {
      if (seg.id >= limit || !seg.sealed) break;
      try {
        await unlink(seg.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          this.logger.error({ path: seg.path, err }, 'cannot delete committed segment; retried at the next commit');
          break;
        }
      }
      gone++;
      this.fileBytes -= seg.size;
    }
    if (gone > 0) this.list = this.list.slice(gone);
  }
}
