import { open, type FileHandle } from 'node:fs/promises';
import type { FieldValue } from '../../../core/event.js';
import { FileEventIds } from '../../../core/event-id.js';
import type { FileDescription, LineDecoder } from './format.js';
import { fileIdOf, fingerprintOf, prefixMatches, type Fingerprint } from './fingerprint.js';
import { LineSplitter, type LineHandler } from './lines.js';
import type { MultilineJoiner } from './multiline.js';

/**
 * One file being tailed: its identity, its descriptor (which may be closed while idle and
 * reopened from the same position), and two positions: `readPos`, the next byte to read,
 * and `emitPos`, the first byte not yet handed on as an event. Bytes between the two are a
 * partial line or a multiline event still being collected; only `emitPos` is checkpointed.
 */
export class TailedFile {
  fh: FileHandle | undefined;
  readPos: number;
  emitPos: number;
  splitter!: LineSplitter;
  joiner: MultilineJoiner | undefined;
  /** Set when the source reads another format (container logs): it turns lines into events. */
  decoder: LineDecoder | undefined;
  /** What that format knows of the file (service, module, fields, container). */
  description: FileDescription | undefined;
  /** Last time a read returned bytes (ms): for partial-line flush, idle close and rotate wait. */
  lastGrowthAt: number;
  /** Last time the file was read or checked: least recently used files are closed first. */
  lastUsedAt: number;
  /** A read hit the end: nothing to do until the file grows. */
  atEof = false;
  /** The path no longer leads to this file (renamed away, deleted): read on until rotateWait, then let go. */
  detached = false;
  /** Size and mtime at the last check, to re-verify the fingerprint only when they change. */
  seenSize = -1;
  seenMtime = -1;
  /** Fields derived from the path (service, module, captures), refreshed when the path changes. */
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
    public path: string,
    pos: number,
    now: number,
  ) {
    this.ids = new FileEventIds(id);
    this.readPos = pos;
    this.emitPos = pos;
    this.lastGrowthAt = now;
    this.lastUsedAt = now;
  }

  /** The fileId: device + inode + fingerprint, fixed before the first event of a generation. */
  get id(): string {
    return this.ids.fileId;
  }

  set id(id: string) {
    this.ids = new FileEventIds(id);
  }

  get key(): string {
    return `${this.dev}:${this.ino}`;
  }

  resetSplitter(max_line_bytes: number, mode: 'truncate' | 'split', onLine: LineHandler, pause: () => boolean): void {
    this.splitter = new LineSplitter(this.readPos, max_line_bytes, mode, onLine, pause);
  }

  /**
   * Reopens a closed file by path; false when the path now holds another file (or none):
   * whatever this one still had is out of reach.
   */
  async reopen(): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch {
      return false;
    }
    const st = await fh.stat();
    if (st.dev !== this.dev || st.ino !== this.ino || !(await prefixMatches(fh, this.fp))) {
      await fh.close();
      return false;
    }
    this.fh = fh;
    return true;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
  }

  /**
   * Gives a file that was empty when found its fingerprint once bytes arrive, before any of
   * its events exist (the id is part of every event id).
   */
  async fingerprintIfEmpty(fingerprint_bytes: number): Promise<void> {
    if (this.fp.len > 0 || !this.fh) return;
    this.fp = await fingerprintOf(this.fh, fingerprint_bytes);
    this.id = fileIdOf(this.dev, this.ino, this.fp);
  }
}
