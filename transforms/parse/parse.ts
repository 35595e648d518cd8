import { type FieldValue, type LogEvent, MAX_FIELD_DEPTH, nestsDeeperThan } from '../../core/event.js';
import type { EventTest } from '../conditions.js';
import { normalizeLevel } from '../level/normalize.js';
import { type FieldPath, type Fields, fieldPath, getField, setField, setOwn } from '../paths.js';
import { applyEach, compileWhen, PARSE_ERROR_FIELD, ParseErrors, type Side, type Transform, transformSpec } from '../transform.js';
import { type CompiledPattern, convert, extract } from './grok.js';
import { LOGFMT, type KeyValueOptions, parseKeyValue } from './kv.js';
import { compilePattern, type ParseOptions, parseOptions } from './options.js';

/** The parsed fields, or why the text did not parse (a string, so a success allocates no wrapper). */
type Parser = (text: string) => Fields | string;

/**
 * `type: parse`: reads the message (or a field) as JSON, logfmt, key=value, a regex or grok
 * patterns, and merges what it found into the event's fields (or under one key). A line
 * that does not parse goes on unchanged, marked `fields["log.parse_error"]` and counted:
 * parsing never drops an event. A parsed level key sets the event's level.
 */
export class ParseTransform implements Transform {
  readonly at: Side | undefined;
  private readonly when: EventTest | undefined;
  private readonly parser: Parser;
  private readonly errors: ParseErrors;
  private readonly read: (e: LogEvent) => FieldValue | undefined;
  private readonly targetKey: string | undefined;
  private readonly levelKeys: FieldPath[];

  constructor(
    readonly name: string,
    private readonly o: ParseOptions,
  ) {
    this.at = o.at;
    this.when = compileWhen(o.when);
    this.errors = new ParseErrors(name);
    this.parser = makeParser(o);
    this.read = o.source === 'message' ? (e) => e.message : reader(o.source.slice('fields.'.length));
    this.targetKey = o.target === 'fields' ? undefined : o.target.slice('fields.'.length);
    this.levelKeys = o.level_keys.map(fieldPath);
  }

  apply(events: LogEvent[]): LogEvent[] {
    return applyEach(events, this.when, this.each);
  }

  // Made once, not per batch: V8 optimizes each new closure anew, and a batch would run partly unoptimized.
  private readonly each = (e: LogEvent): boolean => {
    this.parseOne(e);
    return true;
  };

  private parseOne(e: LogEvent): void {
    const input = this.read(e);
    if (typeof input !== 'string') {
      this.errors.mark(e, input === undefined ? `no ${this.o.source} to parse` : `${this.o.source} is not text`);
      return;
    }
    const parsed = this.parser(input);
    if (typeof parsed === 'string') {
      this.errors.mark(e, parsed);
      return;
    }
    if (this.targetKey === undefined) {
      // Most events come without fields: the parsed object becomes them, no copy.
      if (isEmpty(e.fields)) e.fields = parsed;
      else if (Object.hasOwn(parsed, '__proto__')) assignOwn(e.fields, parsed);
      else Object.assign(e.fields, parsed);
    } else setField(e.fields, this.targetKey, parsed);
    for (const key of this.levelKeys) {
      const v = key.get(parsed);
      if (v === undefined) continue;
      const level = normalizeLevel(v);
      if (level !== undefined) {
        e.level = level;
        break;
      }
    }
  }
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/**
 * Object.assign for a source with a `__proto__` key (JSON.parse makes it an own property):
 * assigned, it would replace the target's prototype, dropping the key and lending its
 * members to every lookup of the event's fields.
 */
function assignOwn(target: Fields, source: Fields): void {
  for (const key of Object.keys(source)) setOwn(target, key, source[key]!);
}

function reader(name: string): (e: LogEvent) => FieldValue | undefined {
  return (e) => getField(e.fields, name);
}

function makeParser(o: ParseOptions): Parser {
  switch (o.format) {
    case 'json': {
      // Under a target, its segments are levels of fields too: the event as a whole must fit.
      const under = o.target === 'fields' ? 0 : o.target.slice('fields.'.length).split('.').length;
      const max = Math.max(1, MAX_JSON_DEPTH - under);
      const tooDeep = `nested deeper than ${max} levels: not parsed`;
      return (text) => parseJson(text, max, tooDeep);
    }
    case 'logfmt':
      return kvParser(LOGFMT, o.types, 'no key=value pairs');
    case 'key_value':
      return kvParser(
        {
          fieldSeparator: o.field_separator ?? ' ',
          valueSeparator: o.value_separator ?? '=',
          standaloneKeys: o.standalone_keys ?? true,
          singleQuotes: true,
        },
        o.types,
        `no key${o.value_separator ?? '='}value pairs`,
      );
    case 'regex':
    case 'grok':
      return patternParser(
        (Array.isArray(o.pattern) ? o.pattern : [o.pattern!]).map((p) => compilePattern(o.format as 'regex' | 'grok', p, o)),
        o.max_match_bytes,
      );
  }
}

function parseJson(text: string, maxDepth: number, tooDeep: string): Fields | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `invalid JSON: ${(err as Error).message}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`;
  if (nestsDeeperThan(value, maxDepth)) return tooDeep;
  return value as Fields;
}

/**
 * Objects and arrays nested deeper than this (with the event's fields the first level) are
 * not parsed. JSON.parse takes 10000 levels (60 KB of `{"a":`), but whatever turns the event
 * into JSON again (the disk channel, the wire) recurses and overflows the stack, failing its
 * whole batch on every retry; the wire refuses such events (core/event.ts).
 */
export const MAX_JSON_DEPTH = MAX_FIELD_DEPTH;

function kvParser(options: KeyValueOptions, types: ParseOptions['types'], none: string): Parser {
  const typed = Object.entries(types);
  return (text) => {
    const { values, pairs } = parseKeyValue(text, options);
    if (pairs === 0) return none;
    for (const [field, type] of typed) {
      const v = values[field];
      if (typeof v === 'string') (values as Fields)[field] = convert(v, type);
    }
    return values as Fields;
  };
}

function patternParser(patterns: CompiledPattern[], maxMatchBytes: number): Parser {
  const tooLong = `longer than max_match_bytes (${maxMatchBytes}): not parsed`;
  const none = patterns.length === 1 ? 'the pattern does not match' : `none of the ${patterns.length} patterns matches`;
  return (text) => {
    if (text.length * 3 > maxMatchBytes && Buffer.byteLength(text) > maxMatchBytes) return tooLong;
    for (const p of patterns) {
      const m = p.pattern.first(text);
      if (m) return extract(m, p.captures);
    }
    return none;
  };
}

export const parseTransformSpec = transformSpec(ParseTransform, parseOptions, {
  type: 'parse',
  description: 'parses JSON, logfmt, key=value, regex captures or grok patterns into fields',
  fieldsSet: (o) => {
    if (o.target !== 'fields') return [o.target.slice('fields.'.length), PARSE_ERROR_FIELD];
    if (o.format !== 'regex' && o.format !== 'grok') return '*';
    const patterns = Array.isArray(o.pattern) ? o.pattern : [o.pattern!];
    return [...patterns.flatMap((p) => compilePattern(o.format as 'regex' | 'grok', p, o).captures.map((c) => c.field)), PARSE_ERROR_FIELD];
  },
});
