import type { LogEvent, SourceRef } from '../../../../core/event.js';
import { encodeEventString } from '../../../../core/wire.js';
import {
  decodeLayout,
  EVENT_JSON,
  HAS_CONTAINER,
  HAS_FIELDS,
  HAS_FILE_ID,
  HAS_LEVEL,
  HAS_OFFSET,
  HAS_PATH,
  HAS_STREAM,
  type LayoutSpec,
  SAME_CONTAINER,
  SAME_FILE_ID,
  SAME_HOST,
  SAME_KIND,
  SAME_LEVEL,
  SAME_MODULE,
  SAME_PATH,
  SAME_SERVICE,
  SAME_STREAM,
  SOURCE_JSON,
} from './binary-layout.js';
import type { EventsEncoder } from './codec.js';

/**
 * Format version 3 (current): the binary layout of binary-layout.ts with 3 bytes of flags
 * per event, the third holding HAS_LEVEL and SAME_LEVEL, and the event's level as a string
 * slot after the host. Version 2 had no level slot, and the event gained one.
 */
const spec: LayoutSpec = { flagBytes: 3 };

/** Worst case layout bytes of one event: flags, two float64s, ten varint lengths. */
const MAX_LAYOUT_PER_EVENT = 3 + 8 + 8 + 10 * 5;
/**
 * The text is cut into chunks of about this many UTF-16 units, each encoded and decoded
 * with one native call. Whole-record strings (hundreds of KiB) land in V8's large-object
 * space, which made encoding 4x and decoding 7x slower than chunks of this size.
 */
const CHUNK_CHARS = 32 * 1024;
/** Scratch buffers up to this size are kept for the next put; bigger ones are one-off. */
const KEEP_SCRATCH_BYTES = 8 << 20;

/** Scratch space of the encoder, reused from put to put (records are copied out of it). */
class Scratch {
  layout: Buffer = Buffer.allocUnsafe(256 * 1024);
  /** Over `layout`: DataView float64 writes compile to a store, Buffer.writeDoubleLE to a call. */
  view: DataView = new DataView(this.layout.buffer, this.layout.byteOffset, this.layout.length);
  q = 0;
  text: Buffer = Buffer.allocUnsafe(1 << 20);
  textBytes = 0;
  /** Three numbers per chunk: events, UTF-8 bytes, UTF-16 units. */
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

const scratch = new Scratch();

export const codecV3: EventsEncoder = {
  version: 3,
  decode: (buf, start, end, count, where) => decodeLayout(spec, buf, start, end, count, where),

  prepare(events) {
    scratch.reset(events.length);
    if (!encodeEvents(events, scratch, false)) {
      scratch.reset(events.length);
      encodeEvents(events, scratch, true);
    }
    return 4 + scratch.chunks.length * 4 + 4 + scratch.q + scratch.textBytes;
  },

  write(out, at) {
    const chunks = scratch.chunks;
    let p = out.writeUInt32LE(chunks.length / 3, at);
    for (let i = 0; i < chunks.length; i++) p = out.writeUInt32LE(chunks[i]!, p);
    p = out.writeUInt32LE(scratch.q, p);
    p += scratch.layout.copy(out, p, 0, scratch.q);
    scratch.text.copy(out, p, 0, scratch.textBytes);
    scratch.shrink();
  },
};

/**
 * Writes the layout and text of `events` into `out`. With `checkEach`, an event whose
 * strings UTF-8 cannot carry exactly (lone surrogates) is stored as its wire JSON, which
 * escapes them; without, returns false if there is such an event (checking each chunk of
 * text at once is much cheaper, and such events are rare).
 */
function encodeEvents(events: readonly LogEvent[], out: Scratch, checkEach: boolean): boolean {
  const layout = out.layout;
  const view = out.view;
  let q = 0;
  let text = '';
  let inChunk = 0;
  let service: string | undefined;
  let module: string | undefined;
  let host: string | undefined;
  let level: string | undefined;
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
      layout[q++] = 0;
      q = writeVarint(layout, q, json.length);
      text += json;
      continue;
    }
    const flagsAt = q;
    q += 3;
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
    const l = e.level;
    if (l !== undefined) {
      if (l === level) flags |= HAS_LEVEL | SAME_LEVEL;
      else {
        flags |= HAS_LEVEL;
        level = l;
        q = writeVarint(layout, q, l.length);
        text += l;
      }
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
    layout[flagsAt + 1] = (flags >>> 8) & 0xff;
    layout[flagsAt + 2] = flags >>> 16;
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
  if (e.level !== undefined && typeof e.level !== 'string') bad('"level" must be a string when present');
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
  if (e.level !== undefined && !isWellFormed(e.level)) return false;
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
