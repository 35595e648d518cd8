import { z } from 'zod';

/**
 * Option types shared by every component schema: sizes and durations are written with a
 * unit ("64MiB", "500ms", "5s", "7d"), the way Vector and Fluent Bit users write them. A
 * bare number is refused (only 0 needs no unit): `roll_age: 3600` read as 3.6 s, or
 * `roll_size: 128` read as 128 bytes, is a mistake nobody should have to debug.
 */
const BYTE_UNITS: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
};
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

const WITH_UNIT = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/;

/** Parses "64MiB" / "5s" with the given units; undefined when it is not one. Bare numbers are not. */
export function parseWithUnit(text: string, units: Record<string, number>): number | undefined {
  const m = WITH_UNIT.exec(text);
  if (!m) return undefined;
  if (!m[2]) return Number(m[1]) === 0 ? 0 : undefined;
  const factor = units[m[2].toLowerCase()];
  return factor === undefined ? undefined : Math.round(Number(m[1]) * factor);
}

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
