import { describe, expect, test } from 'vitest';
import { headBytes } from '../../../core/template.js';
import type { Cut } from './lines.js';
import { type JoinLimits, MultilineJoiner, PRESETS, type Rules } from './multiline.js';

const MiB = 1024 * 1024;

/**
 * Every preset on 1 MiB hostile lines: each must answer (and answer right) without the
 * bound on input bytes; the time they take is bench/patterns.ts's business. The former go
 * preset took about 15 minutes on the first of these.
 */
describe('presets on 1 MiB hostile lines', () => {
  const hostile: [string, string, Record<'java' | 'python' | 'go', boolean>][] = [
    ['"(" repeated', '('.repeat(MiB), { java: false, python: false, go: false }],
    ['"(" repeated, then ")"', `${'('.repeat(MiB)})`, { java: false, python: false, go: true }],
    ['"a(" repeated', 'a('.repeat(MiB / 2), { java: false, python: false, go: false }],
    ['"a" repeated then "()"', `${'a'.repeat(MiB)}()`, { java: false, python: false, go: true }],
    ['word characters', 'a'.repeat(MiB), { java: false, python: false, go: false }],
    ['word characters then "Error:"', `${'a'.repeat(MiB)}Error: x`, { java: false, python: true, go: false }],
    ['"Error" repeated', 'Error'.repeat(MiB / 5), { java: false, python: true, go: false }],
    ['dots', '.'.repeat(MiB), { java: false, python: false, go: false }],
    ['spaces', ' '.repeat(MiB), { java: false, python: true, go: true }],
    ['spaces then a word', `${' '.repeat(MiB)}x`, { java: true, python: true, go: true }],
    ['tabs then "..."', `${'\t'.repeat(MiB)}... 3 more`, { java: true, python: true, go: true }],
    ['digits', `goroutine ${'1'.repeat(MiB)}`, { java: false, python: false, go: false }],
    ['"exit status" with a long number', `exit status ${'9'.repeat(MiB)}`, { java: false, python: false, go: true }],
    ['"...  " repeated', '... '.repeat(MiB / 4), { java: false, python: false, go: false }],
  ];
  for (const [name, line, expected] of hostile) {
    test(name, () => {
      for (const preset of ['java', 'python', 'go'] as const) {
        expect([preset, PRESETS[preset].continuation!.test(line)]).toEqual([preset, expected[preset]]);
      }
    });
  }

  test('the go preset still reads real frames', () => {
    const go = PRESETS.go.continuation!;
    for (const frame of [
      'main.lookup(...)',
      'main.(*Server).handle(0xc000010000, 0x1)',
      'net/http.(*conn).serve(0xc0001b6000)',
      'main.main()',
    ])
      expect([frame, go.test(frame)]).toEqual([frame, true]);
    for (const line of ['2024-01-01 00:00:00 INFO done (took 3ms)', 'panic: boom', 'x', '(unfinished'])
      expect([line, go.test(line)]).toEqual([line, false]);
  });
});

describe('what patterns see of a line (core headBytes)', () => {
  test('short lines as they are; long ones cut at max bytes on a character boundary', () => {
    expect(headBytes('short', 64)).toBe('short');
    expect(headBytes('a'.repeat(MiB), 4096)).toBe('a'.repeat(4096));
    const e = headBytes('é'.repeat(3000), 4097);
    expect(e).toBe('é'.repeat(2048));
    expect(Buffer.byteLength(headBytes('日本'.repeat(5000), 100))).toBeLessThanOrEqual(100);
  });

  test('a quadratic user pattern on a 1 MiB line only sees the head', () => {
    // The former go preset, as a user's own continuation pattern: bounded, it answers at once.
    const quadratic = /^[\w./*%()[\]-]+\(.*\)$/;
    expect(quadratic.test(headBytes('('.repeat(MiB), 4096))).toBe(false);
  });
});

type Out = [string, number, number, Cut];

function join(rules: Rules, limits: Partial<JoinLimits>, lines: [string, Cut?][]): { events: Out[]; skipped: [number, number][] } {
  const events: Out[] = [];
  const skipped: [number, number][] = [];
  const j = new MultilineJoiner(
    rules,
    { maxBytes: 100, policy: 'truncate', maxLines: 500, maxMatchBytes: 4096, negate: false, ...limits },
    (message, offset, next, cut) => events.push([message, offset, next, cut]),
    (offset, next) => skipped.push([offset, next]),
  );
  let offset = 0;
  for (const [line, cut] of lines) {
    const next = offset + Buffer.byteLength(line) + 1;
    j.push(line, Buffer.byteLength(line), offset, next, cut, 0);
    offset = next;
  }
  j.flush();
  return { events, skipped };
}

describe('joined events over max_event_bytes get the long_lines policy', () => {
  const start: Rules = { start: /^START/ };
  const trace = (n: number): [string][] => Array.from({ length: n }, (_, i) => [`  frame ${String(i).padStart(2, '0')} ${'x'.repeat(20)}`]);
  const lines: [string, Cut?][] = [['START one'], ...trace(6), ['START two']];
  // Each frame line is 31 bytes (+1 newline): "START one" + 2 frames = 73 bytes, a third frame would make 105.

  test('truncate: the head of the event, marked; the rest of it covered and dropped', () => {
    const { events, skipped } = join(start, { policy: 'truncate' }, lines);
    expect(events.map((e) => [e[0].split('\n').length, e[1], e[3]])).toEqual([
      [3, 0, 'truncated'],
      [1, 202, undefined],
    ]);
    expect(events[0]![2]).toBe(202); // the dropped frames are covered: the position moves past them
    expect(skipped).toEqual([]);
  });

  test('split: pieces of at most max bytes, every line kept once, all but the last piece marked', () => {
    const { events } = join(start, { policy: 'split' }, lines);
    expect(events.map((e) => [e[0].split('\n').length, e[3]])).toEqual([
      [3, 'split'],
      [3, 'split'],
      [1, undefined],
      [1, undefined],
    ]);
    expect(events.every((e) => Buffer.byteLength(e[0]) <= 100)).toBe(true);
    expect(
      events
        .slice(0, 3)
        .map((e) => e[0])
        .join('\n'),
    ).toBe(
      lines
        .slice(0, 7)
        .map((l) => l[0])
        .join('\n'),
    );
    // Contiguous: each piece starts where the previous ended.
    expect(events.map((e) => e[1])).toEqual([0, events[0]![2], events[1]![2], events[2]![2]]);
  });

  test('skip: the whole event is dropped and its bytes reported skipped; the next event is whole', () => {
    const { events, skipped } = join(start, { policy: 'skip' }, lines);
    expect(events.map((e) => e[0])).toEqual(['START two']);
    expect(skipped).toEqual([[0, 202]]);
  });

  test('a line the splitter skipped (over the limit) skips the event it belongs to, classified by its head', () => {
    const { events, skipped } = join(start, { policy: 'skip' }, [
      ['START a'],
      ['  frame'],
      ['START huge', 'skipped'],
      ['  frame of huge'],
      ['START b'],
    ]);
    expect(events.map((e) => e[0])).toEqual(['START a\n  frame', 'START b']);
    expect(skipped.length).toBe(1);
  });
});
