import { access, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Logger } from '../../core/log.js';
import { intactGzipLength } from './gzip.js';
import { finalNameOf, listDir } from './paths.js';
import { syncDir } from '../../core/durable-file.js';

/** What the write journal says about in-progress files (sinks/file/journal.ts). */
export interface CommittedLengths {
  /** No journal existed before: in-progress files predate it and are recovered line by line. */
  readonly fresh: boolean;
  /** Committed length per in-progress file, keyed by its path relative to root. */
  readonly lengths: ReadonlyMap<string, number>;
  forget(path: string): void;
}

export interface Recovered {
  /** In-progress files found (left by a crash or a kill). */
  files: number;
  /** Bytes cut off their ends: a partial line or a torn gzip member of a batch that was never acknowledged. */
  cutBytes: number;
}

const CHUNK = 64 * 1024;

/** Length up to and including the last newline. */
async function wholeLinesLength(file: FileHandle, size: number): Promise<number> {
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - CHUNK);
    const { bytesRead } = await file.read(buf, 0, end - start, start);
    const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl !== -1) return start + nl + 1;
    end = start;
  }
  return 0;
}

/**
 * Finishes the in-progress files a previous run left behind: each is cut back to what was
 * acknowledged, made durable and renamed to its finished name. With a write journal that is
 * the length of its last journal record, so a batch cut short by the crash leaves no line
 * behind (it is delivered again, whole); a file the journal never recorded held no
 * acknowledged batch and is removed. Without one (an older tree), the file is cut to its
 * last whole line (gzip: last whole member). A finished file that already exists under the
 * same name is never overwritten: the in-progress file is then left alone and reported.
 */
export async function recoverInProgress(root: string, logger: Logger, journal?: CommittedLengths): Promise<Recovered> {
  const result: Recovered = { files: 0, cutBytes: 0 };
  const seen = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await listDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const final = finalNameOf(entry.name);
        if (final !== undefined) {
          const key = relative(root, path);
          seen.add(key);
          const committed = journal && !journal.fresh ? (journal.lengths.get(key) ?? 0) : undefined;
          await recoverFile(dir, entry.name, final, logger, result, committed);
          journal?.forget(key);
        }
      }
    }
  };
  await walk(root);
  // What the journal still has and the tree does not was finished (or removed) by a run that
  // stopped before writing that down: forgotten, so no later file of the same name inherits it.
  if (journal) for (const key of [...journal.lengths.keys()]) if (!seen.has(key)) journal.forget(key);
  return result;
}

async function recoverFile(
  dir: string,
  name: string,
  final: string,
  logger: Logger,
  result: Recovered,
  committed: number | undefined,
): Promise<void> {
  const path = join(dir, name);
  const finalPath = join(dir, final);
  result.files++;
  const file = await open(path, 'r+');
  let keep: number;
  let size: number;
  try {
    size = (await file.stat()).size;
    if (committed !== undefined && committed <= size) keep = committed;
    else {
      if (committed !== undefined)
        logger.error(
          { file: path, committed_bytes: committed, size },
          'in-progress file is shorter than the journal says was written durably (the disk lost acknowledged data); keeping what is whole',
        );
      keep = final.endsWith('.gz') ? await intactGzipLength(file, size) : await wholeLinesLength(file, size);
    }
    if (keep < size) {
      await file.truncate(keep);
      await file.sync();
    }
  } finally {
    await file.close();
  }
  const cut = size - keep;
  result.cutBytes += cut;
  if (cut > 0)
    logger.warn(
      { file: path, kept_bytes: keep, cut_bytes: cut },
      'in-progress file ended in data that was never acknowledged (a batch cut short by a crash): cut it off, it is delivered again',
    );
  if (keep === 0) {
    await unlink(path);
    await syncDir(dir);
    logger.info({ file: path }, 'removed an empty in-progress file left by a previous run');
    return;
  }
  if (await exists(finalPath)) {
    logger.error(
      { file: path, finished: finalPath },
      'cannot finish in-progress file: a finished file of that name exists; both are left as they are',
    );
    return;
  }
  await rename(path, finalPath);
  await syncDir(dir);
  logger.info({ file: finalPath, bytes: keep }, 'finished an in-progress file left by a previous run');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
