import type { LogEvent } from '../../core/event.js';
import { type Level, levelOfNumber, levelOfWord, SYSLOG_SEVERITY } from './normalize.js';

/**
 * Finds the severity a log line states, from the common forms, looking only at the head of
 * the line (HEAD_CHARS; JSON_HEAD_CHARS for JSON), so the cost per event is bounded
 * whatever the line's length:
 *
 * - syslog `<PRI>` at the start: severity = PRI & 7 (`<11>` is err, `<134>` info);
 * - a JSON object: the first `"level"`, `"lvl"`, `"severity"`, `"loglevel"`, `"log.level"`,
 *   `"levelname"`, `"log_level"` or `"@l"` key with a string value or a pino number;
 * - klog / glog (Kubernetes components): `I0102 15:04:05.000000 …` (I, W, E, F);
 * - .NET's console logger: `info: …`, `warn: …`, `fail: …`, `crit: …` at the start;
 * - a level word standing alone: upper case anywhere in the head (log4j, logback, Python,
 *   Go's zap and zerolog, logrus `ERRO[0001]`, Ruby, `2024-… INFO [main] …`); lower or mixed
 *   case only where a level is written, `[error]` / `[core:error]` (Apache, nginx),
 *   `<warn>`, `(info)`, or after `level=`, `lvl=`, `severity=` (logfmt, slog).
 *
 * Lower-case words elsewhere are prose ("connection error"), not levels. When nothing
 * names a level, a line written to stderr (container logs: `source.stream`, or a
 * `stream` field) is taken as an error, as Datadog's agent does; otherwise the level stays
 * unknown. Only the six levels of normalize.ts come out of here.
 */
export const HEAD_CHARS = 200;
export const JSON_HEAD_CHARS = 1024;

export function detectLevel(event: LogEvent): Level | undefined {
  const found = levelInText(event.message);
  if (found) return found;
  const stream = event.source.stream ?? event.fields.stream;
  return stream === 'stderr' ? 'error' : undefined;
}

/** Sets `level` on every event that has none yet. */
export function detectLevels(events: readonly LogEvent[]): void {
  for (const e of events) {
    if (e.level !== undefined) continue;
    const level = detectLevel(e);
    if (level !== undefined) e.level = level;
  }
}

export function levelInText(text: string): Level | undefined {
  if (text.length === 0) return undefined;
  const c0 = text.charCodeAt(0);
  if (c0 === 0x3c /* < */) {
    const syslog = syslogSeverity(text);
    if (syslog) return syslog;
  } else if (c0 === 0x7b /* { */) {
    const json = jsonLevel(text);
    if (json) return json;
  } else if ((c0 === 0x49 || c0 === 0x57 || c0 === 0x45 || c0 === 0x46) && isKlog(text)) {
    return c0 === 0x49 ? 'info' : c0 === 0x57 ? 'warn' : c0 === 0x45 ? 'error' : 'fatal';
  }
  return wordLevel(text);
}

function syslogSeverity(text: string): Level | undefined {
  let pri = 0;
  let i = 1;
  for (; i < 5 && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3e /* > */) break;
    if (c < 0x30 || c > 0x39) return undefined;
    pri = pri * 10 + (c - 0x30);
  }
  if (i === 1 || text.charCodeAt(i) !== 0x3e || pri > 191) return undefined;
  return SYSLOG_SEVERITY[pri & 7];
}

const JSON_KEYS = ['"level"', '"lvl"', '"severity"', '"loglevel"', '"log.level"', '"levelname"', '"log_level"', '"@l"'];

function jsonLevel(text: string): Level | undefined {
  const head = text.length > JSON_HEAD_CHARS ? text.slice(0, JSON_HEAD_CHARS) : text;
  for (const key of JSON_KEYS) {
    let at = head.indexOf(key);
    if (at < 0) continue;
    at += key.length;
    while (at < head.length && isSpace(head.charCodeAt(at))) at++;
    if (head.charCodeAt(at) !== 0x3a /* : */) continue;
    at++;
    while (at < head.length && isSpace(head.charCodeAt(at))) at++;
    const c = head.charCodeAt(at);
    if (c === 0x22 /* " */) {
      const end = head.indexOf('"', at + 1);
      if (end < 0 || end - at > 16) continue;
      const level = levelOfWord(head.slice(at + 1, end));
      if (level) return level;
    } else if (c >= 0x30 && c <= 0x39) {
      let end = at;
      while (end < head.length && isDigit(head.charCodeAt(end))) end++;
      const level = levelOfNumber(Number(head.slice(at, end)));
      if (level) return level;
    }
  }
  return undefined;
}

/** `I0102 15:04:05` — a klog header: letter, MMDD, space, hh:. */
function isKlog(text: string): boolean {
  if (text.length < 9) return false;
  for (let i = 1; i <= 4; i++) if (!isDigit(text.charCodeAt(i))) return false;
  return text.charCodeAt(5) === 0x20 && isDigit(text.charCodeAt(6)) && isDigit(text.charCodeAt(7)) && text.charCodeAt(8) === 0x3a;
}

function wordLevel(text: string): Level | undefined {
  const n = Math.min(text.length, HEAD_CHARS);
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (!isLetter(c)) {
      i++;
      continue;
    }
    const start = i;
    let upper = isUpper(c);
    let allUpper = upper;
    while (i < text.length && isLetter(text.charCodeAt(i))) {
      upper = isUpper(text.charCodeAt(i));
      if (!upper) allUpper = false;
      i++;
    }
    const len = i - start;
    if (len < 3 || len > 13) continue;
    const before = start === 0 ? -1 : text.charCodeAt(start - 1);
    const after = i >= text.length ? -1 : text.charCodeAt(i);
    // Letters glued to digits or underscores are identifiers (INFO2, ERROR_CODE), not levels.
    if (isWordChar(before) || isWordChar(after)) continue;
    if (allUpper) {
      if (!opensLevel(before) || !closesLevel(after)) continue;
    } else if (!levelPlace(text, start, before, after)) continue;
    const level = levelOfWord(text.slice(start, i));
    if (level) return level;
  }
  return undefined;
}

/** Where a lower- or mixed-case word is a level: `[error]`, `[core:error]`, `<warn>`, `level=info`, `info:` first. */
function levelPlace(text: string, start: number, before: number, after: number): boolean {
  if ((before === 0x5b || before === 0x3a) && after === 0x5d) return true; // [error] [core:error]
  if ((before === 0x3c && after === 0x3e) || (before === 0x28 && after === 0x29)) return true; // <warn> (info)
  if (start === 0) return after === 0x3a; // "info: Microsoft.Hosting…"
  if (before === 0x3d || (before === 0x22 && text.charCodeAt(start - 2) === 0x3d)) {
    const eq = before === 0x3d ? start - 1 : start - 2;
    return keyBefore(text, eq);
  }
  return false;
}

/** Whether the key ending at `eq` (the `=`) is level, lvl, severity or loglevel. */
function keyBefore(text: string, eq: number): boolean {
  let k = eq;
  while (k > 0 && isLetter(text.charCodeAt(k - 1))) k--;
  if (k > 0 && isWordChar(text.charCodeAt(k - 1)) && text.charCodeAt(k - 1) !== 0x5f) return false;
  const key = text.slice(k, eq).toLowerCase();
  return key === 'level' || key === 'lvl' || key === 'severity' || key === 'loglevel';
}

/** Characters that may stand right before an upper-case level word. */
function opensLevel(c: number): boolean {
  // start, space, tab, [ ( < | " ' : - = ,
  return (
    c === -1 ||
    c === 0x20 ||
    c === 0x09 ||
    c === 0x5b ||
    c === 0x28 ||
    c === 0x3c ||
    c === 0x7c ||
    c === 0x22 ||
    c === 0x27 ||
    c === 0x3a ||
    c === 0x2d ||
    c === 0x3d ||
    c === 0x2c
  );
}

/** Characters that may stand right after an upper-case level word. */
function closesLevel(c: number): boolean {
  // end, space, tab, ] ) > | " ' : , [ (logrus ERRO[0001]) -
  return (
    c === -1 ||
    c === 0x20 ||
    c === 0x09 ||
    c === 0x5d ||
    c === 0x29 ||
    c === 0x3e ||
    c === 0x7c ||
    c === 0x22 ||
    c === 0x27 ||
    c === 0x3a ||
    c === 0x2c ||
    c === 0x5b ||
    c === 0x2d
  );
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
function isUpper(c: number): boolean {
  return c >= 0x41 && c <= 0x5a;
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isWordChar(c: number): boolean {
  return isDigit(c) || c === 0x5f;
}
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
