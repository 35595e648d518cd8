/**
 * A really full disk (ENOSPC) for the tests of what happens then: a small tmpfs mounted for
 * the tests of the file (or describe block) it is called in, and filling it to the last byte.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, open, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type TempDir, tempDir } from './index.js';

export interface Tmpfs {
  /** Where it is mounted (set before the tests run). */
  path: string;
  /** Why it could not be mounted (it needs root): tests skip with this reason. */
  unavailable?: string;
}

/** A tmpfs of `size` ("2m") mounted before the tests and unmounted after them. */
export function tmpfs(size: string): Tmpfs {
  const disk: Tmpfs = { path: '' };
  let tmp: TempDir | undefined;
  beforeAll(async () => {
    tmp = await tempDir('tmpfs');
    disk.path = join(tmp.dir, 'mnt');
    await mkdir(disk.path);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', disk.path], { stdio: 'pipe' });
    } catch (err) {
      disk.unavailable = `cannot mount a tmpfs to fill (needs root): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
    }
  });
  afterAll(async () => {
    if (tmp && !disk.unavailable) execFileSync('umount', [disk.path]);
    await tmp?.cleanup();
  });
  return disk;
}

/**
 * Fills the file system of `dir` to the last byte but `free` bytes (whole pages: a file that
 * size is deleted once the rest is full); returns the file to delete to free the space.
 */
export async function fillDisk(dir: string, name = 'filler', free = 0): Promise<string> {
  const spacer = join(dir, `${name}.spacer`);
  if (free > 0) await writeFile(spacer, Buffer.alloc(free, 1));
  const filler = join(dir, name);
  const fh = await open(filler, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) await fh.write(block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  try {
    for (;;) await fh.write(block, 0, 512);
  } catch {
    // full to the byte
  }
  await fh.close();
  if (free > 0) await unlink(spacer);
  return filler;
}
