import { endianness } from 'node:os';
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
 * A record may also keep the last bytes of a file (its tail): HDFS can lose the end of an
 * acknowledged write when a DataNode dies in the middle of the next one (the replica is cut
 * back to its last whole checksum chunk), and the webhdfs sink writes them again from here.
 *
 * Records are framed (magic, length, CRC-32): a record torn by the crash is the last one and
 * is ignored, which is right, since its batch was not acknowledged. Commits are written one
 * at a time whoever calls them. The journal is kept in segments of up to window/2 ids; a new
 * segment starts with a checkpoint of the open files' lengths, and only the last two segments
 * are kept, so it never grows past the window.
 */

const MAGIC = 0x314a4c53; // "SLJ1"
const FRAME = 12;
const SEGMENT = /^journal-(\d{9})$/;
const LITTLE_ENDIAN = endianness() === 'LE';

export interface FileLength {
  /** The in-progress file, as the sink names it (a path relative to its root, or an HDFS path). */
  path: string;
  /** Its committed length in bytes: everything before it is acknowledged data. */
  length: number;
  /** The file's last bytes (ending at `length`), for a sink whose storage can lose them. */
  tail?: Buffer;
}

/** A record's header: files as [path, length, tail bytes], forgotten paths, whether it is a checkpoint. */
interface Header {
  f: [string, number, number?][];
  d?: string[];
  c?: 1;
  /** On a segment's checkpoint: the segment goes on with the ids of the one before (it replaced a broken segment, it did not rotate them). */
  s?: 1;
}

export class WriteJournal {
  /** Committed length of every in-progress file the journal knows (finished ones are dropped by forget()). */
  readonly lengths = new Map<string, number>();
  private readonly tails = new Map<string, Buffer>();
  private readonly ids: IdWindow;
  /** Paths forgotten since the last record: the next one says so, so a restart does not look for them. */
  private forgotten: string[] = [];
  private handle: FileHandle | undefined;
  private segment = 0;
  /** Where the next record goes in the current segment. */
  private pos = 0;
  /** A failed append may have left a torn record: nothing may follow it in that segment. */
  private broken = false;
  /**
   * The segments where the last two generations of ids began, oldest first: the window
   * reaches back to the first, so no segment from it on may be deleted. A segment started
   * again after a failed write goes on with the same generation: deleting everything before
   * the segment before it (as when every segment began one) lost the older generation.
   */
  private generationStarts: number[] = [];
  /** The ids rotated, and the segment beginning their generation is not started yet. */
  private rotationPending = false;
  private queue: Promise<unknown> = Promise.resolve();

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
   *
   * Every segment there is read, oldest first: normally the last two, but a rotation that
   * failed (the journal's disk full) or was cut by a crash can leave newer segments empty or
   * without their checkpoint, and the lengths then come from the checkpoint before them.
   * Reading only the last two, two such segments hid every length, and recovery deleted the
   * files they belonged to. A last segment that does not start with a checkpoint is not
   * written on: a new one starts with the checkpoint of what was loaded.
   */
  static async open(dir: string, window: number): Promise<WriteJournal> {
    await mkdir(dir, { recursive: true });
    const segments = (await readdir(dir))
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const journal = new WriteJournal(dir, window, segments.length === 0);
    let last: { seg: number; end: number; checkpointFirst: boolean } | undefined;
    let loadedIds = false;
    for (const seg of segments) {
      const loaded = await journal.load(seg, loadedIds);
      if (loaded.newGeneration) journal.generationStarts = [...journal.generationStarts, seg].slice(-2);
      loadedIds ||= loaded.records > 0;
      last = { seg, ...loaded };
    }
    if (last === undefined || !last.checkpointFirst) {
      journal.segment = last?.seg ?? 0;
      // A segment that was loaded goes on with its generation.
      await journal.startSegment(last !== undefined);
    } else {
      journal.segment = last.seg;
      journal.handle = await open(journal.file(last.seg), 'r+');
      await journal.handle.truncate(last.end);
      journal.pos = last.end;
    }
    return journal;
  }

  /** Whether the event whose hashed id is at h[at..] was written in the window (or claimed by the batch in hand). */
  has(h: Uint32Array, at: number): boolean {
    return this.ids.has(h, at);
  }

  /**
   * Takes the event whose hashed id is at h[at..] for the batch being written: false when it
   * was written already (or earlier in this batch). A batch that is not committed must
   * release() the ids it claimed.
   */
  claim(h: Uint32Array, at: number): boolean {
    return this.ids.claim(h, at);
  }

  /** Gives back ids claimed for events that were not written, so their retry writes them. */
  release(hashes: Uint32Array): void {
    for (let at = 0; at < hashes.length; at += ID_WORDS) this.ids.release(hashes, at);
  }

  /** The last bytes of a file the journal keeps (ending at its committed length). */
  tail(path: string): Buffer | undefined {
    return this.tails.get(path);
  }

  /**
   * Records durably that `files` now have these lengths and that the events whose hashed ids
   * are `hashes` (ID_WORDS words each, claimed before) are written. The caller's data must be
   * durable first. Concurrent calls are written one after the other.
   */
  commit(files: readonly FileLength[], hashes: Uint32Array): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.ids.generationFull || this.broken) await this.rotate();
      await this.append(files, hashes, false);
      for (const f of files) {
        this.lengths.set(f.path, f.length);
        if (f.tail) this.tails.set(f.path, f.tail);
        else this.tails.delete(f.path);
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Writes down the files forgotten since the last record, if any. Until a record says so, a
   * restart takes a finished file's name for in progress at its old length: harmless while
   * no new file gets that name, but retention deleting its day lets one (its events came
   * late), and recovery would cut that file at the old length.
   */
  async recordForgotten(): Promise<void> {
    if (this.forgotten.length > 0) await this.commit([], new Uint32Array(0));
  }

  /** The file was finished (renamed) or removed: later records and checkpoints leave it out. */
  forget(path: string): void {
    if (this.lengths.delete(path)) this.forgotten.push(path);
    this.tails.delete(path);
  }

  async close(): Promise<void> {
    await this.queue;
    await this.handle?.close();
    this.handle = undefined;
  }

  private file(seg: number): string {
    return join(this.dir, `journal-${String(seg).padStart(9, '0')}`);
  }

  /**
   * Reads a segment's whole records into lengths, tails and ids (a new generation of ids if
   * `rotate` and it has any); returns where they end, how many there are, and whether the
   * first is a checkpoint.
   */
  private async load(
    seg: number,
    rotate: boolean,
  ): Promise<{ end: number; records: number; checkpointFirst: boolean; newGeneration: boolean }> {
    const data = await readFile(this.file(seg));
    let pos = 0;
    let records = 0;
    let checkpointFirst = false;
    let newGeneration = false;
    while (pos + FRAME <= data.length) {
      if (data.readUInt32LE(pos) !== MAGIC) break;
      const length = data.readUInt32LE(pos + 4);
      const end = pos + FRAME + length;
      if (end > data.length) break;
      const payload = data.subarray(pos + FRAME, end);
      if (crc32(payload) !== data.readUInt32LE(pos + 8)) break;
      const headerLength = payload.readUInt32LE(0);
      const header = JSON.parse(payload.subarray(4, 4 + headerLength).toString('utf8')) as Header;
      if (records === 0) {
        newGeneration = header.s !== 1 || !rotate;
        if (rotate && header.s !== 1) this.ids.rotate();
        checkpointFirst = header.c === 1;
      }
      records++;
      if (header.c) {
        this.lengths.clear();
        this.tails.clear();
      }
      for (const path of header.d ?? []) {
        this.lengths.delete(path);
        this.tails.delete(path);
      }
      let o = 4 + headerLength;
      for (const [path, len, tailLength = 0] of header.f) {
        this.lengths.set(path, len);
        if (tailLength > 0) this.tails.set(path, Buffer.from(payload.subarray(o, o + tailLength)));
        else this.tails.delete(path);
        o += tailLength;
      }
      const idBytes = payload.subarray(o);
      const words = new Uint32Array(idBytes.length >>> 2);
      for (let i = 0; i < words.length; i++) words[i] = idBytes.readUInt32LE(i * 4);
      for (let at = 0; at + ID_WORDS <= words.length; at += ID_WORDS) this.ids.claim(words, at);
      pos = end;
    }
    return { end: pos, records, checkpointFirst, newGeneration };
  }

  /** `same`: the new segment goes on with the current generation of ids instead of beginning one. */
  private async startSegment(same: boolean): Promise<void> {
    this.segment++;
    const file = this.file(this.segment);
    // Until its checkpoint is written, the next commit starts a segment again.
    this.broken = true;
    this.handle = await open(file, 'wx');
    this.pos = 0;
    try {
      await syncDir(this.dir);
      await this.append(
        [...this.lengths].map(([path, length]) => ({ path, length, tail: this.tails.get(path) })),
        new Uint32Array(0),
        true,
        same,
      );
      this.broken = false;
    } catch (err) {
      // Not left behind without its checkpoint (open() would read past it, but every failed
      // retry of a long outage would leave one more); the next rotation takes its number again.
      await this.handle.close().catch(() => undefined);
      this.handle = undefined;
      if (
        await unlink(file).then(
          () => true,
          () => false,
        )
      )
        this.segment--;
      throw err;
    }
    if (!same) this.generationStarts = [...this.generationStarts, this.segment].slice(-2);
    // The two generations cover the id window; older segments only hold forgotten ids and superseded lengths.
    const keepFrom = Math.min(this.generationStarts[0] ?? this.segment, this.segment - 1);
    for (const name of await readdir(this.dir)) {
      const m = SEGMENT.exec(name);
      if (m && Number(m[1]) < keepFrom) await unlink(join(this.dir, name));
    }
  }

  private async rotate(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    if (this.ids.generationFull) {
      this.ids.rotate();
      this.rotationPending = true;
    }
    // A rotation whose segment could not be started is still the start of a generation.
    await this.startSegment(!this.rotationPending);
    this.rotationPending = false;
  }

  private async append(files: readonly FileLength[], hashes: Uint32Array, checkpoint: boolean, same = false): Promise<void> {
    const tails = files.filter((f) => f.tail !== undefined && f.tail.length > 0).map((f) => f.tail!);
    const header: Header = { f: files.map((f) => (f.tail?.length ? [f.path, f.length, f.tail.length] : [f.path, f.length])) };
    // Taken now: forget() may run while this record is on its way (a checkpoint leaves them out anyway).
    const forgotten = this.forgotten;
    this.forgotten = [];
    if (!checkpoint && forgotten.length > 0) header.d = forgotten;
    if (checkpoint) header.c = 1;
    if (checkpoint && same) header.s = 1;
    const headerBytes = Buffer.from(JSON.stringify(header));
    const head = Buffer.allocUnsafe(4 + headerBytes.length);
    head.writeUInt32LE(headerBytes.length, 0);
    headerBytes.copy(head, 4);
    const ids = idBytes(hashes);
    // Empty parts are left out: Node 20's crc32 answers 0 for a buffer over an empty ArrayBuffer.
    const parts = [head, ...tails, ids].filter((b) => b.length > 0);
    let crc = 0;
    for (const b of parts) crc = crc32(b, crc);
    const payloadLength = parts.reduce((n, b) => n + b.length, 0);
    const frame = Buffer.allocUnsafe(FRAME);
    frame.writeUInt32LE(MAGIC, 0);
    frame.writeUInt32LE(payloadLength, 4);
    frame.writeUInt32LE(crc, 8);
    const handle = this.handle!;
    try {
      const { bytesWritten } = await handle.writev([frame, ...parts], this.pos);
      if (bytesWritten !== FRAME + payloadLength) throw new Error(`journal write cut short (${bytesWritten} bytes written)`);
      await handle.datasync();
    } catch (err) {
      // Cut the torn record off if the disk lets us; either way nothing more goes into this segment.
      await handle.truncate(this.pos).catch(() => undefined);
      this.broken = true;
      if (!checkpoint) this.forgotten = [...forgotten, ...this.forgotten];
      throw new Error(`write journal ${this.file(this.segment)}: ${(err as Error).message}`);
    }
    this.pos += FRAME + payloadLength;
  }
}

/** The ids as little-endian bytes: the array's own memory where the machine is little-endian. */
function idBytes(hashes: Uint32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength);
  const out = Buffer.allocUnsafe(hashes.length * 4);
  for (let i = 0; i < hashes.length; i++) out.writeUInt32LE(hashes[i]!, i * 4);
  return out;
}
