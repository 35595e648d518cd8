import { crc32 } from 'node:zlib';
import { ID_WORDS } from '../file/id-window.js';
import { HdfsError, type WebHdfsClient } from './client.js';

/**
 * Hand-over of a lane (a Kafka partition) between collectors writing one HDFS tree.
 *
 * The write journal is local to a collector: when a rebalance (or a collector's death) moves
 * a partition to another collector, the new owner resumes from the committed offset and
 * would write again what the old owner wrote but had not committed. So, like Kafka Connect's
 * HDFS connector (offsets recorded in HDFS, recovered by the next owner of the partition),
 * each lane has a **ledger in the tree**: `<root>/.sluice/lanes/<lane>/<epoch>.ledger`,
 * appended after every batch of the lane (the in-progress files it touched, with their
 * acknowledged lengths, and the batch's hashed ids) and before the batch is acknowledged.
 * The lane's files are the owner's own (files are per lane), so nobody else appends to them.
 *
 * Taking a lane over: every live ledger of the lane is **sealed** (renamed `<epoch>.sealed`):
 * the previous owner, dead or not, can no longer record a batch there, so nothing it writes
 * from then on is acknowledged. The sealed ledgers are read (an empty APPEND first waits
 * until nobody is appending to them), their files are settled to the recorded lengths and
 * finished by the caller, their ids count as written, and the new owner's ledger starts
 * (epoch one higher, created exclusively: of two collectors taking a lane at once, one wins
 * and the other takes it over again from it) with a carry record holding the files and the
 * most recent ids, after which the sealed ledgers are deleted.
 */

const MAGIC = 0x314c4c53; // "SLL1"
const FRAME = 12;
const LEDGER = /^(\d{9})\.ledger$/;
const SEALED = /^(\d{9})\.sealed$/;
const EMPTY = Buffer.alloc(0);
const EMPTY_IDS = new Uint32Array(0);
/** The length a record gives a file it no longer names (finished). */
const FORGOTTEN = -1;

/** The previous owner's state of a lane: its in-progress files' acknowledged lengths and the ids it wrote. */
export interface LaneState {
  files: Map<string, number>;
  ids: Uint32Array;
}

/** This collector no longer owns the lane: another one sealed its ledger (or recording in it failed). */
export class LaneLost extends Error {
  override readonly name = 'LaneLost';
}

interface Owned {
  epoch: number;
  path: string;
  /** The lane's in-progress files and their acknowledged lengths, as the ledger says. */
  files: Map<string, number>;
  /** Hashed ids of the latest batches, newest last, at most `carry` ids in all. */
  recent: Uint32Array[];
  recentIds: number;
  /** Ids recorded in this ledger file: past rotateAfter, a new one starts with a carry record. */
  recorded: number;
  /** Files finished since the last record: the next one says so (recordForgotten). */
  forgotten: string[];
}

export class LaneLedgers {
  private readonly owned = new Map<string, Owned>();

  constructor(
    private readonly client: WebHdfsClient,
    /** `<root>/.sluice/lanes` */
    private readonly dir: string,
    /** Ids carried from one ledger to the next: more than a lane can have written and not committed. */
    private readonly carry: number,
  ) {}

  owns(lane: string): boolean {
    return this.owned.has(lane);
  }

  /** Forgets the lane (its ledger was sealed by another owner): the next batch of it takes it over again. */
  drop(lane: string): void {
    this.owned.delete(lane);
  }

  /** Whether this collector's ledger of the lane is still there, unsealed. */
  async stillOwned(lane: string): Promise<boolean> {
    const own = this.owned.get(lane);
    if (!own) return false;
    if ((await this.client.getFileStatus(own.path)) !== undefined) return true;
    this.owned.delete(lane);
    return false;
  }

  /** Seals the lane's ledgers, reads them and starts this collector's own; returns what they hold. */
  async takeOver(lane: string): Promise<LaneState> {
    const dir = `${this.dir}/${laneSegment(lane)}`;
    await this.client.mkdirs(dir);
    for (let attempt = 0; ; attempt++) {
      const names = ((await this.client.listStatus(dir)) ?? []).map((s) => s.pathSuffix);
      for (const name of names) {
        const m = LEDGER.exec(name);
        if (m) await this.client.rename(`${dir}/${name}`, `${dir}/${m[1]}.sealed`);
      }
      const sealed = ((await this.client.listStatus(dir)) ?? [])
        .map((s) => SEALED.exec(s.pathSuffix))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      const epochs = names.map((n) => LEDGER.exec(n) ?? SEALED.exec(n)).filter((m): m is RegExpExecArray => m !== null);
      const epoch = Math.max(0, ...sealed, ...epochs.map((m) => Number(m[1]))) + 1;
      const files = new Map<string, number>();
      const chunks: Uint32Array[] = [];
      let raced = false;
      for (const e of sealed) {
        const path = `${dir}/${pad(e)}.sealed`;
        try {
          // Succeeds only once nobody holds the lease: an append that was under way is whole or gone.
          await this.client.append(path, EMPTY);
          readLedger(await this.client.read(path), files, chunks);
        } catch (err) {
          // Another collector taking the lane at the same time deleted it: start again from its ledger.
          if (err instanceof HdfsError && err.exception === 'FileNotFoundException' && attempt < 20) {
            raced = true;
            break;
          }
          throw err;
        }
      }
      if (raced) continue;
      const recent = lastIds(chunks, this.carry);
      const own: Owned = {
        epoch,
        path: `${dir}/${pad(epoch)}.ledger`,
        files,
        recent: [recent],
        recentIds: recent.length / ID_WORDS,
        recorded: 0,
        forgotten: [],
      };
      try {
        await this.client.create(own.path, encodeRecord(files, recent));
      } catch (err) {
        if (err instanceof HdfsError && err.exception === 'FileAlreadyExistsException' && attempt < 20) continue;
        throw err;
      }
      for (const e of sealed) await this.client.delete(`${dir}/${pad(e)}.sealed`, false);
      this.owned.set(lane, own);
      return { files: new Map(files), ids: recent };
    }
  }

  /**
   * Records that the lane's `files` now have these lengths (0: about to be created) and that
   * the events whose hashed ids are `hashes` are written. Throws LaneLost when the ledger was
   * sealed or the append failed (it may or may not have landed: the lane is taken over again,
   * and the ledger, not this process, says what counts).
   */
  async record(lane: string, files: readonly { path: string; length: number }[], hashes: Uint32Array): Promise<void> {
    const own = this.owned.get(lane);
    if (!own) throw new LaneLost(`lane ${lane} is not owned`);
    const forgotten = own.forgotten;
    const changes = new Map<string, number>(forgotten.map((path) => [path, FORGOTTEN]));
    for (const f of files) changes.set(f.path, f.length);
    try {
      await this.client.append(own.path, encodeRecord(changes, hashes));
    } catch (err) {
      this.owned.delete(lane);
      throw new LaneLost(`lane ${lane}: recording in ${own.path} failed (${(err as Error).message}); the lane is taken over again`);
    }
    if (own.forgotten === forgotten) own.forgotten = [];
    for (const [path, length] of changes) if (length !== FORGOTTEN) own.files.set(path, length);
    if (hashes.length > 0) {
      own.recent.push(hashes.slice());
      own.recentIds += hashes.length / ID_WORDS;
      own.recorded += hashes.length / ID_WORDS;
      while (own.recent.length > 1 && own.recentIds - own.recent[0]!.length / ID_WORDS >= this.carry)
        own.recentIds -= own.recent.shift()!.length / ID_WORDS;
    }
    if (own.recorded >= 4 * this.carry) await this.rotate(lane, own);
  }

  /** The file was finished: the lane's next record says so (recordForgotten), and its next ledger leaves it out. */
  forget(lane: string, path: string): void {
    const own = this.owned.get(lane);
    if (own?.files.delete(path)) own.forgotten.push(path);
  }

  /** The lanes with files finished since their last record. */
  withFinished(): string[] {
    return [...this.owned].filter(([, own]) => own.forgotten.length > 0).map(([lane]) => lane);
  }

  /**
   * Records the lane's files finished since its last record. A ledger that still named a
   * finished file would have the lane's next owner settle whatever has that path then: once
   * its folder was removed (retention, a downstream job), another lane's first file there
   * gets the same name, and would be cut to this lane's length and renamed under its writer.
   * Throws LaneLost as record() does.
   */
  async recordForgotten(lane: string): Promise<void> {
    if ((this.owned.get(lane)?.forgotten.length ?? 0) > 0) await this.record(lane, [], EMPTY_IDS);
  }

  /** Starts the next ledger of the lane with a carry record, so a ledger stays a few MiB whatever the lane's age. */
  private async rotate(lane: string, own: Owned): Promise<void> {
    const next = own.epoch + 1;
    const path = own.path.replace(/\d{9}\.ledger$/, `${pad(next)}.ledger`);
    const recent = lastIds(own.recent, this.carry);
    try {
      await this.client.create(path, encodeRecord(own.files, recent));
    } catch (err) {
      this.owned.delete(lane);
      throw new LaneLost(`lane ${lane}: starting ledger ${path} failed (${(err as Error).message}); the lane is taken over again`);
    }
    await this.client.delete(own.path, false);
    this.owned.set(lane, { ...own, epoch: next, path, recent: [recent], recentIds: recent.length / ID_WORDS, recorded: 0, forgotten: [] });
  }
}

/** A lane name as one HDFS path segment. */
function laneSegment(lane: string): string {
  return encodeURIComponent(lane).replace(/%/g, '~');
}

function pad(epoch: number): string {
  return String(epoch).padStart(9, '0');
}

/** [MAGIC, payload length, CRC-32] + u32 header length + JSON [[path, length], ...] (length -1: finished) + ids (little-endian words). */
export function encodeRecord(files: ReadonlyMap<string, number>, hashes: Uint32Array): Buffer {
  const header = Buffer.from(JSON.stringify([...files]));
  const payload = Buffer.allocUnsafe(4 + header.length + hashes.length * 4);
  payload.writeUInt32LE(header.length, 0);
  header.copy(payload, 4);
  for (let i = 0, o = 4 + header.length; i < hashes.length; i++, o += 4) payload.writeUInt32LE(hashes[i]!, o);
  const frame = Buffer.allocUnsafe(FRAME);
  frame.writeUInt32LE(MAGIC, 0);
  frame.writeUInt32LE(payload.length, 4);
  frame.writeUInt32LE(payload.length > 0 ? crc32(payload) : 0, 8);
  return Buffer.concat([frame, payload]);
}

/** Reads a ledger's whole records into `files` and `chunks`; a torn last record (its writer died mid-append) is ignored. */
export function readLedger(data: Buffer, files: Map<string, number>, chunks: Uint32Array[]): void {
  let pos = 0;
  while (pos + FRAME <= data.length) {
    if (data.readUInt32LE(pos) !== MAGIC) return;
    const end = pos + FRAME + data.readUInt32LE(pos + 4);
    if (end > data.length) return;
    const payload = data.subarray(pos + FRAME, end);
    if (crc32(payload) !== data.readUInt32LE(pos + 8)) return;
    const headerLength = payload.readUInt32LE(0);
    for (const [path, length] of JSON.parse(payload.subarray(4, 4 + headerLength).toString('utf8')) as [string, number][])
      if (length === FORGOTTEN) files.delete(path);
      else files.set(path, length);
    const words = new Uint32Array((payload.length - 4 - headerLength) >>> 2);
    for (let i = 0; i < words.length; i++) words[i] = payload.readUInt32LE(4 + headerLength + i * 4);
    if (words.length > 0) chunks.push(words);
    pos = end;
  }
}

/** The last `max` ids of the chunks, in order. */
function lastIds(chunks: readonly Uint32Array[], max: number): Uint32Array {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const keep = Math.min(total, max * ID_WORDS);
  const out = new Uint32Array(keep);
  let o = keep;
  for (let i = chunks.length - 1; i >= 0 && o > 0; i--) {
    const c = chunks[i]!;
    const n = Math.min(c.length, o);
    out.set(c.subarray(c.length - n), o - n);
    o -= n;
  }
  return out;
}
