import { readFileSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Directories held by a channel of this process (a second one would interleave records with the first). */
const openDirs = new Set<string>();

/**
 * One process, one channel per directory: a LOCK file with the owner's pid, checked for a
 * live process at open, so a second agent on the same data directory is refused with the
 * pid to look for, and a crashed one's stale lock is taken over.
 */
export class DirLock {
  private key: string | undefined;

  constructor(
    private readonly dir: string,
    private readonly name: string,
  ) {}

  async acquire(): Promise<void> {
    const key = resolve(this.dir);
    if (openDirs.has(key)) throw new Error(`channel "${this.name}": ${this.dir} is already used by another channel in this process`);
    const lock = join(this.dir, 'LOCK');
    try {
      const pid = Number((await readFile(lock, 'utf8')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(
          `channel "${this.name}": ${this.dir} is in use by process ${pid} (see ${lock}); if no Sluice runs there, delete that file`,
        );
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await writeFile(`${lock}.tmp`, `${process.pid}\n`);
    await rename(`${lock}.tmp`, lock);
    openDirs.add(key);
    this.key = key;
  }

  release(): void {
    if (this.key === undefined) return;
    openDirs.delete(this.key);
    this.key = undefined;
    void unlink(join(this.dir, 'LOCK')).catch(() => {});
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !zombie(pid);
}

/**
 * A process that died but was not reaped yet holds nothing: an agent whose launcher was
 * SIGKILLed kills itself, and waits for init to reap it (seconds on some hosts).
 */
function zombie(pid: number): boolean {
  try {
    // The state follows the command name in parentheses, which may itself hold ") ".
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}
