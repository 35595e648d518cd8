import { open, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * The two steps every durable state file needs (checkpoints, the channel pointer, rolled
 * output files): without the directory fsync a rename or a new file can vanish in a power
 * loss even though the file's bytes were synced.
 */

/** Makes a directory's entries (created, renamed, deleted files) durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with `data` atomically: a reader (or a restart after a crash) sees the
 * old content or the new one, never a mix. Temp file, fdatasync, rename, fsync of the directory.
 */
export async function replaceFile(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  // State is the owner's alone (0600), whatever the umask.
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(data);
    // datasync covers the new size, which is all a reader needs; mtime can stay behind.
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}
