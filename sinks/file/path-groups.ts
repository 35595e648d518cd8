import type { LogEvent } from '../../core/event.js';
import type { SinkRefusal } from '../../core/pipeline.js';
import { type EventTemplate, markedPartitionTime, type TimeWindow } from '../../core/template.js';
import type { BatchIds } from './batch-ids.js';

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
