import { z } from 'zod';

/**
 * Reading option schemas, not values: which keys an object accepts, what its metadata
 * says (a secret, a renamed key), whether an option takes text. The config loader and the
 * secret redaction walk schemas the same way through this module.
 */

/** The parts of a zod definition this walk needs; zod's own types are a union per schema kind. */
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: readonly z.ZodType[];
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  getter?: () => z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
  values?: readonly unknown[];
}

function def(schema: z.ZodType): Def {
  return schema._zod.def as unknown as Def;
}

/**
 * The schema and every wrapper around it, outermost first: `.optional()`, `.default()`,
 * `.nullable()`, the input side of a `.pipe()` or `.transform()`, `z.lazy()`. Metadata may
 * sit on any of them (`secret(z.string()).optional()` puts it on the inner one).
 */
export function layers(schema: z.ZodType): z.ZodType[] {
  const out: z.ZodType[] = [];
  let cur: z.ZodType | undefined = schema;
  for (let i = 0; i < 20 && cur; i++) {
    out.push(cur);
    const d = def(cur);
    if (['optional', 'default', 'nullable', 'readonly', 'catch', 'prefault', 'nonoptional'].includes(d.type)) cur = d.innerType;
    else if (d.type === 'pipe') cur = d.in;
    else if (d.type === 'lazy') cur = d.getter?.();
    else break;
  }
  return out;
}

/** The innermost schema of `layers()`: the object, array, string... that holds the value. */
export function core(schema: z.ZodType): z.ZodType {
  return layers(schema).at(-1)!;
}

/** The metadata of a schema, merged over its wrappers (outer ones win). */
export function metaOf(schema: z.ZodType): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const layer of layers(schema).reverse()) Object.assign(merged, z.globalRegistry.get(layer) ?? {});
  return merged;
}

/**
 * The schemas a value one step below `schema` is checked against: the shape entry of an
 * object, the element of an array, the value of a record; for a union, that step in each
 * of its options that has it.
 */
export function childSchemas(schema: z.ZodType, step: PropertyKey): z.ZodType[] {
  const c = core(schema);
  const d = def(c);
  switch (d.type) {
    case 'object': {
      const s = d.shape?.[String(step)];
      return s ? [s] : [];
    }
    case 'array':
      return typeof step === 'number' && d.element ? [d.element] : [];
    case 'record':
      return d.valueType ? [d.valueType] : [];
    case 'union':
      return (d.options ?? []).flatMap((o) => childSchemas(o, step));
    case 'intersection':
      return [d.left, d.right].filter((s): s is z.ZodType => s !== undefined).flatMap((s) => childSchemas(s, step));
    default:
      return [];
  }
}

/**
 * Every schema a value at `path` may be checked against, with the schemas of the steps
 * above it (`trail`): metadata of an ancestor (a secret block) applies below it too.
 */
export function schemasAt(schema: z.ZodType, path: readonly PropertyKey[]): { found: z.ZodType[]; trail: z.ZodType[] } {
  let current = [schema];
  const trail: z.ZodType[] = [schema];
  for (const step of path) {
    current = current.flatMap((s) => childSchemas(s, step));
    trail.push(...current);
    if (current.length === 0) break;
  }
  return { found: current, trail };
}

/** The keys an object schema accepts (through its wrappers), sorted; empty when it is no object. */
export function objectKeys(schema: z.ZodType): string[] {
  const d = def(core(schema));
  return d.type === 'object' && d.shape ? Object.keys(d.shape).sort() : [];
}

/**
 * Whether the schema takes a string as its input: a YAML value written as text (or a
 * `${VAR}` substituted into it) stays text for it. Numbers and booleans are for the rest.
 */
export function acceptsString(schema: z.ZodType): boolean {
  const d = def(core(schema));
  switch (d.type) {
    case 'string':
    case 'template_literal':
      return true;
    case 'enum':
    case 'literal':
      return (d.values ?? Object.values((d as unknown as { entries?: Record<string, unknown> }).entries ?? {})).some(
        (v) => typeof v === 'string',
      );
    case 'union':
      return (d.options ?? []).some(acceptsString);
    default:
      return false;
  }
}
