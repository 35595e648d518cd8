import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/support/index.js';
import { EventTemplate } from '../../core/template.js';
import { fitSegment, safePathSegment } from './paths.js';

describe('safePathSegment', () => {
  it('turns anything into one harmless segment', () => {
    expect(safePathSegment('..')).toBe('__');
    expect(safePathSegment('../../etc/passwd')).toBe('______etc_passwd');
    expect(safePathSegment('/abs')).toBe('_abs');
    expect(safePathSegment('a\\b')).toBe('a_b');
    expect(safePathSegment('nul\u0000new\nline\u007f')).toBe('nul_new_line_');
    expect(safePathSegment('.hidden')).toBe('_hidden');
    expect(safePathSegment('v1.2.3')).toBe('v1.2.3');
    expect(Buffer.byteLength(safePathSegment('é'.repeat(300)))).toBe(100);
    expect(safePathSegment(`${'a'.repeat(99)}é`)).toBe('a'.repeat(99));
    // No UTF-8 form: the file system would name it otherwise than the journal remembers it.
    expect(safePathSegment('a\ud800b\udc00c')).toBe('a_b_c');
    expect(safePathSegment('ok\ud83d\ude00')).toBe('ok\ud83d\ude00');
    expect(encodeURIComponent(safePathSegment('x\ud800'))).toBe('x_');
  });

  it('leaves nothing for a blank value, so the path template renders the fallback', () => {
    expect(safePathSegment('')).toBe('');
    expect(safePathSegment('   ')).toBe('');
    const t = new EventTemplate('{service}/{fields.team:-shared}/{host}.log', { sanitize: safePathSegment });
    expect(t.render(makeEvent({ service: ' ', host: '../..', fields: { 'team.x': 1 } }))).toBe('unknown/shared/_____.log');
    expect(t.render(makeEvent({ service: 'a/b', host: 'h', fields: { team: { x: '/' } } }))).toBe('a_b/{"x":"_"}/h.log');
  });
});

describe('fitSegment', () => {
  it('keeps a long segment distinct by a hash of the whole', () => {
    const a = fitSegment(`${'é'.repeat(150)}a`);
    const b = fitSegment(`${'é'.repeat(150)}b`);
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(200);
    expect(a).not.toBe(b);
    expect(a.startsWith('é'.repeat(93))).toBe(true);
    expect(fitSegment('short')).toBe('short');
  });
});
