import { mkdir, open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { syncDir } from '../../core/durable-file.js';
import { ID_WORDS, IdWindow } from './id-window.js';

/**
 * What makes a file tree exactly-once: the sink's write journal, a small local log written
 * (and fsync'd) after the data of a batch is durable and before the batch is acknowledged.
 * Each record says, for every in-progress file the batch touched, how long the file is with
 * the batch in it, and holds the (hashed) ids of the batch's events. So after a crash:
 *
 * - an in-progress file is cut back to the length of its last record: bytes after it belong
 *   to a batch that was never acknowledged and will be delivered again (a whole batch, not
 *   just a torn last line, so no line of it survives to be written twice);
 * - a batch delivered again whose events have a record (written, then the crash came before
 *   the acknowledgement) is recognised by id and skipped.
 *
 * Kafka Connect's HDFS connector gets the same by putting offsets in file names and seeking
 * the consumer; the journal needs nothing of the bus, so it covers Kafka and `sluice run`
 * alike, and a duplicate sent by an agent that crashed between Kafka's ack and its own
 * commit is skipped too.
 *
 * Records are framed (magic, length, CRC-32): a record torn by the crash is the last one and
 * is ignored, which is right, since its batch was not acknowledged. The journal is kept in
 * segments of up to window/2 ids; a new segment starts with a checkpoint of the open files'
 * lengths, and only the last two segments are kept, so it never grows past the window.
 */

const MAGIC = 0x314a4c53; // "SLJ1"
const FRAME = 12;
const SEGMENT = /^journal-(\d{9})$/;

export interface FileLength {
  /** The in-progress file, as the sink names it (a path relative to its root, or an HDFS path). */
  path: string;
  /** Its committed length in bytes: everything before it is acknowledged data. */
  length: number;
}

export class WriteJournal {
  /** Committed length of every in-progress file the journal knows (finished ones are dropped by forget()). */
  readonly lengths = new Map<string, number>();
  private readonly ids: IdWindow;
  private handle: FileHandle | undefined;
  private segment = 0;
  /** Where the next record goes in the current segment. */
  private pos = 0;
  /** A failed append may have left a torn record: nothing may follow it in that segment. */
  private broken = false;

  private constructor(
    private readonly dir: string,
    window: number,
    /** True when no journal existed: files found in progress predate it (or its directory was lost). */
    readonly fresh: boolean,
  ) {
    this.ids = new IdWindow(window);
  }

  /**
   * Loads the journal in `dir` (created if missing) and goes on writing its last segment,
   * cut back to its last whole record, so each segment stays one generation of ids.
   */
  static async open(dir: string, window: number): Promise<WriteJournal> {
    await mkdir(dir, { recursive: true });
    const segments = (await readdir(dir))
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b)
      .slice(-2);
    const journal = new WriteJournal(dir, window, segments.length === 0);
    let validEnd = 0;
    for (const [i, seg] of segments.entries()) {
      if (i > 0) journal.ids.rotate();
      validEnd = await journal.load(seg);
    }
    const last = segments.at(-1);
    if (last === undefined) await journal.startSegment();
    else {
      journal.segment = last;
      journal.handle = await open(journal.file(last), 'r+');
      await journal.handle.truncate(validEnd);
      journal.pos = validEnd;
    }
    return journal;
  }

  /** Whether the event whose hashed id is at h[at..] was written in the window. */
  has(h: Uint32Array, at: number): boolean {
    return this.ids.has(h, at);
  }

  /**
   * Records durably that `files` now have these lengths and that the events whose hashed ids
   * are `hashes` (ID_WORDS words each) are written. The caller's data must be durable first.
   */
  async commit(files: readonly FileLength[], hashes: Uint32Array): Promise<void> {
    if (this.ids.generationFull || this.broken) await this.rotate();
    await this.append(files, hashes, false);
    for (const f of files) this.lengths.set(f.path, f.length);
    for (let at = 0; at < hashes.length; at += ID_WORDS) this.ids.add(hashes, at);
  }

  /** The file was finished (renamed) or removed: later checkpoints leave it out. */
  forget(path: string): void {
    this.lengths.delete(path);
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }

  private file(seg: number): string {
    return join(this.dir, `journal-${String(seg).padStart(9, '0')}`);
  }

  /** Reads a segment's whole records into lengths and ids; returns where they end. */
  private async load(seg: number): Promise<number> {
    const data = await readFile(this.file(seg));
    let pos = 0;
    while (pos + FRAME <= data.length) {
      if (data.readUInt32LE(pos) !== MAGIC) break;
      const length = data.readUInt32LE(pos + 4);
      const end = pos + FRAME + length;
      if (end > data.length) break;
      const payload = data.subarray(pos + FRAME, end);
      if (crc32(payload) !== data.readUInt32LE(pos + 8)) break;
      const headerLength = payload.readUInt32LE(0);
      const header = JSON.parse(payload.subarray(4, 4 + headerLength).toString('utf8')) as { f: [string, number][]; c?: 1 };
      if (header.c) this.lengths.clear();
      for (const [path, len] of header.f) this.lengths.set(path, len);
      const idBytes = payload.subarray(4 + headerLength);
      const words = new Uint32Array(idBytes.length / 4);
      for (let i = 0; i < words.length; i++) words[i] = idBytes.readUInt32LE(i * 4);
      for (let at = 0; at + ID_WORDS <= words.length; at += ID_WORDS) this.ids.add(words, at);
      pos = end;
    }
    return pos;
  }

  private async startSegment(): Promise<void> {
    this.segment++;
    this.handle = await open(this.file(this.segment), 'wx');
    this.pos = 0;
    this.broken = false;
    await syncDir(this.dir);
    await this.append(
      [...this.lengths].map(([path, length]) => ({ path, length })),
      new Uint32Array(0),
      true,
    );
    // Two segments cover the id window; older ones only hold forgotten ids and superseded lengths.
    for (const name of await readdir(this.dir)) {
      const m = SEGMENT.exec(name);
      if (m && Number(m[1]) < this.segment - 1) await unlink(join(this.dir, name));
    }
  }

  private async rotate(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    if (this.ids.generationFull) this.ids.rotate();
    await this.startSegment();
  }

  private async append(files: readonly FileLength[], hashes: Uint32Array, checkpoint: boolean): Promise<void> {
    const header = Buffer.from(
      JSON.stringify(checkpoint ? { f: files.map((f) => [f.path, f.length]), c: 1 } : { f: files.map((f) => [f.path, f.length]) }),
    );
    const payload = Buffer.allocUnsafe(4 + header.length + hashes.length * 4);
    payload.writeUInt32LE(header.length, 0);
    header.copy(payload, 4);
    let o = 4 + header.length;
    for (let i = 0; i < hashes.length; i++, o += 4) payload.writeUInt32LE(hashes[i]!, o);
    const frame = Buffer.allocUnsafe(FRAME);
    frame.writeUInt32LE(MAGIC, 0);
    frame.writeUInt32LE(payload.length, 4);
    frame.writeUInt32LE(crc32(payload), 8);
    const handle = this.handle!;
    try {
      const { bytesWritten } = await handle.writev([frame, payload], this.pos);
      if (bytesWritten !== frame.length + payload.length) throw new Error(`journal write cut short (${bytesWritten} bytes written)`);
      await handle.datasync();
    } catch (err) {
      this.broken = true;
      throw new Error(`write journal ${this.file(this.segment)}: ${(err as Error).message}`);
    }
    this.pos += frame.length + payload.length;
  }
}
