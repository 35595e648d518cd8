import type { z } from 'zod';

/**
 * Options that were renamed: the config loader's "unknown key" report says what the key is
 * called now, where an edit-distance guess cannot (`batch_max_events` -> `batch.max_events`
 * is too far for "did you mean"). The map sits beside the object schema it belongs to:
 *
 *   export const options = renamed(z.strictObject({...}), { batch_max_events: '"batch.max_events"' });
 *
 * The value is the replacement as the message shows it after "use".
 */
const renames = new WeakMap<z.ZodType, Readonly<Record<string, string>>>();

export function renamed<T extends z.ZodType>(schema: T, map: Readonly<Record<string, string>>): T {
  renames.set(schema, { ...renames.get(schema), ...map });
  return schema;
}

/** What `key` of the object schema is called now, if it was renamed. */
export function renamedTo(schema: z.ZodType | undefined, key: string): string | undefined {
  return schema ? renames.get(schema)?.[key] : undefined;
}
