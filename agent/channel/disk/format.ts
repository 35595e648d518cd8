import { crc32 } from 'node:zlib';
import type { LogEvent } from '../../../core/event.js';
import type { SourceCheckpoint } from '../../../core/pipeline.js';
import { decodeEvent, encodeEventString, WireFormatError } from '../../../core/wire.js';

/**
 * On-disk format of the disk channel.
 *
 * A segment file starts with an 8-byte header ("SLUICE", format version, "\n") and holds
 * records back to back. One record is one put: its events and the source checkpoint that
 * came with them, so the position and the lines it covers become durable in one write.
 *
 *   record = magic u32 | payload length u32 | crc32 u32 | payload
 *   crc32  = CRC-32 of the length field and the payload (a torn length cannot pass)
 *   payload = event count u32 | checkpoint length u32 | checkpoint JSON (may be empty)
 *           | events in the core/wire.ts encoding, joined by "\n"
 *
 * JSON never contains a raw newline, so "\n" separates events without per-event lengths;
 * the magic lets recovery find the next intact record after a damaged one.
 */
export const FORMAT_VERSION = 1;
export const SEGMENT_HEADER = Buffer.from(`SLUICE${String.fromCharCode(FORMAT_VERSION)}\n`, 'latin1');
export const SEGMENT_HEADER_BYTES = SEGMENT_HEADER.length;
export const FRAME_MAGIC = 0x534c5246; // "SLRF"
export const FRAME_HEADER_BYTES = 12;
const PAYLOAD_HEADER_BYTES = 8;

export function encodeRecord(events: readonly LogEvent[], checkpoint: SourceCheckpoint | undefined): Buffer {
  let text = '';
  for (let i = 0; i < events.length; i++) {
    if (i > 0) text += '\n';
    text += encodeEventString(events[i]!);
  }
  const cp = checkpoint === undefined ? '' : JSON.stringify(checkpoint);
  const cpBytes = Buffer.byteLength(cp);
  const textBytes = Buffer.byteLength(text);
  const payloadLength = PAYLOAD_HEADER_BYTES + cpBytes + textBytes;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadLength);
  frame.writeUInt32LE(FRAME_MAGIC, 0);
  frame.writeUInt32LE(payloadLength, 4);
  frame.writeUInt32LE(events.length, 12);
  frame.writeUInt32LE(cpBytes, 16);
  let at = FRAME_HEADER_BYTES + PAYLOAD_HEADER_BYTES;
  if (cpBytes > 0) at += frame.write(cp, at, 'utf8');
  frame.write(text, at, 'utf8');
  frame.writeUInt32LE(frameCrc(frame, 0, payloadLength), 8);
  return frame;
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

/** Reads the event count and checkpoint of a verified record. */
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

/** Decodes the events of a verified record; throws WireFormatError naming `where`. */
export function decodeRecordEvents(buf: Buffer, at: number, length: number, count: number, where: string): LogEvent[] {
  if (count === 0) return [];
  const cpLength = buf.readUInt32LE(at + 16);
  const start = at + FRAME_HEADER_BYTES + PAYLOAD_HEADER_BYTES + cpLength;
  const lines = buf.toString('utf8', start, at + length).split('\n');
  if (lines.length !== count) {
    throw new WireFormatError(`record says ${count} events but holds ${lines.length}`, where);
  }
  const events = new Array<LogEvent>(count);
  for (let i = 0; i < count; i++) events[i] = decodeEvent(lines[i]!, `${where}, event ${i}`);
  return events;
}

export function segmentName(id: number): string {
  return `${String(id).padStart(12, '0')}.seg`;
}

export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{12})\.seg$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export type HeaderCheck = 'ok' | 'empty' | 'foreign' | { newerVersion: number };

export function checkSegmentHeader(buf: Buffer): HeaderCheck {
  if (buf.length < SEGMENT_HEADER_BYTES) return buf.length === 0 ? 'empty' : 'foreign';
  if (buf.subarray(0, SEGMENT_HEADER_BYTES).equals(SEGMENT_HEADER)) return 'ok';
  if (buf.toString('latin1', 0, 6) === 'SLUICE' && buf[6]! > FORMAT_VERSION) return { newerVersion: buf[6]! };
  return 'foreign';
}
