/**
 * logfmt and key=value text, scanned once left to right (linear in the input, no regex).
 *
 * logfmt (Heroku, Go's slog and logrus, Grafana):  `level=info msg="user logged in" id=42 admin`
 *   pairs separated by spaces; values bare or double-quoted with `\"` and `\\` escapes; a
 *   key without `=` stands alone and is `true`.
 *
 * key_value: the same with configurable separators, e.g. `user: bob, role: admin` with
 *   field_separator ", " and value_separator ":"; values may be quoted with " or '.
 *   Runs of the field separator count as one, and whitespace around keys and values is
 *   trimmed. A piece without the value separator is a standalone key (true) when
 *   `standalone_keys` allows it and is skipped otherwise.
 */
export interface KeyValueOptions {
  fieldSeparator: string;
  valueSeparator: string;
  standaloneKeys: boolean;
  /** Values may be quoted with ' as well as " (logfmt knows only "). */
  singleQuotes: boolean;
}

export const LOGFMT: KeyValueOptions = { fieldSeparator: ' ', valueSeparator: '=', standaloneKeys: true, singleQuotes: false };

/** The pairs found, in order (a repeated key keeps its last value); `pairs` counts those with a value separator. */
export function parseKeyValue(text: string, o: KeyValueOptions): { values: Record<string, string | boolean>; pairs: number } {
  const values: Record<string, string | boolean> = {};
  const fs = o.fieldSeparator;
  const vs = o.valueSeparator;
  const spaceSeparated = fs.trim() === '';
  let pairs = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    // Skip separators and surrounding whitespace.
    while (i < n && (text.startsWith(fs, i) || isWhite(text.charCodeAt(i)))) i += text.startsWith(fs, i) ? fs.length : 1;
    if (i >= n) break;
    const keyStart = i;
    let keyEnd = -1;
    // The key runs to the value separator, the field separator, or (space-separated) whitespace.
    while (i < n) {
      if (text.startsWith(vs, i)) {
        keyEnd = i;
        break;
      }
      if (text.startsWith(fs, i) || (spaceSeparated && isWhite(text.charCodeAt(i)))) break;
      i++;
    }
    if (keyEnd < 0) {
      const key = text.slice(keyStart, i).trim();
      if (key && o.standaloneKeys) values[key] = true;
      continue;
    }
    const key = text.slice(keyStart, keyEnd).trim();
    i = keyEnd + vs.length;
    if (!spaceSeparated) while (i < n && isWhite(text.charCodeAt(i))) i++;
    let value: string;
    const q = text.charCodeAt(i);
    if (q === 0x22 || (q === 0x27 && o.singleQuotes)) {
      const quoted = readQuoted(text, i, q);
      value = quoted.value;
      i = quoted.end;
    } else {
      const start = i;
      while (i < n && !text.startsWith(fs, i) && !(spaceSeparated && isWhite(text.charCodeAt(i)))) i++;
      value = text.slice(start, i).trim();
    }
    if (key) {
      values[key] = value;
      pairs++;
    }
  }
  return { values, pairs };
}

/** A quoted value starting at `start` (the quote); an unclosed quote takes the rest of the text. */
function readQuoted(text: string, start: number, quote: number): { value: string; end: number } {
  let out = '';
  let i = start + 1;
  let from = i;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */ && i + 1 < text.length) {
      out += text.slice(from, i);
      const next = text[i + 1]!;
      out += next === 'n' ? '\n' : next === 't' ? '\t' : next;
      i += 2;
      from = i;
      continue;
    }
    if (c === quote) return { value: out + text.slice(from, i), end: i + 1 };
    i++;
  }
  return { value: out + text.slice(from), end: text.length };
}

function isWhite(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
