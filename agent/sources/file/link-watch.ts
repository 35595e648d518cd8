import { type FSWatcher, watch } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from '../../../core/log.js';
import { WatchWarnings } from './watch-warnings.js';

interface TargetDir {
  watcher: FSWatcher;
  /** Which directory: one deleted and made again under the same name is another, that this watch does not see. */
  dev: number;
  ino: number;
  /** Entry name in this directory → the followed links that lead to it. */
  names: Map<string, Set<string>>;
}

/** A followed file: its path, and which file it is (`dev:ino`), so a new file under the same path is resolved anew. */
export interface FollowedPath {
  path: string;
  key: string;
}

/**
 * Watches the directories the followed symbolic links lead into. Kubernetes' node layout
 * is made of them (`/var/log/containers/*.log` → `/var/log/pods/…/0.log`, with Docker on
 * to `/var/lib/docker/containers/…`): the directory watch of the links' own directory
 * sees links come and go, never an append to what they lead to. Without this, such a file
 * is seen to grow by the poll alone, every poll_interval, a stat of the path and one of the
 * descriptor each time.
 *
 * An event in a target directory touches every followed link leading to that entry, so a
 * rotation there (kubelet's, Docker's) is looked at at once too. Links are resolved to the
 * end of their chain when a file is first followed under them (a link made to point
 * elsewhere leads to another file) and again at every rescan (an intermediate link of the
 * chain changed); one watch per target directory, shared by its links. A target directory
 * deleted (or made again: its watch is dead, and Linux says so only by an event naming the
 * directory itself) has its links resolved anew at the next sync.
 */
export class LinkWatch {
  /** Followed link → the real path it led to when last resolved. */
  private readonly links = new Map<string, string>();
  /** Followed path → the file (`dev:ino`) followed there when it was last resolved, and whether the path was a link. */
  private readonly resolved = new Map<string, { key: string; link: boolean }>();
  private readonly dirs = new Map<string, TargetDir>();
  private readonly warnings: WatchWarnings;
  private closed = false;

  constructor(
    private readonly touched: (path: string) => void,
    logger: Logger,
  ) {
    this.warnings = new WatchWarnings(logger, 'cannot watch the directory followed links lead into; the poll sees their growth');
  }

  /** A target directory's watch died since the last sync: its links wait to be resolved again. */
  get stale(): boolean {
    return this.dirsDied;
  }

  private dirsDied = false;

  /**
   * Makes the links among `files` (the followed ones) the ones watched. `again` (at the
   * rescan): the links are resolved anew and their directories checked to be the ones
   * watched; else only the paths followed since the last sync are resolved. A path that was
   * no link is not looked at again: made one, it leads to another file, resolved then.
   */
  async sync(files: Iterable<FollowedPath>, again: boolean): Promise<void> {
    this.dirsDied = false;
    const wanted = new Map<string, string>();
    for (const f of files) wanted.set(f.path, f.key);
    for (const link of [...this.links.keys()]) if (!wanted.has(link)) this.unwatch(link);
    for (const p of [...this.resolved.keys()]) if (!wanted.has(p)) this.resolved.delete(p);
    if (again) await this.checkDirs();
    for (const [path, key] of wanted) {
      if (this.closed) return;
      const known = this.resolved.get(path);
      if (known?.key === key && !(again && known.link)) continue;
      const { link, real } = await resolveLink(path);
      if (this.closed) return;
      this.resolved.set(path, { key, link });
      if (real === undefined) this.unwatch(path);
      else if (real !== this.links.get(path)) {
        this.unwatch(path);
        await this.watchTarget(path, real);
      } else if (known?.key !== key) {
        // A new file behind the same link: its directory may be a new one too (deleted and
        // made again while a file in it was still open, Linux reports the deletion only
        // once that file is closed), whose watch would be dead.
        await this.checkDir(dirname(real));
        if (!this.links.has(path)) await this.watchTarget(path, real);
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const d of this.dirs.values()) d.watcher.close();
    this.dirs.clear();
    this.links.clear();
    this.resolved.clear();
  }

  /** Watched directories that are gone or another now: dropped, their links resolved again below. */
  private async checkDirs(): Promise<void> {
    for (const dir of [...this.dirs.keys()]) {
      await this.checkDir(dir);
      if (this.closed) return;
    }
  }

  /** Drops the watch of `dir` if the directory is gone or another one now. */
  private async checkDir(dir: string): Promise<void> {
    const d = this.dirs.get(dir);
    if (!d) return;
    const st = await stat(dir).catch(() => undefined);
    if (this.dirs.get(dir) === d && (!st?.isDirectory() || st.dev !== d.dev || st.ino !== d.ino)) this.dropDir(dir);
  }

  private async watchTarget(link: string, real: string): Promise<void> {
    const dir = dirname(real);
    const name = basename(real);
    let d = this.dirs.get(dir);
    const st = d ? undefined : await stat(dir).catch(() => undefined);
    if (this.closed) return;
    d ??= this.dirs.get(dir);
    if (!d) {
      // Gone meanwhile: resolved again at the next rescan.
      if (!st) return;
      const names = new Map<string, Set<string>>();
      let watcher: FSWatcher;
      try {
        watcher = watch(dir, (type, entry) => {
          // inotify names the entry; where a platform does not, the poll sees the growth.
          if (entry === null) return;
          for (const l of names.get(entry) ?? []) this.touched(l);
          // The directory itself deleted or moved away (or an entry of its own name): a dead
          // watch once the directory is gone or another.
          if (type === 'rename' && entry === basename(dir)) void this.checkDir(dir);
        });
      } catch (err) {
        // Tried again at the next rescan.
        this.warnings.cannotWatch(dir, err);
        return;
      }
      const watched: TargetDir = { watcher, names, dev: st.dev, ino: st.ino };
      d = watched;
      watcher.on('error', (err) => {
        if (this.dirs.get(dir) === watched) this.dropDir(dir);
        this.warnings.cannotWatch(dir, err);
      });
      this.dirs.set(dir, d);
    }
    let links = d.names.get(name);
    if (!links) d.names.set(name, (links = new Set()));
    links.add(link);
    this.links.set(link, real);
  }

  private unwatch(link: string): void {
    const real = this.links.get(link);
    if (real === undefined) return;
    this.links.delete(link);
    const dir = dirname(real);
    const d = this.dirs.get(dir);
    if (!d) return;
    const name = basename(real);
    const links = d.names.get(name);
    links?.delete(link);
    if (links?.size === 0) d.names.delete(name);
    if (d.names.size === 0) {
      d.watcher.close();
      this.dirs.delete(dir);
    }
  }

  /** A target directory whose watch died: its links are resolved and watched anew at the next sync, and looked at now. */
  private dropDir(dir: string): void {
    const d = this.dirs.get(dir);
    if (!d) return;
    d.watcher.close();
    this.dirs.delete(dir);
    this.dirsDied = true;
    for (const links of d.names.values())
      for (const l of links) {
        this.links.delete(l);
        this.resolved.delete(l);
        this.touched(l);
      }
  }
}

/** Whether `path` is a symbolic link, and the real path it leads to (none for a dangling one). */
async function resolveLink(path: string): Promise<{ link: boolean; real?: string }> {
  const st = await lstat(path).catch(() => undefined);
  if (!st?.isSymbolicLink()) return { link: false };
  const real = await realpath(path).catch(() => undefined);
  return real === undefined ? { link: true } : { link: true, real };
}
