import { z } from 'zod';

/**
 * Option types shared by every component schema: sizes and durations may be written as
 * plain numbers (bytes, milliseconds) or with a unit ("64MiB", "500ms", "5s"), the way
 * Vector and Fluent Bit users write them.
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

function withUnit(units: Record<string, number>, what: string, example: string) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    if (typeof v === 'number') {
      if (Number.isFinite(v) && v >= 0) return v;
    } else {
      const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
      const factor = m ? (m[2] ? units[m[2].toLowerCase()] : 1) : undefined;
      if (m && factor !== undefined) return Math.round(Number(m[1]) * factor);
    }
    ctx.addIssue({ code: 'custom', message: `expected a ${what} such as ${example}, got ${JSON.stringify(v)}` });
    return z.NEVER;
  });
}

/** Bytes: 1048576, "1MiB", "64 MB". */
export const byteSize = () => withUnit(BYTE_UNITS, 'size', '1048576, "512KiB" or "64MiB"');
/** Milliseconds: 500, "500ms", "5s", "1h", "7d". */
export const duration = () => withUnit(DURATION_UNITS, 'duration', '500, "500ms", "5s" or "7d"');
