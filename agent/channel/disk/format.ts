import { crc32 } from 'node:zlib';
import type { FieldValue, LogEvent, SourceRef } from '../../../core/event.js';
import type { SourceCheckpoint } from '../../../core/pipeline.js';
import { decodeEvent, encodeEventString, WireFormatError } from '../../../core/wire.js';

/**
 * On-disk format of the disk channel. The channel's encoding is its own: what leaves the
 * agent is always core/wire.ts JSON, so this can change between versions as long as a new
 * Sluice reads every older segment version (an upgrade with data in the channel loses
 * nothing) and refuses newer ones.
 *
 * A segment file starts with an 8-byte header ("SLUICE", format version, "\n") and holds
 * records back to back. One record is one put: its events and the source checkpoint that
 * came with them, so the position and the lines it covers become durable in one write.
 *
 *   record  = magic u32 | payload length u32 | crc32 u32 | payload
 *   crc32   = CRC-32 of the length field and the payload (a torn length cannot pass)
 *   payload = event count u32 | checkpoint length u32 | checkpoint JSON (may be empty) | events
 *
 * The magic lets recovery find the next intact record after a damaged one. The events part
 * (absent when the count is 0) depends on the segment's version:
 *
 * Version 1: the core/wire.ts JSON of each event, joined by "\n".
 *
 * Version 2 (binary, see encodeEvents):
 *   chunk count u32 | per chunk: events u32, text bytes u32, text UTF-16 units u32
 *   | layout length u32 | layout | text
 * The text is every string of every event concatenated, UTF-8, in chunks of whole events;
 * the layout holds per event its flags, numbers and the length of each of its strings in
 * UTF-16 units, so the reader decodes a chunk of text with one call and slices it.
 * Encoding JSON per event was the channel's bottleneck.
 */
export const FORMAT_VERSION = 2;
/** Versions this code reads: every one it ever wrote. */
export const READABLE_VERSIONS: readonly number[] = [1, 2];
export const SEGMENT_HEADER = segmentHeader(FORMAT_VERSION);
export const SEGMENT_HEADER_BYTES = SEGMENT_HEADER.length;
export const FRAME_MAGIC = 0x534c5246; // "SLRF"
export const FRAME_HEADER_BYTES = 12;
const PAYLOAD_HEADER_BYTES = 8;

export function segmentHeader(version: number): Buffer {
  return Buffer.from(`SLUICE${String.fromCharCode(version)}\n`, 'latin1');
}

/**
 * Version 2 event flags (u16). A "same" bit means the value equals the one the previous
 * event of the record had in that slot (absent in the text): service, host, path and
 * friends rarely change within a batch, and the reader shares one string for all of them.
 */
const SAME_SERVICE = 1 << 0;
const SAME_MODULE = 1 << 1;
const SAME_HOST = 1 << 2;
const SAME_KIND = 1 << 3;
const HAS_PATH = 1 << 4;
const SAME_PATH = 1 << 5;
const HAS_FILE_ID = 1 << 6;
const SAME_FILE_ID = 1 << 7;
const HAS_CONTAINER = 1 << 8;
const SAME_CONTAINER = 1 << 9;
const HAS_STREAM = 1 << 10;
const SAME_STREAM = 1 << 11;
const HAS_OFFSET = 1 << 12;
/** `fields` is non-empty: its JSON is in the text. */
const HAS_FIELDS = 1 << 13;
/** `source` has keys or value types SourceRef does not describe: its JSON is in the text instead of the slots. */
const SOURCE_JSON = 1 << 14;
/** The whole event is its core/wire.ts JSON (strings with lone surrogates, which UTF-8 cannot carry). */
const EVENT_JSON = 1 << 15;

/** Worst case layout bytes of one event: flags, two float64s, nine varint lengths. */
const MAX_LAYOUT_PER_EVENT = 2 + 8 + 8 + 9 * 5;
/**
 * The text is cut into chunks of about this many UTF-16 units, each encoded and decoded
 * with one native call. Whole-record strings (hundreds of KiB) land in V8's large-object
 * space, which made encoding 4x and decoding 7x slower than chunks of this size.
 */
const CHUNK_CHARS = 32 * 1024;
/** Per chunk: event count, UTF-8 bytes, UTF-16 units (u32 each). */
const CHUNK_ENTRY_BYTES = 12;
/** Scratch buffers up to this size are kept for the next put; bigger ones are one-off. */
const KEEP_SCRATCH_BYTES = 8 << 20;

/** Scratch space of encodeRecord, reused from put to put (records are copied out of it). */
class RecordScratch {
  layout: Buffer = Buffer.allocUnsafe(256 * 1024);
  /** Over `layout`: DataView float64 writes compile to a store, Buffer.writeDoubleLE to a call. */
  view: DataView = new DataView(this.layout.buffer, this.layout.byteOffset, this.layout.length);
  q = 0;
  text: Buffer = Buffer.allocUnsafe(1 << 20);
  textBytes = 0;
  /** CHUNK_ENTRY_BYTES / 4 numbers per chunk. */
  readonly chunks: number[] = [];

  reset(events: number): void {
    if (this.layout.length < events * MAX_LAYOUT_PER_EVENT) this.setLayout(Buffer.allocUnsafe(events * MAX_LAYOUT_PER_EVENT));
    this.q = 0;
    this.textBytes = 0;
    this.chunks.length = 0;
  }

  /** Appends a chunk of text; false if UTF-8 cannot carry it exactly (lone surrogates). */
  flush(text: string, events: number): boolean {
    if (!isWellFormed(text)) return false;
    const need = this.textBytes + text.length * 3;
    if (this.text.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.text.length * 2));
      this.text.copy(grown, 0, 0, this.textBytes);
      this.text = grown;
    }
    const bytes = this.text.write(text, this.textBytes, 'utf8');
    this.textBytes += bytes;
    this.chunks.push(events, bytes, text.length);
    return true;
  }

  private setLayout(layout: Buffer): void {
    this.layout = layout;
    this.view = new DataView(layout.buffer, layout.byteOffset, layout.length);
  }

  /** Drops buffers a huge put grew, so one outlier does not pin its memory. */
  shrink(): void {
    if (this.layout.length > KEEP_SCRATCH_BYTES) this.setLayout(Buffer.allocUnsafe(256 * 1024));
    if (this.text.length > KEEP_SCRATCH_BYTES) this.text = Buffer.allocUnsafe(1 << 20);
  }
}

const scratch = new RecordScratch();

/**
 * A put's record is hundreds of KiB, and a fresh allocation that size (mmap, a page fault
 * per 4 KiB when first written, munmap) cost more than encoding the events in it. The
 * channel hands a record back with releaseRecord() once it is on disk, and a later put
 * reuses the memory. Sizes are rounded up to a power of two so records of similar puts
 * share buffers.
 */
const POOL_MIN_BYTES = 64 * 1024;
const POOL_MAX_FREE_BYTES = 64 << 20;
const framesInUse = new WeakSet<ArrayBuffer>();
const freeFrames = new Map<number, ArrayBuffer[]>();
let freeFrameBytes = 0;

function allocFrame(size: number): Buffer {
  if (size < POOL_MIN_BYTES) return Buffer.allocUnsafe(size);
  const bytes = 2 ** Math.ceil(Math.log2(size));
  let memory = freeFrames.get(bytes)?.pop();
  if (memory) freeFrameBytes -= bytes;
  else memory = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
  framesInUse.add(memory);
  return Buffer.from(memory, 0, size);
}

/** Gives the memory of a record encodeRecord returned back for reuse; the record must not be used after. */
export function releaseRecord(frame: Buffer): void {
  const memory = frame.buffer as ArrayBuffer;
  // Anything else, or a second release of the same record, is ignored: reuse while in use would corrupt records.
  if (!framesInUse.delete(memory) || freeFrameBytes + memory.byteLength > POOL_MAX_FREE_BYTES) return;
  let list = freeFrames.get(memory.byteLength);
  if (!list) freeFrames.set(memory.byteLength, (list = []));
  list.push(memory);
  freeFrameBytes += memory.byteLength;
}

/**
 * Encodes one put as a record; throws a plain Error naming the event when one cannot be
 * stored faithfully. Give the record to releaseRecord() once written.
 */
export function encodeRecord(events: readonly LogEvent[], checkpoint: SourceCheckpoint | undefined): Buffer {
  const cp = checkpoint === undefined ? '' : JSON.stringify(checkpoint);
  const cpBytes = Buffer.byteLength(cp);
  let eventsBytes = 0;
  if (events.length > 0) {
    scratch.reset(events.length);
    if (!encodeEvents(events, scratch, false)) {
      scratch.reset(events.length);
      encodeEvents(events, scratch, true);
    }
    eventsBytes = 4 + scratch.chunks.length * 4 + 4 + scratch.q + scratch.textBytes;
  }
  const payloadLength = PAYLOAD_HEADER_BYTES + cpBytes + eventsBytes;
  const frame = allocFrame(FRAME_HEADER_BYTES + payloadLength);
  frame.writeUInt32LE(FRAME_MAGIC, 0);
  frame.writeUInt32LE(payloadLength, 4);
  frame.writeUInt32LE(events.length, 12);
  frame.writeUInt32LE(cpBytes, 16);
  let at = FRAME_HEADER_BYTES + PAYLOAD_HEADER_BYTES;
  if (cpBytes > 0) at += frame.write(cp, at, cpBytes, 'utf8');
  if (events.length > 0) {
    const chunks = scratch.chunks;
    at = frame.writeUInt32LE(chunks.length / 3, at);
    for (let i = 0; i < chunks.length; i++) at = frame.writeUInt32LE(chunks[i]!, at);
    at = frame.writeUInt32LE(scratch.q, at);
    at += scratch.layout.copy(frame, at, 0, scratch.q);
    scratch.text.copy(frame, at, 0, scratch.textBytes);
    scratch.shrink();
  }
  frame.writeUInt32LE(frameCrc(frame, 0, payloadLength), 8);
  return frame;
}

/**
 * Writes the layout and text of `events` into `out`. With `checkEach`, an event whose
 * strings UTF-8 cannot carry exactly (lone surrogates) is stored as its wire JSON, which
 * escapes them; without, returns false if there is such an event (checking each chunk of
 * text at once is much cheaper, and such events are rare).
 */
function encodeEvents(events: readonly LogEvent[], out: RecordScratch, checkEach: boolean): boolean {
  const layout = out.layout;
  const view = out.view;
  let q = 0;
  let text = '';
  let inChunk = 0;
  let service: string | undefined;
  let module: string | undefined;
  let host: string | undefined;
  let kind: string | undefined;
  let path: string | undefined;
  let fileId: string | undefined;
  let container: string | undefined;
  let stream: string | undefined;
  for (let i = 0; i < events.length; i++) {
    if (text.length >= CHUNK_CHARS) {
      if (!out.flush(text, inChunk)) return false;
      text = '';
      inChunk = 0;
    }
    inChunk++;
    const e = events[i]!;
    checkEvent(e, i);
    if (checkEach && !eventIsWellFormed(e)) {
      const json = encodeEventString(e);
      layout[q++] = 0;
      layout[q++] = EVENT_JSON >>> 8;
      q = writeVarint(layout, q, json.length);
      text += json;
      continue;
    }
    const flagsAt = q;
    q += 2;
    let flags = 0;
    view.setFloat64(q, e.timestamp, true);
    q += 8;
    q = writeVarint(layout, q, e.id.length);
    q = writeVarint(layout, q, e.message.length);
    text += e.id;
    text += e.message;
    if (e.service === service) flags |= SAME_SERVICE;
    else {
      service = e.service;
      q = writeVarint(layout, q, service.length);
      text += service;
    }
    if (e.module === module) flags |= SAME_MODULE;
    else {
      module = e.module;
      q = writeVarint(layout, q, module.length);
      text += module;
    }
    if (e.host === host) flags |= SAME_HOST;
    else {
      host = e.host;
      q = writeVarint(layout, q, host.length);
      text += host;
    }
    const s = e.source;
    if (!isPlainSource(s)) {
      const json = JSON.stringify(s);
      flags |= SOURCE_JSON;
      q = writeVarint(layout, q, json.length);
      text += json;
    } else {
      if (s.kind === kind) flags |= SAME_KIND;
      else {
        kind = s.kind;
        q = writeVarint(layout, q, kind.length);
        text += kind;
      }
      const p = s.path;
      if (p !== undefined) {
        if (p === path) flags |= HAS_PATH | SAME_PATH;
        else {
          flags |= HAS_PATH;
          path = p;
          q = writeVarint(layout, q, p.length);
          text += p;
        }
      }
      const f = s.fileId;
      if (f !== undefined) {
        if (f === fileId) flags |= HAS_FILE_ID | SAME_FILE_ID;
        else {
          flags |= HAS_FILE_ID;
          fileId = f;
          q = writeVarint(layout, q, f.length);
          text += f;
        }
      }
      if (s.offset !== undefined) {
        flags |= HAS_OFFSET;
        view.setFloat64(q, s.offset, true);
        q += 8;
      }
      const c = s.container;
      if (c !== undefined) {
        if (c === container) flags |= HAS_CONTAINER | SAME_CONTAINER;
        else {
          flags |= HAS_CONTAINER;
          container = c;
          q = writeVarint(layout, q, c.length);
          text += c;
        }
      }
      const st = s.stream;
      if (st !== undefined) {
        if (st === stream) flags |= HAS_STREAM | SAME_STREAM;
        else {
          flags |= HAS_STREAM;
          stream = st;
          q = writeVarint(layout, q, st.length);
          text += st;
        }
      }
    }
    const fields = e.fields;
    if (fields != null && hasKeys(fields)) {
      // JSON as on the wire: values it cannot represent (undefined, NaN) end up as they would in Kafka.
      const json = JSON.stringify(fields);
      flags |= HAS_FIELDS;
      q = writeVarint(layout, q, json.length);
      text += json;
    }
    layout[flagsAt] = flags & 0xff;
    layout[flagsAt + 1] = flags >>> 8;
  }
  if (!out.flush(text, inChunk)) return false;
  out.q = q;
  return true;
}

/**
 * Refuses at put() what a collector would refuse when decoding the wire JSON: stored, it
 * would only be found bad when read back, with the rest of its record.
 */
function checkEvent(e: LogEvent, i: number): void {
  const bad = (what: string): never => {
    throw new Error(`event ${i} of the batch (id ${JSON.stringify(e?.id)}) cannot be stored: ${what}`);
  };
  if (typeof e !== 'object' || e === null) bad('not an object');
  if (typeof e.id !== 'string' || e.id.length === 0) bad('"id" must be a non-empty string');
  if (typeof e.timestamp !== 'number' || !Number.isFinite(e.timestamp))
    bad(`"timestamp" must be a finite number, got ${String(e.timestamp)}`);
  if (typeof e.message !== 'string') bad('"message" must be a string');
  if (typeof e.service !== 'string') bad('"service" must be a string');
  if (typeof e.module !== 'string') bad('"module" must be a string');
  if (typeof e.host !== 'string') bad('"host" must be a string');
  const s = e.source;
  if (typeof s !== 'object' || s === null || Array.isArray(s) || typeof s.kind !== 'string')
    bad('"source" must be an object with a string "kind"');
  const f = e.fields;
  if (f != null && (typeof f !== 'object' || Array.isArray(f))) bad('"fields" must be an object');
}

/** True when the slots carry `s` exactly: only SourceRef's keys, each with its type. */
function isPlainSource(s: SourceRef): boolean {
  if (
    (s.path !== undefined && typeof s.path !== 'string') ||
    (s.fileId !== undefined && typeof s.fileId !== 'string') ||
    (s.container !== undefined && typeof s.container !== 'string') ||
    (s.stream !== undefined && typeof s.stream !== 'string') ||
    (s.offset !== undefined && (typeof s.offset !== 'number' || !Number.isFinite(s.offset)))
  ) {
    return false;
  }
  let keys = 0;
  for (const key in s) {
    switch (key) {
      case 'kind':
      case 'path':
      case 'fileId':
      case 'offset':
      case 'container':
      case 'stream':
        keys++;
        break;
      default:
        return false;
    }
  }
  // A key holding undefined is absent on the wire; the JSON path drops it the same way.
  const present =
    1 +
    +(s.path !== undefined) +
    +(s.fileId !== undefined) +
    +(s.offset !== undefined) +
    +(s.container !== undefined) +
    +(s.stream !== undefined);
  return keys === present;
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/**
 * Each string on its own, not their concatenation: a pair split across two strings would
 * survive in one text but not when "same" leaves one of them out of it.
 */
function eventIsWellFormed(e: LogEvent): boolean {
  const s = e.source;
  if (!isWellFormed(e.id) || !isWellFormed(e.message) || !isWellFormed(e.service) || !isWellFormed(e.module) || !isWellFormed(e.host))
    return false;
  if (!isPlainSource(s)) return true;
  for (const v of [s.kind, s.path, s.fileId, s.container, s.stream]) if (v !== undefined && !isWellFormed(v)) return false;
  return true;
}

/** String.prototype.isWellFormed (Node 20) is missing from the ES2023 lib this project compiles against. */
function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function writeVarint(buf: Buffer, at: number, value: number): number {
  let v = value;
  let q = at;
  while (v >= 0x80) {
    buf[q++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[q++] = v;
  return q;
}

function frameCrc(buf: Buffer, at: number, payloadLength: number): number {
  return crc32(buf.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + payloadLength), crc32(buf.subarray(at + 4, at + 8)));
}

export type FrameCheck =
  /** An intact record of `length` bytes (header included) starts here. */
  | { kind: 'ok'; length: number }
  /** The buffer ends before the record would: read more (or, at the end of the data, a torn tail). */
  | { kind: 'short'; need: number }
  | { kind: 'bad'; reason: string };

/** Checks the record at `at`; `end` is where valid data may end, `maxLength` bounds a sane payload. */
export function checkFrame(buf: Buffer, at: number, end: number, maxLength: number): FrameCheck {
  if (end - at < FRAME_HEADER_BYTES) return { kind: 'short', need: FRAME_HEADER_BYTES };
  if (buf.readUInt32LE(at) !== FRAME_MAGIC) return { kind: 'bad', reason: 'no record marker' };
  const payloadLength = buf.readUInt32LE(at + 4);
  if (payloadLength < PAYLOAD_HEADER_BYTES || payloadLength > maxLength) {
    return { kind: 'bad', reason: `implausible record length ${payloadLength}` };
  }
  const length = FRAME_HEADER_BYTES + payloadLength;
  if (end - at < length) return { kind: 'short', need: length };
  if (frameCrc(buf, at, payloadLength) !== buf.readUInt32LE(at + 8)) return { kind: 'bad', reason: 'checksum mismatch' };
  const count = buf.readUInt32LE(at + 12);
  const cpLength = buf.readUInt32LE(at + 16);
  if (PAYLOAD_HEADER_BYTES + cpLength > payloadLength || (count === 0 && PAYLOAD_HEADER_BYTES + cpLength !== payloadLength)) {
    return { kind: 'bad', reason: 'inconsistent record header' };
  }
  return { kind: 'ok', length };
}

/**
 * Offset of the next intact record after damaged bytes at `from`, or -1 if none starts
 * before `end`. Only candidates whose checksum verifies count, so a stray magic inside an
 * event cannot resynchronise the reader onto garbage.
 */
export function findNextFrame(buf: Buffer, from: number, end: number, maxLength: number): number {
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(FRAME_MAGIC, 0);
  let at = from;
  while (at < end) {
    const hit = buf.indexOf(magic, at);
    if (hit < 0 || hit >= end) return -1;
    if (checkFrame(buf, hit, end, maxLength).kind === 'ok') return hit;
    at = hit + 1;
  }
  return -1;
}

export interface RecordHeader {
  count: number;
  checkpoint: SourceCheckpoint | undefined;
}

/** Reads the event count and checkpoint of a verified record (the same in every version). */
export function readRecordHeader(buf: Buffer, at: number, where: string): RecordHeader {
  const count = buf.readUInt32LE(at + 12);
  const cpLength = buf.readUInt32LE(at + 16);
  if (cpLength === 0) return { count, checkpoint: undefined };
  const start = at + FRAME_HEADER_BYTES + PAYLOAD_HEADER_BYTES;
  let checkpoint: unknown;
  try {
    checkpoint = JSON.parse(buf.toString('utf8', start, start + cpLength));
  } catch (err) {
    throw new WireFormatError(`invalid source checkpoint in record: ${(err as Error).message}`, where);
  }
  if (typeof checkpoint !== 'object' || checkpoint === null || typeof (checkpoint as SourceCheckpoint).source !== 'string') {
    throw new WireFormatError('invalid source checkpoint in record: expected an object with a string "source"', where);
  }
  return { count, checkpoint: checkpoint as SourceCheckpoint };
}

/**
 * Decodes the events of a verified record of a segment of `version`; throws
 * WireFormatError naming `where` (never anything else, whatever the bytes).
 */
export function decodeRecordEvents(buf: Buffer, at: number, length: number, count: number, version: number, where: string): LogEvent[] {
  if (count === 0) return [];
  const cpLength = buf.readUInt32LE(at + 16);
  const start = at + FRAME_HEADER_BYTES + PAYLOAD_HEADER_BYTES + cpLength;
  const end = at + length;
  if (version === 1) return decodeJsonLines(buf, start, end, count, where);
  try {
    return decodeBinary(buf, start, end, count, where);
  } catch (err) {
    if (err instanceof WireFormatError) throw err;
    // Bounds are checked as the layout is read, so this is a bug, but damage must still never crash the reader.
    throw new WireFormatError(`undecodable record: ${(err as Error).message}`, where);
  }
}

function decodeJsonLines(buf: Buffer, start: number, end: number, count: number, where: string): LogEvent[] {
  const lines = buf.toString('utf8', start, end).split('\n');
  if (lines.length !== count) {
    throw new WireFormatError(`record says ${count} events but holds ${lines.length}`, where);
  }
  const events = new Array<LogEvent>(count);
  for (let i = 0; i < count; i++) events[i] = decodeEvent(lines[i]!, `${where}, event ${i}`);
  return events;
}

/**
 * Reads a version 2 events part: the layout at `q`, the current text chunk at `p`. A class
 * rather than closures so the position fields stay in registers in optimized code.
 */
class LayoutReader {
  text = '';
  p = 0;
  event = 0;
  private readonly view: DataView;

  constructor(
    private readonly buf: Buffer,
    public q: number,
    private readonly end: number,
    private readonly where: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  fail(what: string): never {
    throw new WireFormatError(`${what} (event ${this.event})`, this.where);
  }

  flags(): number {
    const q = this.q;
    if (this.end - q < 2) this.fail('layout ends before the event');
    this.q = q + 2;
    return this.buf[q]! | (this.buf[q + 1]! << 8);
  }

  float(): number {
    const q = this.q;
    if (this.end - q < 8) this.fail('layout ends inside a number');
    this.q = q + 8;
    return this.view.getFloat64(q, true);
  }

  str(): string {
    const buf = this.buf;
    let q = this.q;
    if (q >= this.end) this.fail('layout ends inside a length');
    let n = buf[q++]!;
    if (n >= 0x80) {
      n &= 0x7f;
      for (let shift = 7; ; shift += 7) {
        if (q >= this.end) this.fail('layout ends inside a length');
        if (shift > 28) this.fail('overlong length');
        const b = buf[q++]!;
        n += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) break;
      }
    }
    this.q = q;
    const p = this.p;
    if (n > this.text.length - p) this.fail(`string of ${n} characters runs past its text chunk`);
    this.p = p + n;
    return this.text.slice(p, p + n);
  }

  same(v: string | undefined): string {
    return v === undefined ? this.fail('repeats a value no earlier event had') : v;
  }

  json(what: string): unknown {
    const text = this.str();
    try {
      return JSON.parse(text);
    } catch (err) {
      return this.fail(`invalid ${what} JSON: ${(err as Error).message}`);
    }
  }
}

function decodeBinary(buf: Buffer, start: number, end: number, count: number, where: string): LogEvent[] {
  if (end - start < 4) throw new WireFormatError('record ends before its chunk count', where);
  const chunkCount = buf.readUInt32LE(start);
  // Each chunk holds at least one event, and its entry 12 bytes.
  if (chunkCount === 0 || chunkCount > count || chunkCount > (end - start - 8) / CHUNK_ENTRY_BYTES) {
    throw new WireFormatError(`implausible text chunk count ${chunkCount} for ${count} events in ${end - start} bytes`, where);
  }
  const table = start + 4;
  const layoutStart = table + chunkCount * CHUNK_ENTRY_BYTES + 4;
  const layoutLength = buf.readUInt32LE(layoutStart - 4);
  const layoutEnd = layoutStart + layoutLength;
  if (layoutLength > end - layoutStart) throw new WireFormatError(`layout of ${layoutLength} bytes runs past the record's end`, where);
  // At least 3 layout bytes per event: a huge count in a small record is damage, not an allocation.
  if (count > layoutLength / 3)
    throw new WireFormatError(`record says ${count} events but its layout has only ${layoutLength} bytes`, where);
  let chunkEvents = 0;
  let chunkBytes = 0;
  for (let c = 0; c < chunkCount; c++) {
    chunkEvents += buf.readUInt32LE(table + c * CHUNK_ENTRY_BYTES);
    chunkBytes += buf.readUInt32LE(table + c * CHUNK_ENTRY_BYTES + 4);
  }
  if (chunkEvents !== count || chunkBytes !== end - layoutEnd) {
    throw new WireFormatError(
      `text chunks hold ${chunkEvents} events in ${chunkBytes} bytes, the record ${count} events in ${end - layoutEnd}`,
      where,
    );
  }

  const r = new LayoutReader(buf, layoutStart, layoutEnd, where);
  let service: string | undefined;
  let module: string | undefined;
  let host: string | undefined;
  let kind: string | undefined;
  let path: string | undefined;
  let fileId: string | undefined;
  let container: string | undefined;
  let stream: string | undefined;
  const events = new Array<LogEvent>(count);
  let textAt = layoutEnd;
  for (let c = 0; c < chunkCount; c++) {
    const entry = table + c * CHUNK_ENTRY_BYTES;
    const inChunk = buf.readUInt32LE(entry);
    const bytes = buf.readUInt32LE(entry + 4);
    const chars = buf.readUInt32LE(entry + 8);
    // As many bytes as characters: all ASCII, which latin1 decodes as a plain copy.
    r.text = buf.toString(bytes === chars ? 'latin1' : 'utf8', textAt, textAt + bytes);
    r.p = 0;
    textAt += bytes;
    if (r.text.length !== chars) r.fail(`text chunk ${c} decodes to ${r.text.length} characters, not ${chars}`);
    for (const last = r.event + inChunk; r.event < last; r.event++) {
      const flags = r.flags();
      if (flags & EVENT_JSON) {
        if (flags !== EVENT_JSON) r.fail(`flags 0x${flags.toString(16)} mix a JSON event with fields`);
        events[r.event] = decodeEvent(r.str(), `${where}, event ${r.event}`);
        continue;
      }
      const timestamp = r.float();
      if (!Number.isFinite(timestamp)) r.fail(`timestamp ${timestamp} is not finite`);
      const id = r.str();
      if (id.length === 0) r.fail('empty id');
      const message = r.str();
      service = flags & SAME_SERVICE ? r.same(service) : r.str();
      module = flags & SAME_MODULE ? r.same(module) : r.str();
      host = flags & SAME_HOST ? r.same(host) : r.str();
      let source: SourceRef;
      if (flags & SOURCE_JSON) {
        if (flags & 0x1ff8) r.fail(`flags 0x${flags.toString(16)} mix a JSON source with source slots`);
        const raw = r.json('source');
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || typeof (raw as SourceRef).kind !== 'string') {
          r.fail('source JSON is not an object with a string "kind"');
        }
        source = raw as SourceRef;
      } else {
        kind = flags & SAME_KIND ? r.same(kind) : r.str();
        source = { kind };
        if (flags & HAS_PATH) source.path = path = flags & SAME_PATH ? r.same(path) : r.str();
        else if (flags & SAME_PATH) r.fail('repeats an absent path');
        if (flags & HAS_FILE_ID) source.fileId = fileId = flags & SAME_FILE_ID ? r.same(fileId) : r.str();
        else if (flags & SAME_FILE_ID) r.fail('repeats an absent fileId');
        if (flags & HAS_OFFSET) source.offset = r.float();
        if (flags & HAS_CONTAINER) source.container = container = flags & SAME_CONTAINER ? r.same(container) : r.str();
        else if (flags & SAME_CONTAINER) r.fail('repeats an absent container');
        if (flags & HAS_STREAM) source.stream = stream = flags & SAME_STREAM ? r.same(stream) : r.str();
        else if (flags & SAME_STREAM) r.fail('repeats an absent stream');
      }
      let fields: Record<string, FieldValue> = {};
      if (flags & HAS_FIELDS) {
        const raw = r.json('fields');
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) r.fail('fields JSON is not an object');
        fields = raw as Record<string, FieldValue>;
      }
      events[r.event] = { id, timestamp, message, service, module, host, source, fields };
    }
    if (r.p !== r.text.length) r.fail(`${r.text.length - r.p} characters of text chunk ${c} left over`);
  }
  if (r.q !== layoutEnd) throw new WireFormatError(`${layoutEnd - r.q} layout bytes left after ${count} events`, where);
  return events;
}

export function segmentName(id: number): string {
  return `${String(id).padStart(12, '0')}.seg`;
}

export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{12})\.seg$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export type HeaderCheck =
  | { version: number }
  | 'empty'
  /** Not a segment header: damaged, or not ours. */
  | 'foreign'
  | { newerVersion: number };

export function checkSegmentHeader(buf: Buffer): HeaderCheck {
  if (buf.length < SEGMENT_HEADER_BYTES) return buf.length === 0 ? 'empty' : 'foreign';
  if (buf.toString('latin1', 0, 6) !== 'SLUICE' || buf[7] !== 0x0a) return 'foreign';
  const version = buf[6]!;
  if (READABLE_VERSIONS.includes(version)) return { version };
  if (version > FORMAT_VERSION) return { newerVersion: version };
  return 'foreign';
}

/**
 * The version to read a segment with a damaged header by: its version byte if that names
 * a known version (damage elsewhere in the header), else the current one.
 */
export function guessVersion(buf: Buffer): number {
  const byte = buf.length > 6 ? buf[6]! : FORMAT_VERSION;
  return READABLE_VERSIONS.includes(byte) ? byte : FORMAT_VERSION;
}
