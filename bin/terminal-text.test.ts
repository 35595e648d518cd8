import { describe, expect, it } from 'vitest';
import { escapeControl, escapeJsonControl } from './terminal-text.js';

describe('terminal text', () => {
  it('escapes what would drive the terminal, keeps newlines and tabs of multi-line events', () => {
    // A title change (OSC) and a colour (CSI) written by a service into its log.
    expect(escapeControl('a\x1b]0;owned\x07b\x1b[31mred\nnext\tcol\x9b')).toBe('a\\x1b]0;owned\\x07b\\x1b[31mred\nnext\tcol\\x9b');
  });

  it('escapes DEL and C1 controls JSON lets through, and the line still reads back the same', () => {
    const line = JSON.stringify({ message: 'a\x7fb\x9bc\x1bd' });
    const shown = escapeJsonControl(line);
    expect(shown).toBe('{"message":"a\\u007fb\\u009bc\\u001bd"}');
    expect(JSON.parse(shown)).toEqual(JSON.parse(line));
  });
});
