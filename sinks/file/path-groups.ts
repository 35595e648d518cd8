import type { Counter } from 'prom-client';
import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';
import { type SinkRefusal, WRITTEN, type WriteResult } from '../../core/pipeline.js';
import { type EventTemplate, markedPartitionTime, partitionedByArrival, type TimeWindow } from '../../core/template.js';
import { jsonLineEncoder, type Schema } from '../schema/schema.js';
import type { BatchIds } from './batch-ids.js';
import { gzipMember } from './gzip.js';

/** The events of a batch that go to one file of the tree, as lines. */
export interface PathGroup {
  lines: string[];
  /** The events' rows in the batch. */
  rows: number[];
  /** Written and journaled: stays written if another part of the batch fails. */
  journaled: boolean;
  /** Why the destination refuses its path for good: its events go back to the collector as refused. */
  refused?: string;
}

export interface Grouped {
  /** By path relative to the tree's root, in the order first met. */
  groups: Map<string, PathGroup>;
  /** Events beyond max_event_age / max_future, put in the day of their arrival. */
  late: number;
}

/**
 * Groups a batch by the file each event goes to, as both tree sinks (file, webhdfs) do:
 * events the write journal already holds are left out (`ids`, claimed by the caller), and
 * beyond the time window the day is the arrival's, the event marked so
 * (core/template/time-window.ts).
 */
export function groupByPath(
  batch: readonly LogEvent[],
  template: EventTemplate,
  window: TimeWindow,
  json: ((event: LogEvent) => string) | undefined,
  ids: BatchIds | undefined,
): Grouped {
  const groups = new Map<string, PathGroup>();
  const arrival = Date.now();
  let late = 0;
  for (let i = 0; i < batch.length; i++) {
    if (ids?.duplicate(i)) continue;
    const event = batch[i]!;
    const outside = window.enabled && window.outside(event.timestamp, arrival);
    const rel = template.renderCached(event, outside ? arrival : undefined);
    let group = groups.get(rel);
    if (group === undefined) groups.set(rel, (group = { lines: [], rows: [], journaled: false }));
    if (outside) late++;
    group.lines.push(json ? json(outside ? markedPartitionTime(event, arrival) : event) : event.message);
    group.rows.push(i);
  }
  return { groups, late };
}

/** A write of the batch failed: the ids of what was not journaled are given back, as the retry writes it. */
export function releaseUnjournaled(ids: BatchIds | undefined, groups: ReadonlyMap<string, PathGroup> | undefined): void {
  if (!ids) return;
  const pending = groups ? [...groups.values()].filter((g) => !g.journaled) : undefined;
  if (!pending || pending.length === groups!.size) ids.release();
  else if (pending.length > 0) ids.release(pending.map((g) => g.rows));
}

/**
 * The events of the groups whose path was refused, for the collector's dead-letter. Their ids
 * are given back: not journaled, a redelivery is refused (and dead-lettered) again, never
 * skipped as written.
 */
export function refusals(batch: readonly LogEvent[], groups: ReadonlyMap<string, PathGroup>, ids: BatchIds | undefined): SinkRefusal[] {
  const refusedGroups = [...groups.values()].filter((g) => g.refused !== undefined);
  if (refusedGroups.length === 0) return [];
  ids?.release(refusedGroups.map((g) => g.rows));
  const refused: SinkRefusal[] = [];
  for (const g of refusedGroups) for (const row of g.rows) refused.push({ event: batch[row]!, reason: g.refused! });
  return refused;
}

/**
 * Writes batches into a tree as both tree sinks (file, webhdfs) do: grouped by path (leaving
 * out what the write journal holds), then in waves of at most max_open_files groups, each
 * durable and journaled before the next evicts its files. A failure gives back the ids of
 * what was not journaled; refused paths come back as refused events.
 */
export class TreeBatches {
  private readonly label: { component: string };
  private readonly logger: Logger;

  /** `holder`: where the tree is, for the log line about events skipped ("the tree", "HDFS"). */
  constructor(
    private readonly template: EventTemplate,
    private readonly window: TimeWindow,
    private readonly options: { encoding: 'text' | 'json'; schema: Schema; max_open_files: number },
    ctx: { name: string; logger: Logger },
    private readonly holder: string,
    private readonly metrics: { events: Counter<'component'>; duplicates: Counter<'component'>; refused?: Counter<'component'> },
  ) {
    this.label = { component: ctx.name };
    this.logger = ctx.logger;
  }

  /**
   * `ids`: the write journal's (undefined: at-least-once, nothing is skipped). `writeWave`
   * writes one wave durably (`whole`: the batch is one wave with nothing skipped).
   */
  async write(
    batch: readonly LogEvent[],
    ids: BatchIds | undefined,
    writeWave: (wave: [string, PathGroup][], whole: boolean) => Promise<void>,
  ): Promise<WriteResult> {
    const json = this.options.encoding === 'json' ? jsonLineEncoder(this.options.schema) : undefined;
    // Written before a crash, sent twice by an agent, or twice in this batch: the journal has its id.
    ids?.claim(batch);
    const skipped = ids?.skipped ?? 0;
    let groups: Map<string, PathGroup> | undefined;
    try {
      const grouped = groupByPath(batch, this.template, this.window, json, ids);
      groups = grouped.groups;
      if (grouped.late > 0) partitionedByArrival.inc(this.label, grouped.late);
      if (skipped > 0) {
        this.metrics.duplicates.inc(this.label, skipped);
        this.logger.info({ skipped, events: batch.length }, `skipped events ${this.holder} already holds (delivered again after a crash)`);
      }
      const entries = [...groups];
      const max = this.options.max_open_files;
      const whole = entries.length <= max && skipped === 0;
      for (let i = 0; i < entries.length; i += max) {
        const wave = entries.slice(i, i + max);
        await writeWave(wave, whole);
        for (const [, g] of wave) if (g.refused === undefined) g.journaled = true;
      }
    } catch (err) {
      releaseUnjournaled(ids, groups);
      throw err;
    }
    const refused = refusals(batch, groups, ids);
    if (refused.length > 0) this.metrics.refused?.inc(this.label, refused.length);
    this.metrics.events.inc(this.label, batch.length - skipped - refused.length);
    return refused.length === 0 ? WRITTEN : { refused, retry: [] };
  }
}

/** A file is due to be finished: open for roll_age, or written to last idle_timeout ago (0: no such limit). */
export function rollDue(
  file: { openedAt: number; lastWriteAt: number },
  limits: { roll_age: number; idle_timeout: number },
  now: number,
): boolean {
  return (
    (limits.roll_age > 0 && now - file.openedAt >= limits.roll_age) ||
    (limits.idle_timeout > 0 && now - file.lastWriteAt >= limits.idle_timeout)
  );
}

/**
 * Characters joined into one string at a time. A batch's text as one string (hundreds of
 * KiB) is allocated in V8's large-object space, which only a full mark-compact frees;
 * strings of this size stay in the young generation, which a scavenge frees. Measured with
 * the router's change beside it: a few per cent less CPU for `sluice run`, not fewer
 * mark-compacts (the events themselves fill the old generation, config/memory-budget.ts).
 */
const JOIN_CHARS = 32 * 1024;

/** A group's lines as the bytes one write appends: newline-ended, one gzip member with compression: gzip. */
export function groupBytes(lines: string[], o: { compression: 'none' | 'gzip'; gzip_level: number }): Promise<Buffer> | Buffer {
  const parts: string[] = [];
  let bytes = 0;
  let from = 0;
  let chars = 0;
  for (let i = 0; i < lines.length; i++) {
    chars += lines[i]!.length + 1;
    if (chars < JOIN_CHARS && i < lines.length - 1) continue;
    const part = lines.slice(from, i + 1);
    part.push(''); // join then ends in a newline without copying the text once more
    const text = part.join('\n');
    parts.push(text);
    bytes += Buffer.byteLength(text);
    from = i + 1;
    chars = 0;
  }
  const text = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const part of parts) at += text.write(part, at);
  return o.compression === 'gzip' ? gzipMember(text, o.gzip_level) : text;
}
