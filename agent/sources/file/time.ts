import { isValidEventTime } from '../../../core/event.js';
import { headBytes } from '../../../core/template.js';
import type { TimestampOptions } from './options.js';

// The event time of a line, parsed by `timestamp:`; which times are usable is core's
// (isValidEventTime), shared with the wire decoder.

/** How long a text kept in `log.time_invalid` may be. */
const RAW_KEPT = 64;

/**
 * Reads the event time of a line: undefined when the pattern does not match (the line has
 * no time: the read time is used), NaN when it matched a text that is no usable time
 * (`invalidText` then holds that text, for `fields["log.time_invalid"]`).
 */
export class TimeParser {
  private readonly regex: RegExp;
  invalidText = '';

  constructor(
    private readonly options: TimestampOptions,
    private readonly maxMatchBytes: number,
    where: string,
  ) {
    try {
      this.regex = new RegExp(options.pattern);
    } catch (err) {
      throw new Error(`${where}: timestamp.pattern is not a valid regular expression: ${(err as Error).message}`);
    }
  }

  parse(line: string): number | undefined {
    const m = this.regex.exec(headBytes(line, this.maxMatchBytes));
    if (!m) return undefined;
    const text = m.groups?.time ?? m[1] ?? m[0];
    const format = this.options.format;
    let t: number | undefined;
    if (format === 'epoch_s' || format === 'epoch_ms') {
      const n = text.trim() === '' ? Number.NaN : Number(text);
      t = Math.round(format === 'epoch_s' ? n * 1000 : n);
    } else t = parseTime(text);
    if (t !== undefined && isValidEventTime(t)) return t;
    this.invalidText = text.length > RAW_KEPT ? `${text.slice(0, RAW_KEPT)}…` : text;
    return Number.NaN;
  }
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * ISO 8601 and "YYYY-MM-DD HH:MM:SS,mmm" (log4j): UTC unless an offset is given; else
 * Date.parse. Undefined when it is no time, or one outside what sinks can use.
 */
export function parseTime(text: string): number | undefined {
  const m = ISO.exec(text);
  let t: number;
  if (m) {
    const [y, mo, d, h, mi, sec] = [+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!];
    // Date.UTC rolls month 13 or hour 99 over into a valid-looking time, and reads years
    // 0-99 as 1900-1999: out-of-range fields make no time at all.
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 60) return undefined;
    const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
    t = Date.UTC(y, mo - 1, d, h, mi, Math.min(sec, 59), ms);
    const zone = m[8];
    if (zone && zone !== 'Z') {
      const sign = zone[0] === '-' ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
    }
  } else t = Date.parse(text);
  return isValidEventTime(t) ? t : undefined;
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  if (month !== 2) return DAYS[month - 1]!;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}
