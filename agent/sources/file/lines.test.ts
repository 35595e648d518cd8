import { describe, expect, test } from 'vitest';
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
