import type { FieldValue } from '../core/event.js';
import { ZonedClock } from '../core/template.js';
import { trimmed } from './trim.js';

/**
 * Reading an event time out of a parsed value. Formats:
 *
 * - `auto`: ISO 8601 / RFC 3339 (`2024-03-01T12:00:00.123Z`, `2024-03-01 12:00:00,123`),
 *   `2024/03/01 12:00:00` (nginx), the common log format `01/Mar/2024:12:00:00 +0100`,
 *   syslog `Mar  1 12:00:00` (the year is the one that puts it closest to `now`), Apache's
 *   `Fri Mar 01 12:00:00.123 2024`, and epoch numbers (seconds, or milliseconds from 13
 *   digits on);
 * - `unix`, `unix_ms`, `unix_us`, `unix_ns`: a number (or digits) since the epoch;
 * - a strftime-style layout: `%Y %m %d %H %M %S` and `%y` (two-digit year), `%b` (Jan),
 *   `%e` (day, space-padded), `%f` (fraction digits), `%z` (Z, +01:00 or +0100), `%a` (day
 *   name, ignored), `%T` = `%H:%M:%S`, `%F` = `%Y-%m-%d`, `%%`.
 *
 * A time without a zone is read in `timezone` (an IANA name, default UTC). Every format is a
 * hand-written scan: linear, no regex, nothing allocated but the result.
 */
export type TimeFormat = 'auto' | 'unix' | 'unix_ms' | 'unix_us' | 'unix_ns' | string;

export type TimeParser = (value: FieldValue | undefined, now: number) => number | undefined;

const LAYOUT_TOKENS = new Set(['Y', 'y', 'm', 'd', 'e', 'H', 'M', 'S', 'f', 'z', 'b', 'a', 'T', 'F', '%']);

/** The problem with a layout, for a config error; undefined when it is usable. */
export function timeFormatProblem(format: string): string | undefined {
  if (format === 'auto' || format.startsWith('unix')) {
    return ['auto', 'unix', 'unix_ms', 'unix_us', 'unix_ns'].includes(format)
      ? undefined
      : `unknown time format "${format}" (use auto, unix, unix_ms, unix_us, unix_ns or a layout such as "%Y-%m-%d %H:%M:%S")`;
  }
  if (!format.includes('%')) return `time layout "${format}" has no %-token (such as %Y-%m-%dT%H:%M:%S%z)`;
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== '%') continue;
    const t = format[i + 1];
    if (t === undefined || !LAYOUT_TOKENS.has(t))
      return `time layout "${format}": unknown token "%${t ?? ''}" at character ${i + 1} (known: ${[...LAYOUT_TOKENS].map((k) => `%${k}`).join(' ')})`;
    i++;
  }
  return undefined;
}

export function timeParser(format: TimeFormat, timezone: string): TimeParser {
  const clock = new ZonedClock(timezone);
  switch (format) {
    case 'auto':
      return (v, now) => (typeof v === 'number' ? epochAuto(v) : typeof v === 'string' ? parseAuto(v, clock, now) : undefined);
    case 'unix':
      return (v) => epoch(v, 1000);
    case 'unix_ms':
      return (v) => epoch(v, 1);
    case 'unix_us':
      return (v) => epoch(v, 0.001);
    case 'unix_ns':
      return (v) => epoch(v, 0.000001);
    default: {
      const layout = format.replaceAll('%T', '%H:%M:%S').replaceAll('%F', '%Y-%m-%d');
      return (v, now) => (typeof v === 'string' ? parseLayout(v, layout, clock, now) : undefined);
    }
  }
}

function epoch(v: FieldValue | undefined, factor: number): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? Math.round(n * factor) : undefined;
}

/** Seconds below 1e11 (until the year 5138), milliseconds above. */
function epochAuto(n: number): number | undefined {
  if (!Number.isFinite(n) || n < 0) return undefined;
  return Math.round(n < 1e11 ? n * 1000 : n);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** The fields a parse fills, by index in Parts.fields. */
enum Part {
  Year,
  Month,
  Day,
  Hour,
  Minute,
  Second,
}

interface Parts {
  /** By Part: year (NaN: none given), month 1-12, day, hour, minute, second. */
  fields: number[];
  ms: number;
  /** Minutes east of UTC; undefined: none given (read in the configured zone). */
  offset: number | undefined;
}

function newParts(): Parts {
  return { fields: [Number.NaN, 1, 1, 0, 0, 0], ms: 0, offset: undefined };
}

const EPOCH = /^\d+(\.\d+)?$/;

function parseAuto(text: string, clock: ZonedClock, now: number): number | undefined {
  const s = trimmed(text);
  if (s.length === 0) return undefined;
  const c0 = s.charCodeAt(0);
  if (isDigit(c0)) {
    // ISO first: the common case, told by one character (a digit string has none at [4]).
    if (s.length >= 10 && (s[4] === '-' || s[4] === '/')) return parseIso(s, clock);
    if (s.length >= 9 && EPOCH.test(s)) return epochAuto(Number(s));
    if (s[2] === '/' && isLetter(s.charCodeAt(3))) return parseLayout(s, '%d/%b/%Y:%H:%M:%S %z', clock, now);
    return undefined;
  }
  if (isLetter(c0)) {
    if (isLetter(s.charCodeAt(4)))
      return parseLayout(s, '%a %b %e %H:%M:%S %Y', clock, now) ?? parseLayout(s, '%a %b %e %H:%M:%S.%f %Y', clock, now);
    return parseLayout(s, '%b %e %H:%M:%S', clock, now) ?? parseLayout(s, '%b %e %H:%M:%S.%f', clock, now);
  }
  return undefined;
}

/**
 * `YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|±HH[:MM]]`, `-` or `/` between the date parts, `.` or `,`
 * before the fraction. The common time of JSON logs: read into locals, not a Parts object
 * per event.
 */
function parseIso(s: string, clock: ZonedClock): number | undefined {
  const year = num(s, 0, 4, 4);
  if (year === undefined) return undefined;
  const sep = s.charCodeAt(4);
  const month = num(s, 5, 2, 2);
  let i = numEnd;
  if (month === undefined || s.charCodeAt(i) !== sep) return undefined;
  const day = num(s, i + 1, 2, 2);
  i = numEnd;
  if (day === undefined) return undefined;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let ms = 0;
  let offset: number | undefined;
  if (i < s.length) {
    const t = s.charCodeAt(i);
    if (t !== 0x54 /* T */ && t !== 0x20) return undefined;
    const h = num(s, i + 1, 2, 2);
    i = numEnd;
    if (h === undefined || s.charCodeAt(i) !== 0x3a /* : */) return undefined;
    hour = h;
    const m = num(s, i + 1, 2, 2);
    i = numEnd;
    if (m === undefined) return undefined;
    minute = m;
    if (s.charCodeAt(i) === 0x3a) {
      const sec = num(s, i + 1, 2, 2);
      i = numEnd;
      if (sec === undefined) return undefined;
      second = sec;
      const f = s.charCodeAt(i);
      if (f === 0x2e /* . */ || f === 0x2c /* , */) {
        const start = ++i;
        while (i < s.length && isDigit(s.charCodeAt(i))) i++;
        if (i === start) return undefined;
        ms = millis(s, start, i);
      }
    }
    if (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x5a /* Z */ || c === 0x7a /* z */) {
        if (i + 1 !== s.length) return undefined;
        offset = 0;
      } else {
        const zone = zoneAt(s, i);
        if (!zone || zone.end !== s.length) return undefined;
        offset = zone.offset;
      }
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  return wallToEpoch(utc(year, month, day, hour, minute, second, ms), offset, clock);
}

/** A numeric layout token: the part it sets, how many digits it reads, what it adds (`%y`: 2000). */
interface NumericToken {
  part: Part;
  min: number;
  max: number;
  add: number;
  /** `%e`: leading spaces pad the day ("Mar  1"). */
  spaces: boolean;
}

/** By the token's character code: an array lookup, as a layout is scanned on every parse. */
const NUMERIC_TOKENS: (NumericToken | undefined)[] = [];
for (const [t, part, min, max, add, spaces] of [
  ['Y', Part.Year, 4, 4, 0, false],
  ['y', Part.Year, 2, 2, 2000, false],
  ['m', Part.Month, 1, 2, 0, false],
  ['d', Part.Day, 1, 2, 0, false],
  ['e', Part.Day, 1, 2, 0, true],
  ['H', Part.Hour, 1, 2, 0, false],
  ['M', Part.Minute, 2, 2, 0, false],
  ['S', Part.Second, 2, 2, 0, false],
] as const)
  NUMERIC_TOKENS[t.charCodeAt(0)] = { part, min, max, add, spaces };

/** Reads `text` by a strftime-style `layout`; the whole text must be consumed. */
function parseLayout(text: string, layout: string, clock: ZonedClock, now: number): number | undefined {
  const p = newParts();
  let i = 0;
  for (let j = 0; j < layout.length; j++) {
    const lc = layout[j]!;
    if (lc !== '%') {
      if (lc === ' ') {
        // One space in a layout takes a run of them ("Mar  1").
        if (text[i] !== ' ') return undefined;
        while (text[i] === ' ') i++;
      } else if (text[i++] !== lc) return undefined;
      continue;
    }
    const t = layout[++j]!;
    const token = NUMERIC_TOKENS[layout.charCodeAt(j)];
    if (token) {
      if (token.spaces) while (text[i] === ' ') i++;
      const n = num(text, i, token.min, token.max);
      if (n === undefined) return undefined;
      i = numEnd;
      p.fields[token.part] = token.add + n;
      continue;
    }
    switch (t) {
      case 'f': {
        const start = i;
        while (i < text.length && isDigit(text.charCodeAt(i))) i++;
        if (i === start) return undefined;
        p.ms = millis(text, start, i);
        break;
      }
      case 'z': {
        const zone = zoneAt(text, i);
        if (!zone) return undefined;
        p.offset = zone.offset;
        i = zone.end;
        break;
      }
      case 'b': {
        const m = MONTHS.indexOf(text.slice(i, i + 3).toLowerCase());
        if (m < 0) return undefined;
        p.fields[Part.Month] = m + 1;
        i += 3;
        while (i < text.length && isLetter(text.charCodeAt(i))) i++;
        break;
      }
      case 'a':
        while (i < text.length && isLetter(text.charCodeAt(i))) i++;
        break;
      case '%':
        if (text[i++] !== '%') return undefined;
        break;
    }
  }
  if (i !== text.length || !valid(p)) return undefined;
  const year = p.fields[Part.Year]!;
  return Number.isNaN(year) ? closestYear(p, clock, now) : toEpoch(p, year, clock);
}

function valid(p: Parts): boolean {
  const [, month, day, hour, minute, second] = p.fields as [number, number, number, number, number, number];
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 && second <= 60;
}

function toEpoch(p: Parts, year: number, clock: ZonedClock): number {
  const f = p.fields;
  return wallToEpoch(utc(year, f[Part.Month]!, f[Part.Day]!, f[Part.Hour]!, f[Part.Minute]!, f[Part.Second]!, p.ms), p.offset, clock);
}

/** A wall-clock time (as if UTC) at `offset` minutes east, or in the clock's zone when none was given. */
function wallToEpoch(wall: number, offset: number | undefined, clock: ZonedClock): number {
  if (offset !== undefined) return wall - offset * 60_000;
  // Local wall time to UTC: the offset at the guess, corrected once for a DST boundary.
  const guess = wall - clock.offset(wall);
  return wall - clock.offset(guess);
}

/**
 * Date.UTC for the fields a parse leaves (month 1-12, day 1-31, hour 0-23, minute 0-59,
 * second 0-60, ms 0-999): the days counted in JavaScript (H. Hinnant's days_from_civil), as
 * the call into Date.UTC cost more than the rest of a time's parse. A day past the month's
 * end rolls over as in Date.UTC. Years below 100 go to Date.UTC, which reads them as 19xx.
 */
export function utc(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number): number {
  if (year < 100) return Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const days = era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
  return days * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms;
}

/** Syslog times carry no year: the one that puts the time closest to now (December lines read in January). */
function closestYear(p: Parts, clock: ZonedClock, now: number): number {
  const year = new Date(now).getUTCFullYear();
  let best = toEpoch(p, year, clock);
  for (const y of [year - 1, year + 1]) {
    const t = toEpoch(p, y, clock);
    if (Math.abs(t - now) < Math.abs(best - now)) best = t;
  }
  return best;
}

function zoneAt(text: string, i: number): { offset: number; end: number } | undefined {
  const c = text[i];
  if (c === 'Z' || c === 'z') return { offset: 0, end: i + 1 };
  if (c !== '+' && c !== '-') return undefined;
  const sign = c === '-' ? -1 : 1;
  const h = num(text, i + 1, 2, 2);
  if (h === undefined) return undefined;
  const a = numEnd;
  let end = a;
  if (text[end] === ':') end++;
  const m = num(text, end, 2, 2);
  if (m === undefined) return end === a ? { offset: sign * h * 60, end: a } : undefined;
  return { offset: sign * (h * 60 + m), end: numEnd };
}

/** Where the last num() stopped: module state instead of a tuple per call, which the hot path would allocate. */
let numEnd = 0;

/** The number of min..max digits at text[i]; undefined when fewer than min. Sets numEnd. */
function num(text: string, i: number, min: number, max: number): number | undefined {
  let n = 0;
  let k = 0;
  while (k < max && i + k < text.length && isDigit(text.charCodeAt(i + k))) n = n * 10 + (text.charCodeAt(i + k++) - 0x30);
  numEnd = k < min ? i : i + k;
  return k < min ? undefined : n;
}

/** Milliseconds of the fraction digits text[start, end), truncated (".1239" is 123 ms). */
function millis(text: string, start: number, end: number): number {
  let ms = 0;
  for (let k = 0; k < 3; k++) ms = ms * 10 + (start + k < end ? text.charCodeAt(start + k) - 0x30 : 0);
  return ms;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
