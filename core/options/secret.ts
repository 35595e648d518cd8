import { z } from 'zod';
import { childSchemas, metaOf } from './introspect.js';

/**
 * Options whose values must never be shown: passwords, API keys, SASL credentials, tokens.
 * A schema says so once, where it is defined:
 *
 *   password: secret().optional().describe('...')
 *   sasl: secret(kafkaSaslOptions)          // a whole block
 *
 * The config loader then never prints the value in an error (it says "hidden: secret
 * option" instead, and scrubs the value out of any message), and `redactSecrets` gives a
 * copy of parsed options that is safe to log. A schema marked secret marks everything
 * under it.
 */
export const SECRET_META = 'secret';
export const REDACTED = '***';

export function secret(): z.ZodString;
export function secret<T extends z.ZodType>(schema: T): T;
export function secret(schema: z.ZodType = z.string()): z.ZodType {
  return schema.meta({ [SECRET_META]: true });
}

/** Whether this schema (or one of its wrappers) is marked secret. */
export function isSecret(schema: z.ZodType): boolean {
  return metaOf(schema)[SECRET_META] === true;
}

/**
 * Every secret value in `value`, checked against `schema`, as text (for scrubbing them out
 * of messages): the strings and numbers at secret options and under secret blocks.
 */
export function secretValues(schema: z.ZodType, value: unknown): string[] {
  const found = new Set<string>();
  walk(schema, value, false, (v) => found.add(v));
  return [...found];
}

/** A copy of `value` with every secret replaced by "***": for logging options. */
export function redactSecrets<T>(schema: z.ZodType, value: T): T {
  const copy = (s: z.ZodType | undefined, v: unknown, hidden: boolean): unknown => {
    const isHidden = hidden || (s !== undefined && isSecret(s));
    if (v === null || v === undefined) return v;
    if (typeof v !== 'object') return isHidden ? REDACTED : v;
    if (Array.isArray(v)) return v.map((item, i) => copy(firstChild(s, i), item, isHidden));
    return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, copy(firstChild(s, k), item, isHidden)]));
  };
  return copy(schema, value, false) as T;
}

function firstChild(schema: z.ZodType | undefined, step: PropertyKey): z.ZodType | undefined {
  return schema ? childSchemas(schema, step)[0] : undefined;
}

function walk(schema: z.ZodType | undefined, value: unknown, hidden: boolean, add: (v: string) => void): void {
  const isHidden = hidden || (schema !== undefined && isSecret(schema));
  if (value === null || value === undefined) return;
  if (typeof value !== 'object') {
    if (isHidden) add(String(value));
    return;
  }
  const entries: [PropertyKey, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [step, item] of entries) {
    const children = schema ? childSchemas(schema, step) : [];
    if (children.length === 0) walk(undefined, item, isHidden, add);
    for (const child of children) walk(child, item, isHidden, add);
  }
}
