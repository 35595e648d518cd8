import { TextDecoder } from 'node:util';
import { charBoundary } from './lines.js';

/**
 * Character encodings of tailed files (`encoding:`), converted to UTF-8 through the
 * platform's decoders (Node's TextDecoder, full ICU). Offsets stay byte offsets in the file
 * as it is: the line splitter finds newlines in the file's own encoding (a UTF-16 newline is
 * two bytes at an even offset, never a lone 0x0A byte), and only whole lines are decoded.
 *
 * Every other supported encoding is ASCII-compatible where it matters: byte 0x0A is a newline
 * and never the second byte of a character (Shift_JIS, GBK, Big5, EUC trail bytes are 0x40
 * and up), so lines split the same way as in UTF-8.
 */
export interface Codec {
  /** Canonical name (as TextDecoder reports it; `iso-8859-1` for Latin-1). */
  readonly name: string;
  /** Bytes of a newline code unit: 2 for UTF-16. */
  readonly width: 1 | 2;
  readonly bigEndian: boolean;
  /**
   * Most UTF-8 bytes one byte of the file can become: a line is cut at max_event_bytes /
   * growth file bytes, so its UTF-8 text stays within max_event_bytes.
   */
  readonly growth: number;
  /** Text of the bytes [start, end) (a line without its newline); invalid bytes become U+FFFD. */
  decode(buf: Buffer, start: number, end: number): string;
  /** Where to cut at or before `max` without splitting a character (as well as the encoding allows telling). */
  boundary(buf: Buffer, start: number, max: number): number;
  /** Length of a byte order mark at buf[start], 0 if none. */
  bom(buf: Buffer, start: number, end: number): number;
}

export const ENCODING_EXAMPLES =
  'utf-8, utf-16le, utf-16be, shift_jis, euc-jp, gbk, gb18030, big5, euc-kr, windows-1252, iso-8859-1, iso-8859-15';

const UTF8: Codec = {
  name: 'utf-8',
  width: 1,
  bigEndian: false,
  growth: 1,
  decode: (buf, start, end) => buf.toString('utf8', start, end),
  boundary: charBoundary,
  bom: (buf, start, end) => (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf ? 3 : 0),
};

/**
 * An encoding whose newline is the byte 0x0A and never part of another character, and whose
 * cut points cannot be told (single-byte encodings need none; multi-byte ones cannot be
 * walked backwards: a cut may end in half a character, which becomes U+FFFD).
 */
function byteCodec(name: string, growth: number, decode: Codec['decode']): Codec {
  return { name, width: 1, bigEndian: false, growth, decode, boundary: (_buf, _start, max) => max, bom: () => 0 };
}

/** Exact ISO-8859-1 (byte n = U+00nn); TextDecoder would read the label as windows-1252. */
const LATIN1 = byteCodec('iso-8859-1', 2, (buf, start, end) => buf.toString('latin1', start, end));

const LATIN1_LABELS = new Set(['iso-8859-1', 'iso8859-1', 'iso_8859-1', 'latin1', 'latin-1', 'l1', 'iso-ir-100', 'cp819', 'ibm819']);

/**
 * Windows-1252 bytes 0x80-0x9F (the WHATWG table; the five unassigned ones stay C1). Node
 * 20.18.3 and later decode windows-1252 as Latin-1 (nodejs/node#60888: "€" becomes U+0080),
 * so this one is done here: Latin-1, then this range mapped.
 */
const CP1252_HIGH =
  '\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F' +
  '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178';
const C1 = /[\x80-\x9f]/g;
const toCp1252 = (c: string): string => CP1252_HIGH[c.charCodeAt(0) - 0x80]!;

const WINDOWS_1252 = byteCodec('windows-1252', 3, (buf, start, end) => buf.toString('latin1', start, end).replace(C1, toCp1252));

function utf16(bigEndian: boolean): Codec {
  const decoder = new TextDecoder(bigEndian ? 'utf-16be' : 'utf-16le', { ignoreBOM: true });
  const high = bigEndian ? 0 : 1;
  return {
    name: bigEndian ? 'utf-16be' : 'utf-16le',
    width: 2,
    bigEndian,
    growth: 1.5,
    decode: (buf, start, end) => decoder.decode(buf.subarray(start, end)),
    boundary: (buf, start, max) => {
      let e = start + ((max - start) & ~1);
      // Never between the two halves of a surrogate pair.
      if (e - 2 >= start && (buf[e - 2 + high]! & 0xfc) === 0xd8) e -= 2;
      return e;
    },
    bom: (buf, start, end) =>
      end - start >= 2 && buf[start] === (bigEndian ? 0xfe : 0xff) && buf[start + 1] === (bigEndian ? 0xff : 0xfe) ? 2 : 0,
  };
}

const UTF16LE = utf16(false);
const UTF16BE = utf16(true);

/** The codec for an `encoding:` label; throws an Error saying why a label cannot be used. */
export function codecFor(label: string): Codec {
  const l = label.trim().toLowerCase();
  if (LATIN1_LABELS.has(l)) return LATIN1;
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(l, { ignoreBOM: true });
  } catch {
    throw new Error(`unknown or unsupported encoding "${label}"`);
  }
  switch (decoder.encoding) {
    case 'utf-8':
      return UTF8;
    case 'utf-16le':
      return UTF16LE;
    case 'utf-16be':
      return UTF16BE;
    case 'windows-1252':
      return WINDOWS_1252;
    default:
      return byteCodec(decoder.encoding, 3, (buf, start, end) => decoder.decode(buf.subarray(start, end)));
  }
}

/**
 * The codec for one file, from its first bytes: a UTF-16 byte order mark decides the byte
 * order whatever utf-16 variant was configured (Windows writes LE with a BOM).
 */
export function codecOfFile(configured: Codec, head: Buffer, length: number): Codec {
  if (configured.width !== 2 || length < 2) return configured;
  if (head[0] === 0xff && head[1] === 0xfe) return UTF16LE;
  if (head[0] === 0xfe && head[1] === 0xff) return UTF16BE;
  return configured;
}
