import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { groupBytes } from './path-groups.js';

const plain = { compression: 'none', gzip_level: 6 } as const;

describe('groupBytes', () => {
  it('is the lines, each ended by a newline, in one buffer; nothing for no lines', () => {
    expect((groupBytes(['a', '', 'bc'], plain) as Buffer).toString()).toBe('a\n\nbc\n');
    expect((groupBytes([], plain) as Buffer).length).toBe(0);
  });

  it('joins a text of many times the join size, with multi-byte characters across its parts, byte for byte', () => {
    // 20,000 lines of 1 to 40 characters, some 2-, 3- and 4-byte ones and a lone surrogate (written as U+FFFD).
    const alphabet = ['a', 'é', '日', '😀', '\ud800', 'z'];
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      let line = `${i}:`;
      for (let j = 0; j < i % 40; j++) line += alphabet[(i + j) % alphabet.length];
      lines.push(line);
    }
    const expected = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    expect(expected.length).toBeGreaterThan(8 * 32 * 1024);
    const given = [...lines];
    const bytes = groupBytes(lines, plain) as Buffer;
    expect(bytes.equals(expected)).toBe(true);
    expect(lines).toEqual(given);
  });

  it('is one gzip member of that text with compression: gzip', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(i % 100)}`);
    const member = await groupBytes(lines, { compression: 'gzip', gzip_level: 1 });
    expect(gunzipSync(member).toString()).toBe(`${lines.join('\n')}\n`);
  });
});
