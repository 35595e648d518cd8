import { setFlagsFromString } from 'node:v8';
import { RE2JS } from 're2js';
import { headBytes } from '../core/template.js';

/**
 * The regular expressions of transforms (parse `regex` and `grok`, redact's detectors and
 * `patterns`), in RE2 syntax like the routes' (core/template/match.ts): no backreferences,
 * no lookarounds; `(?i)` and friends work. Log content meets them, so no value may cost
 * more than linear time — yet a grok pattern runs on every line, and RE2's automaton in
 * JavaScript (re2js) is some 25 times slower than V8's own engine on the same pattern.
 *
 * So two engines, one syntax:
 * - values up to FAST_PATH_BYTES go to V8's engine, made from the same source. It
 *   backtracks, but on so short a value the worst pattern costs milliseconds, and its
 *   exponential cases (`(a+)+$`) are cut short by V8's own linear engine, which the flag
 *   below lets take over when a match backtracks too much;
 * - longer values go to RE2 (re2js), which never backtracks, on at most maxMatchBytes.
 * A source that means something else to V8 (`\A`, `\z`, `[[:alpha:]]`, inline flags, `\p`)
 * runs on RE2 alone.
 */
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

export const FAST_PATH_BYTES = 1024;

export class RegexError extends Error {}

export interface Match {
  /** Offsets (UTF-16 units) of the whole match. */
  start: number;
  end: number;
  /** A named group's text, undefined when it did not take part. */
  group(name: string): string | undefined;
  /** A named group's start offset, -1 when it did not take part. */
  groupStart(name: string): number;
}

export interface SafeRegex {
  readonly source: string;
  /** Named groups, in order. */
  readonly names: readonly string[];
  readonly maxMatchBytes: number;
  /** Whether short values take V8's engine (false: the source means something else to V8; RE2 only). */
  readonly fast: boolean;
  /** The first match, or undefined. Values longer than maxMatchBytes are matched on their head. */
  first(text: string): Match | undefined;
  /** Every non-overlapping match, left to right. */
  each(text: string, found: (m: Match) => void): void;
  test(text: string): boolean;
}

/** What makes V8 read a source differently from RE2 (or not at all): such sources take RE2 only. */
const RE2_ONLY = /\\[AzQECpP]|\[\[:|\(\?[imsU-]/;

export function compileRegex(source: string, maxMatchBytes: number): SafeRegex {
  let re2: RE2JS;
  try {
    re2 = RE2JS.compile(source);
  } catch (err) {
    throw new RegexError(
      `invalid regular expression /${source}/ (RE2 syntax, which runs in linear time: no backreferences or lookarounds): ${(err as Error).message}`,
    );
  }
  const names = Object.entries(re2.namedGroups())
    .sort((a, b) => a[1] - b[1])
    .map(([n]) => n);
  let v8: RegExp | undefined;
  if (!RE2_ONLY.test(source)) {
    try {
      v8 = new RegExp(source.replaceAll('(?P<', '(?<'), 'g');
    } catch {
      v8 = undefined;
    }
  }
  const fast = (text: string) => v8 !== undefined && (text.length * 3 <= FAST_PATH_BYTES || Buffer.byteLength(text) <= FAST_PATH_BYTES);

  const fromV8 = (m: RegExpExecArray): Match => ({
    start: m.index,
    end: m.index + m[0].length,
    group: (name) => m.groups?.[name],
    // The group's offset without the `d` flag (which slows every match down): its last occurrence in the match.
    groupStart: (name) => {
      const g = m.groups?.[name];
      return g === undefined ? -1 : m.index + m[0].lastIndexOf(g);
    },
  });
  const fromRe2 = (m: ReturnType<RE2JS['matcher']>): Match => {
    const start = m.start();
    const end = m.end();
    const groups = new Map<string, { text: string | undefined; start: number }>();
    for (const name of names) {
      const text = m.group(name);
      groups.set(name, { text: text ?? undefined, start: text === null ? -1 : m.start(name) });
    }
    return { start, end, group: (n) => groups.get(n)?.text, groupStart: (n) => groups.get(n)?.start ?? -1 };
  };

  return {
    source,
    names,
    maxMatchBytes,
    fast: v8 !== undefined,
    first(text) {
      if (fast(text)) {
        v8!.lastIndex = 0;
        const m = v8!.exec(text);
        return m ? fromV8(m) : undefined;
      }
      const m = re2.matcher(headBytes(text, maxMatchBytes));
      return m.find() ? fromRe2(m) : undefined;
    },
    each(text, found) {
      if (fast(text)) {
        const re = v8!;
        re.lastIndex = 0;
        for (let m = re.exec(text); m !== null; m = re.exec(text)) {
          if (m[0].length === 0) re.lastIndex++;
          found(fromV8(m));
        }
        return;
      }
      const m = re2.matcher(headBytes(text, maxMatchBytes));
      while (m.find()) found(fromRe2(m));
    },
    test(text) {
      if (fast(text)) {
        v8!.lastIndex = 0;
        return v8!.test(text);
      }
      return re2.matcher(headBytes(text, maxMatchBytes)).find();
    },
  };
}

/** The problem with a pattern, for a config error; undefined when it compiles. */
export function regexProblem(source: string): string | undefined {
  try {
    compileRegex(source, FAST_PATH_BYTES);
    return undefined;
  } catch (err) {
    if (err instanceof RegexError) return err.message;
    throw err;
  }
}
