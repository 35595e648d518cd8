import { readdir, readFile, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../../core/log.js';
import type { SourceCheckpoint } from '../../../core/pipeline.js';
import type { CheckpointChains } from '../checkpoints.js';
import type { DamageLog } from './damage.js';
import { checkFrame, findNextFrame, readRecordHeader } from './format/frame.js';
import { FORMAT_VERSION, READABLE_VERSIONS } from './format/record.js';
import { checkSegmentHeader, guessVersion, parseSegmentName, SEGMENT_HEADER_BYTES } from './format/segment-file.js';
import type { Pointer, PointerRead } from './pointer.js';
import type { Pos, SegmentSet } from './segments.js';

export interface Recovered {
  /** The committed position (normalized). */
  committed: Pos;
  /** Newest checkpoint per source among committed records (from the pointer). */
  committedCheckpoints: Map<string, SourceCheckpoint>;
  /**
   * Newest checkpoint per source the channel holds: the committed one with the checkpoints
   * of the records still on disk applied in order (a patch needs the one before it).
   */
  checkpoints: Map<string, SourceCheckpoint>;
  /** Events and record bytes not committed yet. */
  events: number;
  bytes: number;
  records: number;
}

/**
 * Replays a channel directory at open (Flume's ReplayHandler, Vector's disk_v2 ledger
 * check): the pointer says what was committed, and every segment from there is read
 * through. Segments left behind before the pointer are deleted; a torn tail (a write cut
 * short by a crash) is cut off; damaged records in the middle are skipped, saying where
 * and how many bytes; segments with no record left are removed. Fills `segments`.
 */
export async function recover(
  dir: string,
  name: string,
  read: PointerRead,
  segments: SegmentSet,
  damage: DamageLog,
  chains: CheckpointChains,
  logger: Logger,
): Promise<Recovered> {
  let pointer: Pointer | undefined;
  if (read.kind === 'ok') {
    pointer = read.pointer;
    for (const d of read.damaged)
      logger.warn(
        { path: join(dir, d.file), reason: d.reason, using: read.file, seq: read.seq },
        'channel pointer copy damaged; using the newest intact one',
      );
  } else if (read.kind === 'damaged') {
    logger.error(
      { path: dir, damaged: read.reasons },
      'channel pointer damaged; delivering every record still on disk again (duplicates possible, nothing lost)',
    );
  }
  const committedCheckpoints = new Map<string, SourceCheckpoint>(pointer ? Object.entries(pointer.checkpoints) : []);

  const ids = (await readdir(dir))
    .map(parseSegmentName)
    .filter((id): id is number => id !== undefined)
    .sort((a, b) => a - b);
  let events = 0;
  let bytes = 0;
  let records = 0;
  const checkpoints = new Map(committedCheckpoints);
  // Sources whose state in `checkpoints` the replay made itself (not the pointer's, which the committed chain keeps).
  const owned = new Set<string>();
  for (const id of ids) {
    const path = segments.pathOf(id);
    if (pointer && id < pointer.segment) {
      // Left behind by a crash between the pointer write and the delete.
      await unlink(path);
      continue;
    }
    const buf = await readFile(path);
    const header = checkSegmentHeader(buf, READABLE_VERSIONS, FORMAT_VERSION);
    if (typeof header === 'object' && 'newerVersion' in header) {
      throw new Error(
        `channel "${name}": ${path} was written by a newer Sluice (channel format ${header.newerVersion}); ` +
          'this version cannot read it and leaves it untouched: run the newer version to drain it',
      );
    }
    const here = pointer && id === pointer.segment;
    const from = here ? Math.max(pointer!.offset, SEGMENT_HEADER_BYTES) : SEGMENT_HEADER_BYTES;
    let version = FORMAT_VERSION;
    if (header === 'foreign') {
      version = guessVersion(buf, READABLE_VERSIONS, FORMAT_VERSION);
      damage.report(
        path,
        id,
        0,
        Math.min(SEGMENT_HEADER_BYTES, buf.length),
        `segment header damaged; reading its records as format ${version}`,
      );
    } else if (header !== 'empty') {
      version = header.version;
    }
    if (header !== 'empty' && from > buf.length) {
      logger.error(
        { segment: path, offset: from, size: buf.length },
        'channel pointer points past the end of its segment (shortened?); nothing of it is delivered again',
      );
    }
    let at = from;
    let end = buf.length;
    let segRecords = 0;
    while (header !== 'empty' && at < end) {
      const check = checkFrame(buf, at, end);
      if (check.kind === 'ok') {
        let count: number;
        let checkpoint: SourceCheckpoint | undefined;
        try {
          ({ count, checkpoint } = readRecordHeader(buf, at, `${path} at byte ${at}`));
        } catch (err) {
          damage.report(path, id, at, at + check.length, (err as Error).message);
          at += check.length;
          continue;
        }
        const skip = here && at === pointer!.offset ? Math.min(pointer!.skip, count) : 0;
        events += count - skip;
        bytes += check.length;
        if (checkpoint) chains.replay(checkpoints, checkpoint, owned);
        segRecords++;
        at += check.length;
        continue;
      }
      const next = findNextFrame(buf, at + 1, end);
      if (next >= 0) {
        damage.report(path, id, at, next, check.kind === 'short' ? 'record runs past the next record' : check.reason);
        at = next;
        continue;
      }
      // Nothing intact follows: a torn or damaged tail. Cut it off so new data never sits after garbage.
      damage.tornTail(path, at, end - at, check.kind === 'short' ? 'incomplete record, e.g. a write cut short by a crash' : check.reason);
      await truncate(path, at);
      end = at;
    }
    records += segRecords;
    if (segRecords === 0) {
      await unlink(path);
      continue;
    }
    segments.list.push({ id, path, size: end, readable: end, sealed: true, version, needsDirSync: false });
    segments.fileBytes += end;
  }
  // A pointer replaced by rename (formats 1 and 2) may have left its temp file in a crash.
  for (const tmp of ['.pointer.json.tmp', 'pointer.json.tmp']) await unlink(join(dir, tmp)).catch(() => {});
  // Past the pointer's segment: the writer deletes a drained segment without moving the pointer,
  // and a new segment under that id would have its first bytes taken as committed.
  segments.nextId = Math.max((ids[ids.length - 1] ?? 0) + 1, (pointer?.segment ?? 0) + 1);
  const committed = segments.normalize(
    pointer ? { seg: pointer.segment, off: Math.max(pointer.offset, SEGMENT_HEADER_BYTES), idx: pointer.skip } : { seg: 0, off: 0, idx: 0 },
  );
  // A skip recorded against a record that did not survive means nothing any more.
  if (!pointer || committed.seg !== pointer.segment || committed.off !== pointer.offset) committed.idx = 0;
  return { committed, committedCheckpoints, checkpoints, events, bytes, records };
}
