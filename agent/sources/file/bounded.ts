import { charBoundary } from './lines.js';

/**
 * What a pattern from the config is run on: the first `maxBytes` bytes (UTF-8) of a line or
 * path. A backtracking regular expression can take time quadratic (or worse) in its input;
 * bounding the input bounds the time, whatever the pattern and whatever the log contains.
 * Patterns anchored at the end (`$`) see the cut as the end of a long line.
 */
export function matchable(text: string, maxBytes: number): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short texts are never cut (the common case, no work).
  if (text.length * 3 <= maxBytes) return text;
  const head = text.length > maxBytes ? text.slice(0, maxBytes) : text;
  const bytes = Buffer.from(head);
  if (bytes.length <= maxBytes) return head;
  return bytes.toString('utf8', 0, charBoundary(bytes, 0, maxBytes));
}
