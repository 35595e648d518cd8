import { rm } from 'node:fs/promises';
import type { Counter } from 'prom-client';
import { join } from 'node:path';
import type { Logger } from '../../core/log.js';
import type { EventTemplate, TemplatePart } from '../../core/template.js';
import { listDir } from './paths.js';

/**
 * Where the day directories are in a path template, for retention: the first segment
 * holding a time format is the day directory; it must name exactly one day (%Y, %m and %d
 * with literals, nothing finer and no fields), or retention could not tell a day's age.
 */
export interface DayLayout {
  /** Segments above the day directory: a literal name, or undefined for "any directory" (a field). */
  above: (string | undefined)[];
  /** Parses a day directory name into days since 1970-01-01, or undefined when it is not one. */
  parse(name: string): number | undefined;
}

const DAY_MS = 86_400_000;

/** Splits template parts at the "/" in literals: one list of parts per path segment. */
export function segmentsOf(parts: readonly TemplatePart[]): TemplatePart[][] {
  const segments: TemplatePart[][] = [[]];
  for (const part of parts) {
    if (part.kind !== 'literal') {
      segments[segments.length - 1]!.push(part);
      continue;
    }
    const pieces = part.text.split('/');
    pieces.forEach((text, i) => {
      if (i > 0) segments.push([]);
      if (text) segments[segments.length - 1]!.push({ kind: 'literal', text });
    });
  }
  return segments;
}

/** The day directory layout of a template; throws saying why it has none. */
export function dayLayout(parts: readonly TemplatePart[], text: string): DayLayout {
  const segments = segmentsOf(parts);
  const index = segments.findIndex((s) => s.some((p) => p.kind === 'time'));
  const fail = (why: string): never => {
    throw new Error(
      `retention_days needs a day directory in the path template, ${why} (template ${JSON.stringify(text)}; e.g. "{service}/{module}/%Y-%m-%d/{host}.log")`,
    );
  };
  if (index === -1) fail('but it has no %-time format');
  if (index === segments.length - 1) fail('but its time format is in the file name, not a directory');
  const day = segments[index]!;
  const tokens = day.filter((p) => p.kind === 'time').map((p) => p.token);
  if (day.some((p) => p.kind === 'field')) fail('but the first directory with a time format also holds a {field}');
  if (tokens.some((t) => t !== 'Y' && t !== 'm' && t !== 'd') || !['Y', 'm', 'd'].every((t) => tokens.includes(t as 'Y'))) {
    fail('but the first directory with a time format must hold %Y, %m and %d and nothing finer');
  }
  const order: ('Y' | 'm' | 'd')[] = [];
  const source = day
    .map((p) => {
      if (p.kind === 'literal') return p.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const token = (p as { token: 'Y' | 'm' | 'd' }).token;
      order.push(token);
      return token === 'Y' ? '(\\d{4})' : '(\\d{2})';
    })
    .join('');
  const pattern = new RegExp(`^${source}$`);
  return {
    above: segments
      .slice(0, index)
      .map((s) => (s.every((p) => p.kind === 'literal') ? s.map((p) => (p.kind === 'literal' ? p.text : '')).join('') : undefined)),
    parse(name) {
      const m = pattern.exec(name);
      if (!m) return undefined;
      const v = { Y: 0, m: 0, d: 0 };
      for (const [i, t] of order.entries()) v[t] = Number(m[i + 1]);
      const ms = Date.UTC(v.Y, v.m - 1, v.d);
      const back = new Date(ms);
      if (back.getUTCFullYear() !== v.Y || back.getUTCMonth() !== v.m - 1 || back.getUTCDate() !== v.d) return undefined;
      return ms / DAY_MS;
    },
  };
}

export interface DayDir {
  dir: string;
  day: number;
}

/** How the day walk sees a tree: the subdirectories of a directory (none when it is gone; symlinks are no directories), and a child's path. */
export interface DirTree {
  subdirs(dir: string): Promise<string[]>;
  child(dir: string, name: string): string;
}

const localTree: DirTree = {
  subdirs: async (dir) => (await listDir(dir)).filter((e) => e.isDirectory()).map((e) => e.name),
  child: join,
};

/**
 * The day directories under `root` (days since the epoch), oldest first, on a local disk or
 * in another store's tree (`tree`). Only directories are followed, so a symlink or a file
 * named like a day is never deleted.
 */
export async function dayDirs(root: string, layout: DayLayout, tree: DirTree = localTree): Promise<DayDir[]> {
  const found: DayDir[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const name of await tree.subdirs(dir)) {
      const path = tree.child(dir, name);
      if (depth < layout.above.length) {
        const literal = layout.above[depth];
        if (literal === undefined || literal === name) await walk(path, depth + 1);
        continue;
      }
      const day = layout.parse(name);
      if (day !== undefined) found.push({ dir: path, day });
    }
  };
  await walk(root, 0);
  return found.sort(oldestFirst);
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Expired days oldest first, then by directory in code-unit order: plain comparison, not
 * localeCompare, whose collator would page ICU's data into the collector for a sort.
 */
function oldestFirst(a: DayDir, b: DayDir): number {
  return a.day - b.day || (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0);
}

export function formatDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** Where a tree sink's day directories are and how they go: listed, removed (files inside finished first). */
export interface DayTreeStore {
  days(layout: DayLayout): Promise<DayDir[]>;
  remove(dir: string): Promise<void>;
}

/**
 * The first day kept: `days` back from the clock's day, but never past the `days` newest
 * days that have data up to the clock's day (`dataDays`, ascending, days since the epoch).
 * A clock set ahead (a bad NTP source, a VM restored with a wrong time) would otherwise
 * delete days still inside retention, today's included, in one pass; this way the newest
 * data always keeps its `days`, and even with events partitioned by their arrival
 * (`max_event_age`) on that wrong clock, the real days go one a day, not all at once. A tree
 * that got no data for a while keeps its last days until data comes again, which errs on
 * keeping. Days after the clock's (events from a host whose clock is ahead) count for
 * neither.
 */
export function firstKeptDay(today: number, dataDays: readonly number[], days: number): number {
  const byClock = today - days + 1;
  let kept = 0;
  let last: number | undefined;
  for (let i = dataDays.length - 1; i >= 0; i--) {
    const day = dataDays[i]!;
    if (day > today || day === last) continue;
    last = day;
    if (++kept === days) return Math.min(byClock, day);
  }
  // Fewer days with data than are kept: all of them stay.
  return last === undefined ? byClock : Math.min(byClock, last);
}

/** A tree sink's retention: the day directories older than retention_days deleted, counted and logged. */
export class DayRetention {
  private readonly label: { component: string };
  private readonly logger: Logger;

  constructor(
    private readonly layout: DayLayout,
    private readonly clock: { day(now: number): number },
    private readonly days: number,
    ctx: { name: string; logger: Logger },
    private readonly deletedDays: Counter<'component'>,
  ) {
    this.label = { component: ctx.name };
    this.logger = ctx.logger;
  }

  /**
   * Deletes the day directories before the last `days` (today, in the tree's time zone, counts
   * as one; see firstKeptDay for a clock ahead of the data); returns them.
   */
  async apply(now: number, store: DayTreeStore): Promise<string[]> {
    const found = await store.days(this.layout);
    const today = this.clock.day(now);
    const firstKept = firstKeptDay(
      today,
      found.map((d) => d.day),
      this.days,
    );
    const byClock = today - this.days + 1;
    if (byClock > firstKept) {
      const held = found.filter((d) => d.day >= firstKept && d.day < byClock).length;
      if (held > 0) {
        this.logger.warn(
          { oldest_kept: formatDay(firstKept), today: formatDay(today), held_back: held, retention_days: this.days },
          "retention: fewer days with data than retention_days since the clock's cut (a clock ahead, or no data for a while); keeping the newest days of data",
        );
      }
    }
    const deleted: string[] = [];
    for (const { dir, day } of found) {
      if (day >= firstKept) break;
      await store.remove(dir);
      deleted.push(dir);
      this.deletedDays.inc(this.label);
      this.logger.info(
        { dir, day: formatDay(day), retention_days: this.days },
        'retention: deleted a day directory older than the days kept',
      );
    }
    return deleted;
  }
}

/** The retention of a tree written by `template`; undefined when retention_days is 0 (everything is kept). */
export function dayRetention(
  template: EventTemplate,
  o: { path: string; retention_days: number },
  ctx: { name: string; logger: Logger },
  deletedDays: Counter<'component'>,
): DayRetention | undefined {
  if (o.retention_days === 0) return undefined;
  return new DayRetention(dayLayout(template.parts, o.path), template.clock, o.retention_days, ctx, deletedDays);
}
