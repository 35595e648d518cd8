import type { Dirent } from 'node:fs';
import { access, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../core/log.js';
import { intactGzipLength } from './gzip.js';
import { finalNameOf } from './paths.js';
import { syncDir } from '../../core/durable-file.js';

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
 * Finishes the in-progress files a previous run left behind: each is cut back to its last
 * whole line (gzip: last whole member), made durable and renamed to its finished name. A
 * batch is acknowledged only after its bytes were fsync'd, so what is cut was never
 * acknowledged and will be delivered again. A finished file that already exists under the
 * same name is never overwritten: the in-progress file is then left alone and reported.
 */
export async function recoverInProgress(root: string, logger: Logger): Promise<Recovered> {
  const result: Recovered = { files: 0, cutBytes: 0 };
  const walk = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const final = finalNameOf(entry.name);
        if (final !== undefined) await recoverFile(dir, entry.name, final, logger, result);
      }
    }
  };
  await walk(root);
  return result;
}

async function recoverFile(dir: string, name: string, final: string, logger: Logger, result: Recovered): Promise<void> {
  const path = join(dir, name);
  const finalPath = join(dir, final);
  result.files++;
  const file = await open(path, 'r+');
  let keep: number;
  let size: number;
  try {
    size = (await file.stat()).size;
    keep = final.endsWith('.gz') ? await intactGzipLength(file, size) : await wholeLinesLength(file, size);
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
      { file: path, keptBytes: keep, cutBytes: cut },
      'in-progress file ended in a partial line or gzip member (a write cut short by a crash, never acknowledged): cut it off',
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
