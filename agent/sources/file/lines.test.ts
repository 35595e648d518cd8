import { describe, expect, test } from 'vitest';
import { codecFor } from './encoding.js';
import { charBoundary, LineSplitter } from './lines.js';

type Line = [string, number, number, string | undefined];

function split(chunks: (string | Buffer)[], max = 1024, mode: 'truncate' | 'split' | 'skip' = 'truncate', flush = false): Line[] {
  const out: Line[] = [];
  const s = new LineSplitter(
    0,
    { limit: max, mode, skipHead: 4, width: 1, bigEndian: false, boundary: charBoundary },
    (buf, start, end, offset, next, cut) => out.push([buf.toString('utf8', start, end), offset, next, cut]),
  );
  for (const c of chunks) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    // Pushed from a larger reused buffer, as the source does.
    const big = Buffer.alloc(b.length + 7, 0x41);
    b.copy(big);
    s.push(big, b.length);
  }
  if (flush) s.flush();
  return out;
}

describe('LineSplitter', () => {
  test('LF and CRLF, offsets point past the newline', () => {
    expect(split(['a\nbb\r\n\nccc\n'])).toEqual([
      ['a', 0, 2, undefined],
      ['bb', 2, 6, undefined],
      ['', 6, 7, undefined],
      ['ccc', 7, 11, undefined],
    ]);
  });

  test('a line across chunks, CR and LF in different chunks, partial last line held', () => {
    expect(split(['ab', 'c\r', '\nde', 'f'])).toEqual([['abc', 0, 5, undefined]]);
    expect(split(['ab', 'c\r', '\nde', 'f'], 1024, 'truncate', true)).toEqual([
      ['abc', 0, 5, undefined],
      ['def', 5, 8, undefined],
    ]);
  });

  test('truncate keeps the head at a character boundary and skips to the newline', () => {
    const long = 'é'.repeat(10); // 20 bytes
    expect(split([`${long}\nok\n`], 9)).toEqual([
      ['éééé', 0, 21, 'truncated'],
      ['ok', 21, 24, undefined],
    ]);
    // Same line fed in small pieces.
    expect(split([long.slice(0, 3), long.slice(3, 7), `${long.slice(7)}\nok\n`], 9)).toEqual([
      ['éééé', 0, 21, 'truncated'],
      ['ok', 21, 24, undefined],
    ]);
  });

  test('split cuts pieces at character boundaries; resuming at a piece offset gives the same pieces', () => {
    const line = `${'a'.repeat(7)}${'é'.repeat(5)}`; // 17 bytes
    const whole = split([`${line}\n`], 8, 'split');
    expect(whole).toEqual([
      ['aaaaaaa', 0, 7, 'split'],
      ['éééé', 7, 15, 'split'],
      ['é', 15, 18, undefined],
    ]);
    const pieces = split([line.slice(0, 5), line.slice(5, 9), `${line.slice(9)}\n`], 8, 'split');
    expect(pieces).toEqual(whole);
    expect(pieces.map((p) => p[0]).join('')).toBe(line);
  });

  test('invalid UTF-8 is replaced, not dropped', () => {
    const bad = Buffer.concat([Buffer.from('x'), Buffer.from([0xff, 0xfe]), Buffer.from('y\n')]);
    expect(split([bad])).toEqual([['x\uFFFD\uFFFDy', 0, 5, undefined]]);
  });
});

describe('LineSplitter: skip', () => {
  test('a line over the limit is handed on as its head, marked skipped, and covers its bytes', () => {
    const long = 'x'.repeat(20);
    expect(split([`${long}\nok\n`], 9, 'skip')).toEqual([
      ['xxxx', 0, 21, 'skipped'],
      ['ok', 21, 24, undefined],
    ]);
    expect(split([long.slice(0, 7), long.slice(7, 15), `${long.slice(15)}\nok\n`], 9, 'skip')).toEqual([
      ['xxxx', 0, 21, 'skipped'],
      ['ok', 21, 24, undefined],
    ]);
  });
});

describe('LineSplitter: UTF-16', () => {
  function split16(text: string, be: boolean, chunk: number, limit = 1024, mode: 'truncate' | 'split' = 'truncate'): Line[] {
    const le = Buffer.from(text, 'utf16le');
    const bytes = be ? Buffer.from(le).swap16() : le;
    const codec = codecFor(be ? 'utf-16be' : 'utf-16le');
    const out: Line[] = [];
    const s = new LineSplitter(
      0,
      { limit, mode, skipHead: 64, width: 2, bigEndian: be, boundary: codec.boundary },
      (buf, start, end, offset, next, cut) => out.push([codec.decode(buf, start, end), offset, next, cut]),
    );
    // Fed in odd-sized chunks, as reads end anywhere: what is not consumed is pushed again.
    let pos = 0;
    while (pos < bytes.length) {
      const piece = bytes.subarray(pos, Math.min(bytes.length, pos + chunk));
      pos += s.push(Buffer.from(piece), piece.length);
      if (piece.length === 1 && pos < bytes.length) pos += s.push(Buffer.from(bytes.subarray(pos, pos + 2)), 2);
    }
    return out;
  }

  // U+0A0A (bytes 0A 0A) and U+010A (0A 01 / 01 0A) hold a 0x0A byte that is no newline.
  const text = 'a\u0A0Ab\r\n\u010A\u0A0A\n😀 end\n';
  for (const be of [false, true]) {
    for (const chunk of [3, 7, 1024]) {
      test(`${be ? 'BE' : 'LE'}, chunks of ${chunk} bytes: newlines are two bytes at even offsets, CRLF too`, () => {
        expect(split16(text, be, chunk)).toEqual([
          ['a\u0A0Ab', 0, 10, undefined],
          ['\u010A\u0A0A', 10, 16, undefined],
          ['😀 end', 16, 30, undefined],
        ]);
      });
    }
  }

  test('cuts keep surrogate pairs whole', () => {
    const line = `ab${'😀'.repeat(10)}`; // 2 + 20 code units
    const pieces = split16(`${line}\n`, false, 1024, 8, 'split');
    expect(pieces.map((p) => p[0]).join('')).toBe(line);
    expect(pieces.every((p) => !/[\uD800-\uDFFF]/.test(p[0].replace(/\p{Extended_Pictographic}/gu, '')))).toBe(true);
    expect(split16(`${line}\n`, false, 1024, 8)[0]).toEqual(['ab😀', 0, 46, 'truncated']);
  });
});
