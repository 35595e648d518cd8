/**
 * `s.trim()` without the call when there is nothing to trim (the common case: a parsed
 * level or time), which the per-event paths would otherwise pay twice per event. Anything
 * other than printable ASCII at either end goes to trim(), so the result is always trim()'s.
 */
export function trimmed(s: string): string {
  const n = s.length;
  if (n === 0) return s;
  const a = s.charCodeAt(0);
  const b = s.charCodeAt(n - 1);
  return a > 0x20 && a < 0x7f && b > 0x20 && b < 0x7f ? s : s.trim();
}
