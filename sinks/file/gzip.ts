import { crc32, deflateRaw, inflateRawSync } from 'node:zlib';
import { promisify } from 'node:util';
import type { FileHandle } from 'node:fs/promises';

const deflateRawAsync = promisify(deflateRaw);

/**
 * Gzip output as a series of members, one per batch written to a file. Concatenated members
 * are one valid gzip stream (RFC 1952 §2.2), so zcat reads a file while it is still being
 * written and after a crash. Each member carries its own length in an FEXTRA subfield
 * ("SL"), which every gzip reader skips, so recovery can walk the members and cut off a
 * torn last one without inflating the whole file.
 */
const HEADER_BYTES = 20;
const TRAILER_BYTES = 8;
const FEXTRA = 0x04;
const SUBFIELD = [0x53, 0x4c]; // "SL"

export async function gzipMember(data: Buffer, level: number): Promise<Buffer> {
  const body = await deflateRawAsync(data, { level });
  const member = Buffer.allocUnsafe(HEADER_BYTES + body.length + TRAILER_BYTES);
  member.set([0x1f, 0x8b, 0x08, FEXTRA, 0, 0, 0, 0, 0, 0xff], 0);
  member.writeUInt16LE(8, 10);
  member.set(SUBFIELD, 12);
  member.writeUInt16LE(4, 14);
  member.writeUInt32LE(member.length, 16);
  body.copy(member, HEADER_BYTES);
  member.writeUInt32LE(crc32(data), HEADER_BYTES + body.length);
  member.writeUInt32LE(data.length % 2 ** 32, HEADER_BYTES + body.length + 4);
  return member;
}

/** Length of the member starting at `buf[0]`, or undefined when it is not one of ours. */
function memberLength(buf: Buffer): number | undefined {
  if (buf.length < HEADER_BYTES) return undefined;
  if (buf[0] !== 0x1f || buf[1] !== 0x8b || buf[2] !== 0x08 || buf[3] !== FEXTRA) return undefined;
  if (buf.readUInt16LE(10) !== 8 || buf[12] !== SUBFIELD[0] || buf[13] !== SUBFIELD[1] || buf.readUInt16LE(14) !== 4) return undefined;
  const length = buf.readUInt32LE(16);
  return length >= HEADER_BYTES + TRAILER_BYTES ? length : undefined;
}

/** A member whose bytes are all there inflates to data matching its CRC and size. */
function memberIsIntact(member: Buffer): boolean {
  try {
    const data = inflateRawSync(member.subarray(HEADER_BYTES, member.length - TRAILER_BYTES));
    return crc32(data) === member.readUInt32LE(member.length - 8) && data.length % 2 ** 32 === member.readUInt32LE(member.length - 4);
  } catch {
    return false;
  }
}

/**
 * Bytes at the start of a file that are whole members, reading only the member headers and
 * the last complete member (inflated to check it: the ones before it were followed by a
 * later write, so they were complete).
 */
export async function intactGzipLength(file: FileHandle, size: number): Promise<number> {
  const ends: number[] = [];
  const header = Buffer.alloc(HEADER_BYTES);
  let pos = 0;
  while (pos + HEADER_BYTES <= size) {
    const { bytesRead } = await file.read(header, 0, HEADER_BYTES, pos);
    const length = bytesRead === HEADER_BYTES ? memberLength(header) : undefined;
    if (length === undefined || pos + length > size) break;
    pos += length;
    ends.push(pos);
  }
  while (ends.length > 0) {
    const end = ends[ends.length - 1]!;
    const start = ends.length > 1 ? ends[ends.length - 2]! : 0;
    const member = Buffer.alloc(end - start);
    const { bytesRead } = await file.read(member, 0, member.length, start);
    if (bytesRead === member.length && memberIsIntact(member)) return end;
    ends.pop();
  }
  return 0;
}
