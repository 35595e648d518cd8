import { crc32 } from 'node:zlib';
import type { SourceCheckpoint } from '../../../../core/pipeline.js';
import { WireFormatError } from '../../../../core/wire.js';

/**
 * Record framing, the same in every format version. A record is one put: its events and
 * the source checkpoint that came with them, so the position and the lines it covers
 * become durable in one write.
 *
 *   record  = magic u32 | payload length u32 | crc32 u32 | payload
 *   crc32   = CRC-32 of the length field and the payload (a torn length cannot pass)
 *   payload = event count u32 | checkpoint length u32 | checkpoint JSON (may be empty) | events
 *
 * The magic lets recovery find the next intact record after a damaged one. How the events
 * part is encoded is the segment's format version's business (codecs.ts).
 */
const FRAME_MAGIC = 0x534c5246; // "SLRF"
export const FRAME_HEADER_BYTES = 12;
export const PAYLOAD_HEADER_BYTES = 8;
/** Largest record length a reader believes; a bigger length field is damage, not a record. */
const MAX_RECORD_BYTES = 0x7fffffff;

const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(FRAME_MAGIC, 0);

/** Writes the frame and payload headers of a record of `payloadLength` bytes into `frame`; returns where the checkpoint goes. */
export function writeFrameHeader(frame: Buffer, payloadLength: number, count: number, checkpointBytes: number): number {
  frame.writeUInt32LE(FRAME_MAGIC, 0);
  frame.writeUInt32LE(payloadLength, 4);
  frame.writeUInt32LE(count, 12);
  frame.writeUInt32LE(checkpointBytes, 16);
  return FRAME_HEADER_BYTES + PAYLOAD_HEADER_BYTES;
}

/** Stores the CRC once the payload is complete. */
export function sealFrame(frame: Buffer, payloadLength: number): void {
  frame.writeUInt32LE(frameCrc(frame, 0, payloadLength), 8);
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
export function checkFrame(buf: Buffer, at: number, end: number, maxLength = MAX_RECORD_BYTES): FrameCheck {
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
export function findNextFrame(buf: Buffer, from: number, end: number, maxLength = MAX_RECORD_BYTES): number {
  let at = from;
  while (at < end) {
    const hit = buf.indexOf(MAGIC_BYTES, at);
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

/** Where the events part of a verified record starts. */
export function eventsStart(buf: Buffer, at: number): number {
  return at + FRAME_HEADER_BYTES + PAYLOAD_HEADER_BYTES + buf.readUInt32LE(at + 16);
}
