import { RE2JS } from 're2js';

/**
 * Patterns a field's value is matched against (route `match:` conditions):
 *
 * - `text`: exactly this text;
 * - `te*t`: a glob, `*` any run of characters (newlines included), the whole value;
 * - `/re/`: a regular expression found anywhere in the value (anchor it with `^…$`), in RE2
 *   syntax as in Vector, Filebeat and Go: no backreferences or lookarounds;
 * - a leading `!` negates any of them.
 *
 * A missing value matches no positive pattern and every negated one.
 *
 * Log content meets these, so each runs in time linear in the value: a glob is a chain of
 * `indexOf` (a glob compiled to `.*a.*b.*` backtracks: one 1 MiB line took minutes), and a
 * regular expression runs on RE2's automaton (re2js), which never backtracks, on at most
 * `maxMatchBytes` of the value. V8's own engine backtracks: `/error.*timeout/` alone takes
 * seconds on a 64 KiB line of "error error …", and a batch of such lines outlasts the
 * consumer group's session.
 */

export const DEFAULT_MAX_MATCH_BYTES = 64 * 1024;

export interface ValuePattern {
  negated: boolean;
  test(value: string | undefined): boolean;
}

export interface PatternOptions {
  /** A regular expression sees at most this many bytes (UTF-8) of the value, from its start. */
  maxMatchBytes?: number;
  /** The values are lower-case (`level`): exact and glob patterns are lower-cased too, so `ERROR` matches `error`. */
  lowerCase?: boolean;
}

export class PatternError extends Error {}

export function compilePattern(source: string, options: PatternOptions = {}): ValuePattern {
  const negated = source.startsWith('!');
  const body = negated ? source.slice(1) : source;
  let test: (v: string) => boolean;
  if (isRegex(body)) {
    const re = compileRegex(body);
    const max = options.maxMatchBytes ?? DEFAULT_MAX_MATCH_BYTES;
    test = (v) => re.test(headBytes(v, max));
  } else {
    test = globMatcher(options.lowerCase ? body.toLowerCase() : body);
  }
  return { negated, test: (v) => v !== undefined && test(v) };
}

/** The problem with a pattern, or undefined: for config validation. */
export function patternProblem(source: string): string | undefined {
  try {
    compilePattern(source);
    return undefined;
  } catch (err) {
    if (err instanceof PatternError) return err.message;
    throw err;
  }
}

function isRegex(body: string): boolean {
  return body.length > 1 && body.startsWith('/') && body.endsWith('/');
}

function compileRegex(body: string): RE2JS {
  try {
    return RE2JS.compile(body.slice(1, -1));
  } catch (err) {
    throw new PatternError(
      `invalid regular expression ${body} (RE2 syntax, which runs in linear time: no backreferences or lookarounds): ${(err as Error).message}`,
    );
  }
}

/**
 * Whole-value glob match with `*` only (no `*`: exact text), in one left-to-right pass: the text before the
 * first `*` must start the value, the text after the last one must end it, and the pieces
 * between are found in order by indexOf, each at its leftmost place (leftmost is never
 * worse for the pieces after it), so nothing is ever tried twice.
 */
export function globMatcher(glob: string): (value: string) => boolean {
  const pieces = glob.split('*');
  if (pieces.length === 1) return (v) => v === glob;
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  const middle = pieces.slice(1, -1).filter((p) => p !== '');
  const min = first.length + last.length + middle.reduce((n, p) => n + p.length, 0);
  return (v) => {
    if (v.length < min || !v.startsWith(first) || !v.endsWith(last)) return false;
    const end = v.length - last.length;
    let at = first.length;
    for (const piece of middle) {
      const found = v.indexOf(piece, at);
      if (found === -1 || found + piece.length > end) return false;
      at = found + piece.length;
    }
    return true;
  };
}

/** The value cut to at most `max` UTF-8 bytes, never inside a character. */
export function headBytes(v: string, max: number): string {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most values are known short without encoding them.
  if (v.length * 3 <= max) return v;
  const head = v.length > max ? v.slice(0, max) : v;
  if (Buffer.byteLength(head) <= max) return head;
  const cut = Buffer.from(head).subarray(0, max).toString('utf8');
  // A character cut in half decodes as U+FFFD (one per byte left of it, at most 3): drop them.
  let end = cut.length;
  while (end > 0 && cut.length - end < 3 && cut.charCodeAt(end - 1) === 0xfffd) end--;
  return cut.slice(0, end);
}
