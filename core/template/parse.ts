import { type FieldPath, FieldPathError, parseFieldPath } from './field-path.js';
import { TIME_TOKENS, type TimeToken } from './clock.js';

/**
 * The template language of every name Sluice makes from an event: Kafka topics and keys
 * (`logs.{service}`), file paths (`{service}/{module}/%Y-%m-%d/{host}.log`) and index
 * names (`logs-{service}-%Y.%m.%d`).
 *
 * - `{path}` takes an event value by field path (field-path.ts): `{service}`,
 *   `{fields.kubernetes.namespace}`. Spaces inside the braces are ignored.
 * - `{path:-fallback}` renders `fallback` where the value is missing; without one a
 *   missing value renders `unknown` (MISSING). As in `${VAR:-default}` in the config.
 * - `%Y %y %m %d %j %H %M %S` the event time in the template's zone, `%%` a literal `%`;
 *   in a template without time (`time: false`: topics, keys) `%` is plain text.
 *
 * What a name may contain is each use's business: it narrows the placeholders
 * (ParseOptions.check) and makes values and the whole name safe (render.ts).
 */

/** What a missing value renders as, unless the placeholder gives its own fallback. */
export const MISSING = 'unknown';

export type TemplatePart =
  | { kind: 'literal'; text: string }
  | { kind: 'field'; name: string; path: FieldPath; fallback: string }
  | { kind: 'time'; token: TimeToken };

/** A `{field}` or `%token` as written, with its 1-based character position in the template. */
export interface Placeholder {
  kind: 'field' | 'time';
  /** The field path (trimmed, without its fallback), or the character after `%` (`%` for `%%`, empty at the end of the text). */
  name: string;
  at: number;
}

export interface ParseOptions {
  /**
   * Sees every placeholder before the generic checks and may throw: how a use allows only
   * part of the vocabulary (an index name takes no `{fields.*}` and nothing finer than `%H`)
   * and says so in its own words.
   */
  check?: (placeholder: Placeholder) => void;
  /** Whether `%` starts a time token (default) or is plain text. */
  time?: boolean;
}

/** Paths no name is made of. */
const NOT_IN_NAMES = ['message'];

/** Parses a template; throws an Error saying what is wrong and where in the text. */
export function parseTemplate(text: string, options: ParseOptions = {}): TemplatePart[] {
  const parts: TemplatePart[] = [];
  const time = options.time ?? true;
  const where = `template ${JSON.stringify(text)}`;
  let literal = '';
  const flush = () => {
    if (literal) parts.push({ kind: 'literal', text: literal });
    literal = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '%' && time) {
      const t = text[i + 1];
      options.check?.({ kind: 'time', name: t ?? '', at: i + 1 });
      if (t === undefined || !Object.hasOwn(TIME_TOKENS, t)) {
        const known = Object.keys(TIME_TOKENS)
          .map((k) => `%${k}`)
          .join(' ');
        throw new Error(`${where}: unknown time format "%${t ?? ''}" at character ${i + 1} (known: ${known})`);
      }
      i++;
      if (t === '%') literal += '%';
      else {
        flush();
        parts.push({ kind: 'time', token: t as TimeToken });
      }
    } else if (c === '{') {
      const end = text.indexOf('}', i);
      if (end === -1) throw new Error(`${where}: "{" at character ${i + 1} is not closed`);
      const inside = text.slice(i + 1, end);
      if (inside.includes('{')) throw new Error(`${where}: "{" at character ${i + 1} is not closed before the next "{"`);
      const sep = inside.indexOf(':-');
      const name = (sep === -1 ? inside : inside.slice(0, sep)).trim();
      const fallback = sep === -1 ? MISSING : inside.slice(sep + 2).trim();
      options.check?.({ kind: 'field', name, at: i + 1 });
      if (fallback === '') throw new Error(`${where}: {${inside}} at character ${i + 1} has nothing after ":-" (write {${name}:-value})`);
      let path: FieldPath;
      try {
        path = parseFieldPath(name, NOT_IN_NAMES);
      } catch (err) {
        if (!(err instanceof FieldPathError)) throw err;
        throw new Error(`${where}: {${name}} at character ${i + 1}: ${err.message}`);
      }
      flush();
      parts.push({ kind: 'field', name, path, fallback });
      i = end;
    } else if (c === '}') {
      throw new Error(`${where}: "}" at character ${i + 1} has no opening "{"`);
    } else literal += c;
  }
  flush();
  return parts;
}

/** The problem with a template, or undefined: for config validation. */
export function templateProblem(text: string, options: ParseOptions = {}): string | undefined {
  try {
    parseTemplate(text, options);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The template's fixed text, placeholders left out: what checks on literal characters look at. */
export function literalText(parts: readonly TemplatePart[]): string {
  return parts.map((p) => (p.kind === 'literal' ? p.text : '')).join('');
}

/**
 * The template's fixed text before its first placeholder, between each two, and after its
 * last: one more than there are placeholders (adjacent placeholders have '' between them).
 */
export function literalSegments(parts: readonly TemplatePart[]): string[] {
  const segments = [''];
  for (const p of parts) {
    if (p.kind === 'literal') segments[segments.length - 1] += p.text;
    else segments.push('');
  }
  return segments;
}

/**
 * Whether a whole name is one the template can render, each placeholder as a run of at least
 * one character `isValueChar` accepts (a UTF-16 code): what templatePattern says, decided in
 * one pass. The fixed text must start and end the name; each literal between is taken at its
 * first occurrence with a value before it. That choice is never worse for the rest: a later
 * occurrence would have the earlier one inside its value, so the literal's characters are
 * value characters too (also when the two overlap: the literal then repeats its first
 * characters), and the next value may start sooner. A character a value cannot hold before
 * the first occurrence is before every later one, so that occurrence decides.
 */
export function templateMatcher(parts: readonly TemplatePart[], isValueChar: (code: number) => boolean): (name: string) => boolean {
  const segments = literalSegments(parts);
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  if (segments.length === 1) return (name) => name === first;
  const values = (name: string, from: number, to: number): boolean => {
    for (let i = from; i < to; i++) if (!isValueChar(name.charCodeAt(i))) return false;
    return true;
  };
  return (name) => {
    if (!name.startsWith(first) || !name.endsWith(last)) return false;
    const end = name.length - last.length;
    let value = first.length;
    for (let i = 1; i < segments.length - 1; i++) {
      const at = name.indexOf(segments[i]!, value + 1);
      if (at === -1 || !values(name, value, at)) return false;
      value = at + segments[i]!.length;
    }
    return value < end && values(name, value, end);
  };
}

/**
 * What names the template can render, as the text of a regular expression over whole names,
 * for a client that subscribes by pattern (librdkafka): its fixed text escaped, each
 * placeholder as `value` (a pattern for one rendered value). Where `value` can match the
 * literals' characters, a backtracking engine (V8's) takes polynomial time on a name that
 * almost matches (with four placeholders, about a second on 249 characters): Sluice itself tests
 * names with templateMatcher.
 */
export function templatePattern(parts: readonly TemplatePart[], value: string): string {
  return `^${parts.map((p) => (p.kind === 'literal' ? p.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : value)).join('')}$`;
}
