import type { FieldValue, LogEvent } from '../event.js';

/**
 * Field paths: how every user of an event's values names one (route match keys, and the
 * `{…}` of topic, key, path and index templates). One grammar, one way of reading nested
 * and dotted keys, one rule for a missing value.
 *
 * Reading `fields.a.b.c` (anchors: Fluent Bit's record accessor, Vector's path lookup):
 * `fields` is walked one level at a time, and at each level the longest run of the
 * remaining names that is a key there is taken — `"a.b.c"`, else `"a.b"`, else `"a"` —
 * then the walk goes on inside it with what is left. So a dotted key as the container
 * source writes them (`fields["kubernetes.pod"]`) and a nested object as a JSON parser
 * makes them (`{"kubernetes": {"pod": …}}`) are read by the same path, as Elasticsearch
 * treats them alike. The walk never backs up: a level costs at most one lookup per name
 * left, whatever the data holds. Inside an array a name that is a number is an index
 * (`fields.tags.0`). Only own keys count (`fields.constructor` is not Object's).
 *
 * Missing: a path that leads nowhere, `null` or the empty string. A route pattern never
 * matches a missing value (only a negated one does); a template renders its fallback.
 */

/** The event's own values besides `fields`, by path. */
// Each getter normalizes "missing" itself: one call per event on the hot path of every name.
const TOP_LEVEL = new Map<string, (e: LogEvent) => FieldValue | undefined>([
  ['service', (e) => e.service || undefined],
  ['module', (e) => e.module || undefined],
  ['host', (e) => e.host || undefined],
  ['level', (e) => e.level || undefined],
  ['message', (e) => e.message || undefined],
  ['source.kind', (e) => e.source.kind || undefined],
  ['source.path', (e) => e.source.path || undefined],
  ['source.container', (e) => e.source.container || undefined],
  ['source.stream', (e) => e.source.stream || undefined],
]);

/** Every path as users write them, for error messages. */
const FIELD_PATHS: readonly string[] = [...TOP_LEVEL.keys(), 'fields.NAME'];

/** Why a use may leave a path out (templates leave out `message`). */
const EXCLUDED_WHY: Record<string, string> = {
  message: 'a name made from the message would be new for almost every line',
};

/** More names than this in one path is a mistake, and would make the walk's cost quadratic in something large. */
const MAX_NAMES = 16;

export class FieldPathError extends Error {}

export interface FieldPath {
  /** As written: `service`, `fields.kubernetes.pod`. */
  readonly text: string;
  /** The raw value, undefined when missing. */
  get(event: LogEvent): FieldValue | undefined;
}

/**
 * Parses a field path; throws a FieldPathError naming what is wrong. `exclude` lists the
 * top-level paths a use does not take.
 */
export function parseFieldPath(text: string, exclude: readonly string[] = []): FieldPath {
  if (exclude.includes(text)) throw new FieldPathError(`"${text}" cannot be used here: ${EXCLUDED_WHY[text] ?? 'not allowed'}`);
  const top = TOP_LEVEL.get(text);
  if (top) return { text, get: top };
  if (!text.startsWith('fields.')) {
    const known = FIELD_PATHS.filter((p) => !exclude.includes(p));
    throw new FieldPathError(
      `unknown field "${text}": use ${known.slice(0, -1).join(', ')} or ${known.at(-1)} (fields.a.b reads nested objects and dotted keys alike)`,
    );
  }
  const names = text.slice('fields.'.length).split('.');
  if (names.some((n) => n === '')) throw new FieldPathError(`field "${text}" has an empty name between dots`);
  if (names.some((n) => /[{}]/.test(n))) throw new FieldPathError(`field "${text}" may not contain "{" or "}"`);
  if (names.length > MAX_NAMES) throw new FieldPathError(`field "${text}" has more than ${MAX_NAMES} names`);
  return { text, get: fieldsGetter(names) };
}

/** The problem with a field path, or undefined: for config validation. */
export function fieldPathProblem(text: string, exclude: readonly string[] = []): string | undefined {
  try {
    parseFieldPath(text, exclude);
    return undefined;
  } catch (err) {
    if (err instanceof FieldPathError) return err.message;
    throw err;
  }
}

function orMissing(v: FieldValue | undefined): FieldValue | undefined {
  return v === null || v === '' ? undefined : v;
}

const INDEX = /^(0|[1-9]\d*)$/;

/** One name's lookup in an object or array: own keys only, numbers only in arrays. */
type Step = (node: FieldValue & object) => FieldValue | undefined;

function step(key: string): Step {
  const index = INDEX.test(key) ? Number(key) : -1;
  // Every key an object inherits is a function (never a FieldValue) except __proto__.
  const checkOwn = key === '__proto__';
  return (node) => {
    if (Array.isArray(node)) return index >= 0 ? node[index] : undefined;
    const v = (node as Record<string, FieldValue>)[key];
    if (v === undefined || typeof v === 'function' || (checkOwn && !Object.hasOwn(node, key))) return undefined;
    return v;
  };
}

function fieldsGetter(names: readonly string[]): (e: LogEvent) => FieldValue | undefined {
  const n = names.length;
  if (n === 1) {
    const own = step(names[0]!);
    return (e) => orMissing(own(e.fields));
  }
  // steps[i][j]: the lookup of names i..j-1 joined by dots, made once here rather than per event.
  const steps: Step[][] = [];
  for (let i = 0; i < n; i++) {
    steps.push([]);
    for (let j = i + 1; j <= n; j++) steps[i]![j] = step(names.slice(i, j).join('.'));
  }
  return (e) => {
    let node: FieldValue | undefined = e.fields;
    let i = 0;
    while (i < n) {
      if (typeof node !== 'object' || node === null) return undefined;
      let next: FieldValue | undefined;
      let j = n;
      for (; j > i; j--) {
        next = steps[i]![j]!(node);
        if (next !== undefined) break;
      }
      if (next === undefined) return undefined;
      node = next;
      i = j;
    }
    return orMissing(node);
  };
}

/** A present value as text: strings as they are, numbers and booleans as JS prints them, objects and arrays as JSON. */
export function fieldText(v: FieldValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
