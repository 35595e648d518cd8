/**
 * Event time in a template's time zone: `%Y`, `%m`, `%d`… Nothing here formats a date per
 * event: the zone's UTC offset is cached per hour (Intl runs once per hour of event time,
 * and again only around a DST change), and render.ts caches the formatted tokens per
 * bucket of the finest token a template uses (a day for `%Y-%m-%d`).
 */

export const TIME_TOKENS = {
  Y: 'year (2024)',
  y: 'year, two digits (24)',
  m: 'month (01-12)',
  d: 'day of month (01-31)',
  j: 'day of year (001-366)',
  H: 'hour (00-23)',
  M: 'minute (00-59)',
  S: 'second (00-59)',
  '%': 'a literal %',
} as const;
export type TimeToken = Exclude<keyof typeof TIME_TOKENS, '%'>;

const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** How long each token's text stays the same: the bucket a rendered name can be cached for. */
export const GRANULARITY_MS: Record<TimeToken, number> = {
  Y: DAY_MS,
  y: DAY_MS,
  m: DAY_MS,
  d: DAY_MS,
  j: DAY_MS,
  H: HOUR_MS,
  M: 60_000,
  S: 1000,
};

/**
 * A time zone's UTC offset, cached per UTC hour. An hour whose start and end have the
 * same offset holds no transition (zones change at most once in an hour), so one Intl call
 * covers every event in it; the rare hour with a DST change is computed per event.
 */
export class ZonedClock {
  private readonly fmt: Intl.DateTimeFormat | undefined;
  private readonly hours = new Map<number, number>();
  private lastHour = Number.NaN;
  private lastOffset = 0;

  constructor(readonly timeZone: string) {
    const utc = isUtc(timeZone);
    if (!isValidTimeZone(timeZone))
      throw new Error(`unknown time zone ${JSON.stringify(timeZone)} (use an IANA name such as "UTC", "Europe/Berlin" or "Asia/Kolkata")`);
    this.fmt = utc
      ? undefined
      : // biome-ignore lint/plugin: a zone other than UTC needs ICU's zone rules
        new Intl.DateTimeFormat('en-US', {
          timeZone,
          hourCycle: 'h23',
          year: 'numeric',
          month: 'numeric',
          day: 'numeric',
          hour: 'numeric',
          minute: 'numeric',
          second: 'numeric',
        });
  }

  /** Offset of local time from UTC at `ms`, in milliseconds. */
  offset(ms: number): number {
    if (!this.fmt) return 0;
    const hour = Math.floor(ms / HOUR_MS);
    if (hour === this.lastHour) return Number.isNaN(this.lastOffset) ? this.exactOffset(ms) : this.lastOffset;
    let offset = this.hours.get(hour);
    if (offset === undefined) {
      const start = this.exactOffset(hour * HOUR_MS);
      offset = start === this.exactOffset(hour * HOUR_MS + HOUR_MS - 1) ? start : Number.NaN;
      if (this.hours.size >= 100_000) this.hours.clear();
      this.hours.set(hour, offset);
    }
    this.lastHour = hour;
    this.lastOffset = offset;
    return Number.isNaN(offset) ? this.exactOffset(ms) : offset;
  }

  /** Local wall-clock time as if it were UTC: its UTC getters give the local fields. */
  local(ms: number): number {
    return ms + this.offset(ms);
  }

  /** Days since 1970-01-01 of the local date at `ms`. */
  day(ms: number): number {
    return Math.floor(this.local(ms) / DAY_MS);
  }

  private exactOffset(ms: number): number {
    const p: Record<string, number> = {};
    for (const { type, value } of this.fmt!.formatToParts(ms)) if (type !== 'literal') p[type] = Number(value);
    const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
    return wall - (ms - (((ms % 1000) + 1000) % 1000));
  }
}

/**
 * UTC needs no check and no Intl: the first Intl.DateTimeFormat of a process pages in ICU's
 * locale and zone data, 6-8 MiB of resident memory an agent whose templates are all UTC
 * (topic, key, paths) never uses.
 */
function isUtc(timeZone: string): boolean {
  return timeZone === 'UTC' || timeZone === 'Etc/UTC';
}

export function isValidTimeZone(timeZone: string): boolean {
  if (isUtc(timeZone)) return true;
  try {
    // biome-ignore lint/plugin: only ICU knows the IANA zones
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** Formats one time token of a local (zone-shifted) time. */
export function formatTimeToken(token: TimeToken, local: number): string {
  const d = new Date(local);
  switch (token) {
    case 'Y':
      return String(d.getUTCFullYear()).padStart(4, '0');
    case 'y':
      return pad2(d.getUTCFullYear() % 100);
    case 'm':
      return pad2(d.getUTCMonth() + 1);
    case 'd':
      return pad2(d.getUTCDate());
    case 'j':
      return String(Math.floor((local - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY_MS) + 1).padStart(3, '0');
    case 'H':
      return pad2(d.getUTCHours());
    case 'M':
      return pad2(d.getUTCMinutes());
    case 'S':
      return pad2(d.getUTCSeconds());
  }
}
