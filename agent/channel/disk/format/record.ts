import type { LogEvent } from '../../../../core/event.js';
import type { SourceCheckpoint } from '../../../../core/pipeline.js';
import type { EventsDecoder, EventsEncoder } from './codec.js';
import { codecV1 } from './codec-v1.js';
import { codecV2 } from './codec-v2.js';
import { codecV3 } from './codec-v3.js';
import { allocFrame } from './frame-pool.js';
import { eventsStart, FRAME_HEADER_BYTES, PAYLOAD_HEADER_BYTES, sealFrame, writeFrameHeader } from './frame.js';
import { segmentHeader } from './segment-file.js';

/**
 * A record of the disk channel: the frame of frame.ts around the events part of the
 * segment's format version. The channel's encoding is its own (what leaves the agent is
 * always core/wire.ts JSON), so it can change between versions as long as a new Sluice
 * reads every older segment version and refuses newer ones.
 */
/**
 * Format 4 is format 3's events part; a record's checkpoint may be a patch
 * (SourceCheckpoint.patch), which a Sluice before it would take for a source's whole state
 * and so must refuse the segment.
 */
const codecV4: EventsEncoder = { ...codecV3, version: 4 };
const CURRENT = codecV4;
export const FORMAT_VERSION = CURRENT.version;
const DECODERS = new Map<number, EventsDecoder>([codecV1, codecV2, codecV3, codecV4].map((c) => [c.version, c]));
/** Versions this code reads: every one it ever wrote. */
export const READABLE_VERSIONS: readonly number[] = [...DECODERS.keys()];
/** The header of segments this code creates. */
export const SEGMENT_HEADER = segmentHeader(FORMAT_VERSION);

/**
 * Encodes one put as a record in the current format; throws a plain Error naming the
 * event when one cannot be stored faithfully. Give the record to releaseRecord() once written.
 */
export function encodeRecord(events: readonly LogEvent[], checkpoint: SourceCheckpoint | undefined): Buffer {
  const cp = checkpoint === undefined ? '' : JSON.stringify(checkpoint);
  const cpBytes = Buffer.byteLength(cp);
  const eventsBytes = events.length > 0 ? CURRENT.prepare(events) : 0;
  const payloadLength = PAYLOAD_HEADER_BYTES + cpBytes + eventsBytes;
  const frame = allocFrame(FRAME_HEADER_BYTES + payloadLength);
  let at = writeFrameHeader(frame, payloadLength, events.length, cpBytes);
  if (cpBytes > 0) at += frame.write(cp, at, cpBytes, 'utf8');
  if (events.length > 0) CURRENT.write(frame, at);
  sealFrame(frame, payloadLength);
  return frame;
}

/**
 * Decodes the events of a verified record of a segment of `version`; throws
 * WireFormatError naming `where` (never anything else, whatever the bytes).
 */
export function decodeRecordEvents(buf: Buffer, at: number, length: number, count: number, version: number, where: string): LogEvent[] {
  if (count === 0) return [];
  const decoder = DECODERS.get(version);
  if (!decoder) throw new Error(`disk channel format ${version} has no decoder (readable: ${READABLE_VERSIONS.join(', ')})`);
  return decoder.decode(buf, eventsStart(buf, at), at + length, count, where);
}
