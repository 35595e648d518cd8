import type { FieldValue, LogEvent, SourceRef } from '../../../../core/event.js';
import { decodeEvent, WireFormatError } from '../../../../core/wire.js';

/**
 * The binary events part shared by format versions 2 and 3 (codec-v2.ts, codec-v3.ts say
 * what each adds). Laid out as
 *
 *   chunk count u32 | per chunk: events u32, text bytes u32, text UTF-16 units u32
 *   | layout length u32 | layout | text
 *
 * The text is every string of every event concatenated, UTF-8, in chunks of whole events;
 * the layout holds per event its flags, numbers and the length of each of its strings in
 * UTF-16 units, so the reader decodes a chunk of text with one call and slices it.
 * Encoding JSON per event was the channel's bottleneck.
 *
 * Per event, in this order (a slot is in the layout or text only when its flags say so):
 *   flags | timestamp f64 | id | message | service | module | host | level (v3)
 *   | source: kind | path | fileId | offset f64 | container | stream   (or its JSON)
 *   | fields JSON
 * A string slot is a varint length in the layout and its characters in the text.
 *
 * A "same" bit means the value equals the one the previous event of the record had in
 * that slot (absent in the text): service, host, path and friends rarely change within a
 * batch, and the reader shares one string for all of them.
 */
export const SAME_SERVICE = 1 << 0;
export const SAME_MODULE = 1 << 1;
export const SAME_HOST = 1 << 2;
export const SAME_KIND = 1 << 3;
export const HAS_PATH = 1 << 4;
export const SAME_PATH = 1 << 5;
export const HAS_FILE_ID = 1 << 6;
export const SAME_FILE_ID = 1 << 7;
export const HAS_CONTAINER = 1 << 8;
export const SAME_CONTAINER = 1 << 9;
export const HAS_STREAM = 1 << 10;
export const SAME_STREAM = 1 << 11;
export const HAS_OFFSET = 1 << 12;
/** `fields` is non-empty: its JSON is in the text. */
export const HAS_FIELDS = 1 << 13;
/** `source` has keys or value types SourceRef does not describe: its JSON is in the text instead of the slots. */
export const SOURCE_JSON = 1 << 14;
/** The whole event is its core/wire.ts JSON (strings with lone surrogates, which UTF-8 cannot carry). */
export const EVENT_JSON = 1 << 15;
/** Version 3: the event has a level (in the text unless SAME_LEVEL). */
export const HAS_LEVEL = 1 << 16;
export const SAME_LEVEL = 1 << 17;
/** SAME_KIND through HAS_OFFSET: the source slot flags, which a JSON source must not mix with. */
const SOURCE_SLOTS = 0x1ff8;

/** Per chunk: event count, UTF-8 bytes, UTF-16 units (u32 each). */
const CHUNK_ENTRY_BYTES = 12;

/** What distinguishes the layouts of the versions that use this part. */
export interface LayoutSpec {
  /** Bytes of flags per event: 2 (v2), 3 (v3: HAS_LEVEL, SAME_LEVEL). */
  flagBytes: 2 | 3;
}

/**
 * Reads a layout at `q` and the current text chunk at `p`. A class rather than closures
 * so the position fields stay in registers in optimized code.
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
    private readonly flagBytes: number,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  fail(what: string): never {
    throw new WireFormatError(`${what} (event ${this.event})`, this.where);
  }

  flags(): number {
    const q = this.q;
    if (this.end - q < this.flagBytes) this.fail('layout ends before the event');
    this.q = q + this.flagBytes;
    const low = this.buf[q]! | (this.buf[q + 1]! << 8);
    return this.flagBytes === 2 ? low : low | (this.buf[q + 2]! << 16);
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

/**
 * Decodes the events part [start, end) of a verified record; throws WireFormatError naming
 * `where` (never anything else, whatever the bytes).
 */
export function decodeLayout(spec: LayoutSpec, buf: Buffer, start: number, end: number, count: number, where: string): LogEvent[] {
  try {
    return decode(spec, buf, start, end, count, where);
  } catch (err) {
    if (err instanceof WireFormatError) throw err;
    // Bounds are checked as the layout is read, so this is a bug, but damage must still never crash the reader.
    throw new WireFormatError(`undecodable record: ${(err as Error).message}`, where);
  }
}

function decode(spec: LayoutSpec, buf: Buffer, start: number, end: number, count: number, where: string): LogEvent[] {
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

  const r = new LayoutReader(buf, layoutStart, layoutEnd, where, spec.flagBytes);
  let service: string | undefined;
  let module: string | undefined;
  let host: string | undefined;
  let lastLevel: string | undefined;
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
      let level: string | undefined;
      if (flags & HAS_LEVEL) level = lastLevel = flags & SAME_LEVEL ? r.same(lastLevel) : r.str();
      else if (flags & SAME_LEVEL) r.fail('repeats an absent level');
      let source: SourceRef;
      if (flags & SOURCE_JSON) {
        if (flags & SOURCE_SLOTS) r.fail(`flags 0x${flags.toString(16)} mix a JSON source with source slots`);
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
      const event: LogEvent = { id, timestamp, message, service, module, host, source, fields };
      if (level !== undefined) event.level = level;
      events[r.event] = event;
    }
    if (r.p !== r.text.length) r.fail(`${r.text.length - r.p} characters of text chunk ${c} left over`);
  }
  if (r.q !== layoutEnd) throw new WireFormatError(`${layoutEnd - r.q} layout bytes left after ${count} events`, where);
  return events;
}
