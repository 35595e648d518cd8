import { z } from 'zod';
import { BYTE_UNITS, DURATION_UNITS, parseWithUnit, WITH_UNIT } from './unit-text.js';

export { parseByteSize, parseWithUnit } from './unit-text.js';

/**
 * Option types shared by every component schema: sizes and durations are written with a
 * unit ("64MiB", "500ms", "5s", "7d"), the way Vector and Fluent Bit users write them. A
 * bare number is refused (only 0 needs no unit): `roll_age: 3600` read as 3.6 s, or
 * `roll_size: 128` read as 128 bytes, is a mistake nobody should have to debug.
 */
function withUnit(units: Record<string, number>, what: string, example: string, guess: (n: number) => string) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    if (v === 0) return 0;
    if (typeof v === 'string') {
      const parsed = parseWithUnit(v, units);
      if (parsed !== undefined) return parsed;
    }
    const bare = typeof v === 'number' ? v : WITH_UNIT.exec(v)?.[2] === '' ? Number(v) : undefined;
    const hint = bare !== undefined && Number.isFinite(bare) && bare >= 0 ? ` (a ${what} needs a unit: did you mean ${guess(bare)}?)` : '';
    ctx.addIssue({ code: 'custom', message: `expected a ${what} such as ${example}, got ${JSON.stringify(v)}${hint}` });
    return z.NEVER;
  });
}

/** Bytes: "1MiB", "512KiB", "64 MB", or 0. */
export const byteSize = () => withUnit(BYTE_UNITS, 'size', '"512KiB" or "64MiB"', (n) => `"${n}B" or "${n}MiB"`);
/** Milliseconds: "500ms", "5s", "1h", "7d", or 0. */
export const duration = () => withUnit(DURATION_UNITS, 'duration', '"500ms", "5s" or "7d"', (n) => `"${n}s" or "${n}ms"`);

/** A duration given on the command line (`--since 15m`); throws an Error with the same words as the config. */
export function parseDuration(text: string, what: string): number {
  const ms = parseWithUnit(text, DURATION_UNITS);
  if (ms === undefined) {
    const bare = WITH_UNIT.exec(text)?.[2] === '';
    throw new Error(
      `${what}: expected a duration such as "500ms", "15m" or "7d", got ${JSON.stringify(text)}${bare ? ` (did you mean "${text}m" or "${text}s"?)` : ''}`,
    );
  }
  return ms;
}
