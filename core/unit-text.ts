/**
 * Sizes and durations written with a unit, read without zod: the launcher (bin/sluice.ts)
 * reads `memory_limit` before Node's heap is sized, and loads as little as it can.
 */
export const BYTE_UNITS: Record<string, number> = {
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
export const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

export const WITH_UNIT = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/;

/** Parses "64MiB" / "5s" with the given units; undefined when it is not one. Bare numbers are not. */
export function parseWithUnit(text: string, units: Record<string, number>): number | undefined {
  const m = WITH_UNIT.exec(text);
  if (!m) return undefined;
  if (!m[2]) return Number(m[1]) === 0 ? 0 : undefined;
  const factor = units[m[2].toLowerCase()];
  return factor === undefined ? undefined : Math.round(Number(m[1]) * factor);
}

/** Bytes from "64MiB" / "512KiB" / 0; undefined when it is not a size with a unit. */
export function parseByteSize(text: string): number | undefined {
  return parseWithUnit(text, BYTE_UNITS);
}

/**
 * A whole number with thousands separators ("1,234,567"), rounded. Not toLocaleString: the
 * first locale-aware call of a process pages in ICU's data, about 7 MiB of RSS that a sidecar
 * pays for as long as it runs.
 */
export function formatCount(n: number): string {
  const digits = String(Math.abs(Math.round(n)));
  const grouped = digits.replace(/\B(?=(\d{3})+$)/g, ',');
  return n < 0 && grouped !== '0' ? `-${grouped}` : grouped;
}
