import { setFlagsFromString } from 'node:v8';
import { RE2JS } from 're2js';
import { z } from 'zod';
import { DEFAULT_MAX_MATCH_BYTES, headBytes } from '../core/template.js';
import { byteSize } from '../core/units.js';

/**
 * The regular expressions of transforms (parse `regex` and `grok`, redact's detectors and
 * `patterns`), in RE2 syntax like the routes' (core/template/match.ts): no backreferences,
 * no lookarounds; `(?i)` and friends work. Log content meets them, so no value may cost
 * more than linear time — yet a grok pattern runs on every line, and RE2's automaton in
 * JavaScript (re2js) is some 25 times slower than V8's own engine on the same pattern.
 *
 * So two engines, one syntax:
 * - values up to FAST_PATH_BYTES go to V8's engine, made from the same source. It
 *   backtracks, but V8's own linear engine, which the first flag below lets take over when a
 *   match backtracks too much, bounds the cost of its bad cases (`(a+)+$`, `(.*) (.*) (.*)`):
 *   even on a value of 1 KiB those take seconds, or minutes, without it;
 * - longer values go to RE2 (re2js), which never backtracks, on at most maxMatchBytes.
 * So a source the linear engine refuses (a bound above 16 as in `{32}` or `{1,20}`, or nested
 * bounds multiplying to more) runs on RE2 alone, as does one that means something else to V8
 * (`\A`, `\z`, `[[:alpha:]]`, inline flags, `\p`). The second flag lets compileRegex ask V8
 * which sources its linear engine takes (the `l` flag, which throws on the others): the
 * engine's own rules, not a copy that could drift from them. Were the flag gone, every source
 * would run on RE2: slower, never unsafe.
 */
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
setFlagsFromString('--enable-experimental-regexp-engine');

export const FAST_PATH_BYTES = 1024;

/**
 * The `max_match_bytes` option of parse and redact: at least FAST_PATH_BYTES, since values
 * that short are matched whole whatever it says; below it (0 passes as a size) parse refused
 * every value as too long and redact's card scan looked at nothing.
 */
export const maxMatchBytes = () =>
  byteSize()
    .pipe(z.number().min(FAST_PATH_BYTES, { error: (iss) => `max_match_bytes must be at least 1KiB, got ${String(iss.input)} bytes` }))
    .default(DEFAULT_MAX_MATCH_BYTES);

export class RegexError extends Error {}

export interface Match {
  /** Offsets (UTF-16 units) of the whole match. */
  start: number;
  end: number;
  /** A named group's text, undefined when it did not take part. */
  group(name: string): string | undefined;
  /**
   * A named group's start offset, -1 when it did not take part, or when the two engines read
   * the pattern differently on this text (`.` and `\s` do not match quite the same
   * characters) so that where the group stands is not known.
   */
  groupStart(name: string): number;
}

export interface SafeRegex {
  readonly source: string;
  /** Named groups, in order. */
  readonly names: readonly string[];
  readonly maxMatchBytes: number;
  /** Whether short values take V8's engine (false: RE2 only, for a source V8's linear engine refuses or reads otherwise). */
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
    const v8Source = source.replaceAll('(?P<', '(?<');
    try {
      // Throws unless the linear engine takes the source, the same test V8 makes before it falls back to that engine.
      new RegExp(v8Source, 'gl');
      v8 = new RegExp(v8Source, 'g');
    } catch {
      v8 = undefined;
    }
  }
  const fast = (text: string) => v8 !== undefined && (text.length * 3 <= FAST_PATH_BYTES || Buffer.byteLength(text) <= FAST_PATH_BYTES);

  /**
   * Without the `d` flag (which V8's linear engine refuses, so a `d` regex backtracks without
   * bound), V8 gives a group's text, not its place: a text found once in the match can only
   * be there; one found more often (`pin 1234 for user 991234`) is placed by RE2, which reads
   * the same source with the same preferences, from the same start.
   */
  const groupStartOf = (text: string, m: RegExpExecArray, name: string): number => {
    const g = m.groups?.[name];
    if (g === undefined) return -1;
    const at = m[0].indexOf(g);
    if (at === m[0].lastIndexOf(g)) return m.index + at;
    const r = re2.matcher(text);
    const same = r.find(m.index) && r.start() === m.index && r.end() === m.index + m[0].length && r.group(name) === g;
    return same ? r.start(name) : -1;
  };
  const fromV8 = (text: string, m: RegExpExecArray): Match => ({
    start: m.index,
    end: m.index + m[0].length,
    group: (name) => m.groups?.[name],
    groupStart: (name) => groupStartOf(text, m, name),
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
        return m ? fromV8(text, m) : undefined;
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
          found(fromV8(text, m));
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
