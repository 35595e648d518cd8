/**
 * Segment files: their names and the 8-byte header that says which format version their
 * records are in. A segment keeps the version it was created with, so segments written
 * before an upgrade are read with the codec of their time (see codecs.ts).
 *
 *   name   = 12-digit id, zero padded, ".seg" (ids only grow; the order of names is the order of data)
 *   header = "SLUICE" | version u8 | "\n"
 */
export const SEGMENT_HEADER_BYTES = 8;

export function segmentName(id: number): string {
  return `${String(id).padStart(12, '0')}.seg`;
}

export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{12})\.seg$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function segmentHeader(version: number): Buffer {
  return Buffer.from(`SLUICE${String.fromCharCode(version)}\n`, 'latin1');
}

export type HeaderCheck =
  | { version: number }
  | 'empty'
  /** Not a segment header: damaged, or not ours. */
  | 'foreign'
  | { newerVersion: number };

/** What the first bytes of a segment say, given the versions this code reads and the newest it knows. */
export function checkSegmentHeader(buf: Buffer, readable: readonly number[], current: number): HeaderCheck {
  if (buf.length < SEGMENT_HEADER_BYTES) return buf.length === 0 ? 'empty' : 'foreign';
  if (buf.toString('latin1', 0, 6) !== 'SLUICE' || buf[7] !== 0x0a) return 'foreign';
  const version = buf[6]!;
  if (readable.includes(version)) return { version };
  if (version > current) return { newerVersion: version };
  return 'foreign';
}

/**
 * The version to read a segment with a damaged header by: its version byte if that names
 * a known version (damage elsewhere in the header), else the current one.
 */
export function guessVersion(buf: Buffer, readable: readonly number[], current: number): number {
  const byte = buf.length > 6 ? buf[6]! : current;
  return readable.includes(byte) ? byte : current;
}
