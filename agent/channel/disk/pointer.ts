import type { FileHandle } from 'node:fs/promises';
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { syncDir } from '../../../core/durable-file.js';
import type { SourceCheckpoint } from '../../../core/pipeline.js';

/**
 * The committed position: everything before (segment, offset) and the first `skip` events
 * of the record at offset have been committed by the taker. It also carries the newest
 * checkpoint of every source whose records were committed, so deleting a segment never
 * forgets a source's position.
 *
 * Kept in two slot files written in turn, each overwritten in place with one write and one
 * fdatasync (a commit used to cost a temp file, two fsyncs and a rename, whose directory
 * update made every segment fsync wait for the journal). Each copy carries a sequence
 * number and a CRC: at recovery the intact copy with the highest number wins. A crash in
 * the middle of a write damages only the copy being written, whose commit had not
 * resolved, so the other copy, one commit older, is the right one. A write only moves on
 * to the other slot once it succeeded, so a failing write never touches the good copy.
 *
 *   slot    = crc32 (8 hex) " " body length "\n" body "\n"   (bytes after that: an older, longer copy; ignored)
 *   body    = {"v":2,"seq":n,"segment":s,"offset":o,"skip":k,"checkpoints":{...}}
 *
 * `pointer.json` (format 1 and 2 channels: one file replaced by rename) is read when no
 * slot holds a pointer yet, and deleted once a slot does.
 */
export interface Pointer {
  segment: number;
  offset: number;
  skip: number;
  checkpoints: Record<string, SourceCheckpoint>;
}

export const POINTER_SLOTS = ['pointer.0', 'pointer.1'] as const;
const LEGACY_POINTER_FILE = 'pointer.json';

export type PointerRead =
  | { kind: 'missing' }
  | { kind: 'ok'; pointer: Pointer; file: string; seq: number; damaged: { file: string; reason: string }[] }
  | { kind: 'damaged'; reasons: { file: string; reason: string }[] };

type SlotRead = { kind: 'missing' } | { kind: 'ok'; pointer: Pointer; seq: number } | { kind: 'damaged'; reason: string };

function encodePointer(p: Pointer, seq: number): Buffer {
  const body = Buffer.from(JSON.stringify({ v: 2, seq, segment: p.segment, offset: p.offset, skip: p.skip, checkpoints: p.checkpoints }));
  const crc = crc32(body).toString(16).padStart(8, '0');
  return Buffer.concat([Buffer.from(`${crc} ${body.length}\n`), body, Buffer.from('\n')]);
}

/** Reads a slot copy; empty (created, never written) counts as missing. */
export function decodeSlot(buf: Buffer): SlotRead {
  if (buf.length === 0) return { kind: 'missing' };
  const nl = buf.indexOf(0x0a);
  const head = /^([0-9a-f]{8}) (\d{1,9})$/.exec(nl < 0 ? '' : buf.toString('latin1', 0, nl));
  if (!head) return { kind: 'damaged', reason: 'no header line' };
  const length = Number(head[2]);
  const body = buf.subarray(nl + 1, nl + 1 + length);
  if (body.length !== length) return { kind: 'damaged', reason: `cut short (${body.length} of ${length} bytes)` };
  if (crc32(body).toString(16).padStart(8, '0') !== head[1]) return { kind: 'damaged', reason: 'checksum mismatch' };
  const r = parseBody(body.toString('utf8'), 2);
  return typeof r === 'string' ? { kind: 'damaged', reason: r } : { kind: 'ok', pointer: r.pointer, seq: r.seq };
}

/** The single file of formats 1 and 2: crc32 (8 hex) "\n" body "\n", replaced by rename. */
function decodeLegacy(text: string): SlotRead {
  const nl = text.indexOf('\n');
  const body = nl < 0 ? '' : text.slice(nl + 1).replace(/\n$/, '');
  if (nl !== 8 || crc32(body).toString(16).padStart(8, '0') !== text.slice(0, 8)) return { kind: 'damaged', reason: 'checksum mismatch' };
  const r = parseBody(body, 1);
  return typeof r === 'string' ? { kind: 'damaged', reason: r } : { kind: 'ok', pointer: r.pointer, seq: 0 };
}

function parseBody(body: string, v: number): { pointer: Pointer; seq: number } | string {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (err) {
    return `invalid JSON (${(err as Error).message})`;
  }
  const r = raw as Record<string, unknown>;
  const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  const seq = v === 1 ? 0 : r.seq;
  if (
    typeof r !== 'object' ||
    r === null ||
    r.v !== v ||
    !isCount(seq) ||
    !isCount(r.segment) ||
    !isCount(r.offset) ||
    !isCount(r.skip) ||
    typeof r.checkpoints !== 'object' ||
    r.checkpoints === null
  ) {
    return 'unexpected content';
  }
  return {
    seq,
    pointer: { segment: r.segment, offset: r.offset, skip: r.skip, checkpoints: r.checkpoints as Record<string, SourceCheckpoint> },
  };
}

/** The two pointer slots of a channel directory, open for the channel's lifetime. */
export class PointerStore {
  private next = 0;
  private seq = 0;
  private legacy = false;
  private unsynced = false;
  /**
   * The newest complete pointer not synced yet, as written; and whether the slot may hold
   * less than it (a write or a sync that failed), in which case sync() writes it again first.
   */
  private written: Buffer | undefined;
  private torn = false;

  private constructor(
    private readonly dir: string,
    private readonly slots: FileHandle[],
  ) {}

  /** Opens (creating) both slots and reads the newest intact pointer among them and a legacy pointer.json. */
  static async open(dir: string): Promise<{ store: PointerStore; read: PointerRead }> {
    const slots: FileHandle[] = [];
    let created = false;
    try {
      for (const name of POINTER_SLOTS) {
        const path = join(dir, name);
        try {
          slots.push(await open(path, 'r+'));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          slots.push(await open(path, 'w+', 0o600));
          created = true;
        }
      }
      if (created) await syncDir(dir);
    } catch (err) {
      await Promise.all(slots.map((fh) => fh.close()));
      throw err;
    }
    const store = new PointerStore(dir, slots);
    const reads: { file: string; read: SlotRead }[] = [];
    for (let i = 0; i < slots.length; i++) reads.push({ file: POINTER_SLOTS[i]!, read: decodeSlot(await slots[i]!.readFile()) });
    const legacy = await readLegacy(dir);
    if (legacy) {
      reads.push({ file: LEGACY_POINTER_FILE, read: legacy });
      store.legacy = true;
    }
    const damaged = reads.flatMap((r) => (r.read.kind === 'damaged' ? [{ file: r.file, reason: r.read.reason }] : []));
    let best: { file: string; index: number; pointer: Pointer; seq: number } | undefined;
    reads.forEach((r, index) => {
      if (r.read.kind === 'ok' && (!best || r.read.seq > best.seq))
        best = { file: r.file, index, pointer: r.read.pointer, seq: r.read.seq };
    });
    for (const r of reads) if (r.read.kind === 'ok') store.seq = Math.max(store.seq, r.read.seq);
    // Overwrite the slot that does not hold the pointer in use.
    store.next = best && best.index < slots.length ? 1 - best.index : 0;
    // The pointer in use may have been written and never synced (commit_fsync: a duration, then
    // a crash of the process): synced now, it is the copy the next writes never land on.
    if (best && best.index < slots.length) await slots[best.index]!.datasync();
    let read: PointerRead;
    if (best) read = { kind: 'ok', pointer: best.pointer, file: best.file, seq: best.seq, damaged };
    else read = damaged.length > 0 ? { kind: 'damaged', reasons: damaged } : { kind: 'missing' };
    return { store, read };
  }

  /** Whether open() found the single pointer file of an older channel (write() then retires it). */
  get hasLegacy(): boolean {
    return this.legacy;
  }

  /**
   * Makes `p` the committed position: one write of the slot that does not hold the last
   * synced pointer. `sync`: then one fdatasync, after which that slot holds the synced
   * pointer and the next writes go to the other. Without it the write survives a crash of
   * the process (the page cache keeps it) but maybe not a power failure; the synced copy
   * it never overwrites is then the pointer read at open. Safe to retry after a failure.
   */
  async write(p: Pointer, sync = true): Promise<void> {
    const buf = encodePointer(p, this.seq + 1);
    this.torn = true;
    await this.writeSlot(buf);
    this.torn = false;
    this.written = buf;
    this.seq++;
    this.unsynced = true;
    if (sync) await this.sync();
  }

  private async writeSlot(buf: Buffer): Promise<void> {
    const fh = this.slots[this.next]!;
    let done = 0;
    while (done < buf.length) done += (await fh.write(buf, done, buf.length - done, done)).bytesWritten;
  }

  /** Syncs the newest pointer written, which makes it the one a power failure leaves; false when it already was. */
  async sync(): Promise<boolean> {
    if (!this.unsynced) return false;
    // A failed write may have left part of a newer pointer over it, and after a failed sync
    // the kernel may have dropped the pages it reported: the slot is written whole again.
    if (this.torn) await this.writeSlot(this.written!);
    this.torn = false;
    try {
      await this.slots[this.next]!.datasync();
    } catch (err) {
      this.torn = true;
      throw err;
    }
    this.unsynced = false;
    this.written = undefined;
    this.next = 1 - this.next;
    if (this.legacy) {
      await unlink(join(this.dir, LEGACY_POINTER_FILE)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      await syncDir(this.dir);
      this.legacy = false;
    }
    return true;
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((fh) => fh.close()));
  }
}

async function readLegacy(dir: string): Promise<SlotRead | undefined> {
  try {
    return decodeLegacy(await readFile(join(dir, LEGACY_POINTER_FILE), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
