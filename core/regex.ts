import { setFlagsFromString } from 'node:v8';

/**
 * Regular expressions written in configs meet untrusted log lines, so none of them may take
 * more than linear time on a line. JavaScript's engine backtracks, and `(a+)+$` on a line
 * of thirty `a`s and a `!` takes minutes. V8 carries a second, linear-time engine (an
 * automaton, no backtracking); with the flag below it takes over from the backtracking one
 * whenever a match backtracks too much, so ordinary patterns run at full speed and a
 * pathological one degrades to linear time instead of hanging the process.
 *
 * That engine cannot run every pattern: lookahead and lookbehind, backreferences, the `i`
 * and `u` flags, `\p{…}` and counted repetitions above 16 (`x{20}`) are beyond it. Such a
 * pattern is still allowed, but runs only on inputs of at most `maxMatchBytes` (a longer
 * input counts as no match), and one with nested repetition (`(a+)+`, `(\w+\s?)*`), the
 * shape that backtracks exponentially, is refused outright.
 *
 * The flags are process-wide and only widen what V8 does; set once, when this module loads.
 */
setFlagsFromString('--enable-experimental-regexp-engine');
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

/** Default input bound for patterns the linear engine cannot run: long enough for any sane log line's head. */
export const DEFAULT_MAX_MATCH_BYTES = 8 * 1024;

export interface SafePattern {
  readonly regex: RegExp;
  /** True when V8's linear engine can take over: any input length is safe. */
  readonly linear: boolean;
  /** The input bound for non-linear patterns, in UTF-8 bytes. */
  readonly maxMatchBytes: number;
  /** Whether `text` may be matched: always for a linear pattern, up to maxMatchBytes otherwise. */
  fits(text: string): boolean;
  /** regex.exec, or null when the input is too long for a non-linear pattern. */
  exec(text: string): RegExpExecArray | null;
  test(text: string): boolean;
}

/** Thrown by compileSafe with a message fit for a config error ("invalid regular expression ..."). */
export class PatternError extends Error {}

/**
 * Compiles a pattern from a config: throws PatternError when it is not valid JavaScript
 * regex syntax, or when it cannot run in linear time and has nested repetition.
 */
export function compileSafe(source: string, flags = '', maxMatchBytes = DEFAULT_MAX_MATCH_BYTES): SafePattern {
  let regex: RegExp;
  try {
    regex = new RegExp(source, flags);
  } catch (err) {
    throw new PatternError(`invalid regular expression /${source}/: ${stripPrefix((err as Error).message)}`);
  }
  let linear = true;
  try {
    new RegExp(source, `${flags}l`);
  } catch {
    linear = false;
  }
  if (!linear) {
    const nested = nestedRepetition(source);
    if (nested !== undefined)
      throw new PatternError(
        `regular expression /${source}/ repeats a group that itself repeats (${nested}): on a bad line that backtracks exponentially. ` +
          'Remove one of the repetitions, or avoid lookaround, backreferences, flags and counts over 16 so the pattern runs in linear time',
      );
  }
  const fits = linear ? () => true : (text: string) => text.length <= maxMatchBytes / 3 || Buffer.byteLength(text) <= maxMatchBytes;
  return {
    regex,
    linear,
    maxMatchBytes,
    fits,
    exec: (text) => (fits(text) ? regex.exec(text) : null),
    test: (text) => fits(text) && regex.test(text),
  };
}

/** The message of a compile error for a config problem, or undefined when the pattern is fine. */
export function patternProblem(source: string, flags = ''): string | undefined {
  try {
    compileSafe(source, flags);
    return undefined;
  } catch (err) {
    if (err instanceof PatternError) return err.message;
    throw err;
  }
}

function stripPrefix(message: string): string {
  // V8 says "Invalid regular expression: /src/: reason"; the reason is what helps.
  const i = message.lastIndexOf(': ');
  return i >= 0 ? message.slice(i + 2) : message;
}

/**
 * The first group that is repeated without bound and contains an unbounded repetition
 * itself (star height above one), as written; undefined when there is none. A scan of the
 * source that knows escapes and character classes, enough for the check (the pattern
 * already compiled).
 */
export function nestedRepetition(source: string): string | undefined {
  // Per open group: where it starts and whether it holds an unbounded quantifier.
  const stack: { start: number; unbounded: boolean }[] = [];
  let inClass = false;
  // The group that closed just before this character, while a quantifier may still follow it.
  let closed: { start: number; unbounded: boolean } | undefined;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const after = closed;
    closed = undefined;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push({ start: i, unbounded: false });
    else if (c === ')') {
      closed = stack.pop();
      if (closed?.unbounded && stack.length > 0) stack.at(-1)!.unbounded = true;
    } else if (c === '*' || c === '+' || (c === '{' && /^\{\d*,\}/.test(source.slice(i)))) {
      if (after?.unbounded) return source.slice(after.start, i + 1);
      if (stack.length > 0) stack.at(-1)!.unbounded = true;
    }
  }
  return undefined;
}
