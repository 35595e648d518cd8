import type { z } from 'zod';
import { metaOf, objectKeys, schemasAt } from '../core/options/introspect.js';
import { isSecret } from '../core/options/secret.js';
import { closest } from './suggest.js';

/**
 * Zod's issues in the words of a config file: where (the loader turns the key path into
 * file:line:col), what was expected and what was written, "did you mean" for misspelt keys,
 * "X was renamed: use Y" for old spellings, and never the value of a secret option.
 *
 * A component declares its old spellings on the object schema that used to hold them:
 *
 *   z.strictObject({ tls: tlsOptions, ... }).meta({ renamed: { tls_verify: 'tls.verify' } })
 */
export type At = (path: readonly PropertyKey[], message: string, where?: 'key' | 'value') => void;

export const RENAMED_META = 'renamed';
const HIDDEN = 'a value (hidden: secret option)';

export function reportZodIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[],
  data: unknown,
  schema: z.ZodType,
  at: At,
  skip: (path: readonly PropertyKey[], issue: z.core.$ZodIssue) => boolean = () => false,
): number {
  let reported = 0;
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (skip(path, issue)) continue;
    reported++;
    const secret = isSecretAt(schema, issue.path);
    const describe = (v: unknown) => (secret ? HIDDEN : describeValue(v));
    if (issue.code === 'unrecognized_keys') {
      const objects = schemasAt(schema, issue.path).found;
      const allowed = [...new Set(objects.flatMap(objectKeys))].sort();
      const renamed = Object.assign({}, ...objects.map((o) => metaOf(o)[RENAMED_META] ?? {})) as Record<string, string>;
      for (const key of issue.keys) {
        const to = renamed[key];
        if (to !== undefined) {
          at([...path, key], `${key} was renamed: use ${to}`, 'key');
          continue;
        }
        const hint = closest(key, allowed);
        at(
          [...path, key],
          `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}${allowed.length ? `; allowed: ${allowed.join(', ')}` : ''}`,
          'key',
        );
      }
    } else if (issue.code === 'invalid_type') {
      const value = valueAt(data, issue.path);
      if (value === undefined) at(path, `missing required option "${String(issue.path.at(-1))}" (expected ${issue.expected})`);
      else at(path, `expected ${issue.expected}, got ${describe(value)}`);
    } else if (issue.code === 'invalid_union') {
      // Unions here are "number or string with a unit", "one or a list": the custom issue
      // underneath says it best.
      const inner = issue.errors.flat().find((i) => i.code === 'custom');
      at(path, inner?.message ?? `expected ${describeUnion(issue)}, got ${describe(valueAt(data, issue.path))}`);
    } else if (issue.code === 'invalid_value') {
      at(
        path,
        `expected ${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`}, got ${describe(valueAt(data, issue.path))}`,
      );
    } else {
      at(path, issue.message);
    }
  }
  return reported;
}

/** Whether the option at `path`, or a block above it, is a secret. */
export function isSecretAt(schema: z.ZodType, path: readonly PropertyKey[]): boolean {
  return schemasAt(schema, path).trail.some(isSecret);
}

function describeUnion(issue: z.core.$ZodIssueInvalidUnion): string {
  const expected = new Set(issue.errors.flat().flatMap((i) => (i.code === 'invalid_type' ? [i.expected] : [])));
  return [...expected].join(' or ') || 'another value';
}

export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const step of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[step];
  }
  return cur;
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}
