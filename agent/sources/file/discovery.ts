import { type Dirent, type FSWatcher, watch } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '../../../core/log.js';
import type { PathMatcher } from './glob.js';
import { WatchWarnings } from './watch-warnings.js';

/**
 * Finds the files to tail: file system notifications for quick reaction, and a periodic full
 * rescan of the globs as the safety net (notifications get lost under load, on network file
 * systems, and for directories that do not exist yet when watching starts). It only reports;
 * the source decides what a path means.
 *
 * One non-recursive `fs.watch` (inotify on Linux) per directory a match can sit in, never one
 * per file, and nothing read on an event but for a rename in a directory with subdirectories
 * to watch: a trickle of appends to many files is the steady state of a sidecar. chokidar,
 * before, also watched every file, stat'ed a file on each of its events and read its whole
 * directory again (an lstat per entry) on any event in it, an append included.
 */
export interface DiscoveryEvents {
  /** A path that may be a new file, a known file that changed, or one renamed or gone: look at it now rather than at the next poll. */
  touched(path: string): void;
}

interface WatchedDir {
  watcher: FSWatcher | undefined;
  /** Directory levels below this one a match can still sit at. */
  depth: number;
  /** Which directory this is: one deleted and made again under the same name is another, that the old watch does not see. */
  dev: number;
  ino: number;
}

export class Discovery {
  private readonly dirs = new Map<string, WatchedDir>();
  private readonly warnings: WatchWarnings;
  /** Each include base and its depth: a subdirectory that is also a base is watched that deep. */
  private readonly baseDepths: Map<string, number>;
  private closed = false;

  constructor(
    private readonly matcher: PathMatcher,
    private readonly useWatcher: boolean,
    private readonly events: DiscoveryEvents,
    logger: Logger,
  ) {
    this.baseDepths = new Map(matcher.bases().map((b) => [b.dir, b.depth]));
    this.warnings = new WatchWarnings(logger, 'cannot watch directory; the rescan finds its new files and the poll their growth');
  }

  /**
   * All matching files now; also watches the directories a match can sit in that are not
   * watched yet: base directories made since, subdirectories whose event was lost (an
   * inotify queue overflow drops events silently) or whose watch failed (the inotify limit,
   * raised since), and a base that now leads to another directory (a symbolic link moved).
   */
  async scan(): Promise<string[]> {
    if (this.useWatcher)
      for (const { dir, depth } of this.matcher.bases()) {
        const known = this.dirs.get(dir);
        if (known) {
          const st = await stat(dir).catch(() => undefined);
          if (!st?.isDirectory() || st.dev !== known.dev || st.ino !== known.ino) this.forget(dir);
        }
        await this.explore(dir, depth, false);
      }
    return this.matcher.scan();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.dirs.values()) w.watcher?.close();
    this.dirs.clear();
  }

  /**
   * Watches `dir` and the subdirectories a match can sit in (not through symbolic links, as
   * the scan does not). `report`: the matching files found in them are touched (a directory
   * that appeared after the scan); else the scan that follows reports them.
   */
  private async explore(dir: string, depth: number, report: boolean): Promise<void> {
    await this.watchDir(dir, depth);
    // Read at every rescan where subdirectories can be (as the scan reads them anyway).
    if (this.closed || (!report && depth === 0)) return;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // gone meanwhile: its own watch, its parent's or the rescan tell
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (depth > 0) await this.explore(path, this.depthOf(path, depth - 1), report);
      } else if (report && this.matcher.matches(path)) this.events.touched(path);
    }
  }

  /** The levels below `path` a match can sit at: what its parent leaves, or more if it is a base itself. */
  private depthOf(path: string, fromParent: number): number {
    return Math.max(fromParent, this.baseDepths.get(path) ?? -1);
  }

  /** Watches `dir` if it is not, and that deep. */
  private async watchDir(dir: string, depth: number): Promise<void> {
    const known = this.dirs.get(dir);
    if (known) {
      known.depth = Math.max(known.depth, depth);
      return;
    }
    const st = await stat(dir).catch(() => undefined);
    if (this.closed || !st?.isDirectory()) return;
    if (this.dirs.has(dir)) return this.watchDir(dir, depth);
    const w: WatchedDir = { watcher: undefined, depth, dev: st.dev, ino: st.ino };
    try {
      w.watcher = watch(dir, (type, name) => this.onEvent(dir, w, type, name));
    } catch (err) {
      this.warnings.cannotWatch(dir, err);
      return;
    }
    w.watcher.on('error', (err) => {
      w.watcher?.close();
      if (this.dirs.get(dir) === w) this.dirs.delete(dir);
      this.warnings.cannotWatch(dir, err);
    });
    this.dirs.set(dir, w);
  }

  private onEvent(dir: string, w: WatchedDir, type: string, name: string | null): void {
    // inotify names the entry on every event of a directory watch; where a platform does
    // not, the poll (followed files) and the rescan (new files) find what changed.
    if (name === null) return;
    const path = join(dir, name);
    if (this.matcher.matches(path)) this.events.touched(path);
    // Entries appear, go or are renamed: looked at for renames only, never for appends.
    if (type !== 'rename') return;
    if (w.depth > 0 || this.dirs.has(path)) void this.lookAt(path, this.depthOf(path, w.depth - 1));
    // A watched directory deleted or moved away reports it under its own name, and its watch
    // is dead from then on, even if a directory is made again there at once with the same
    // inode (ext4 reuses them): watched anew. (An entry of its own with its name, created or
    // removed, costs the same once.)
    if (name === basename(dir) && this.dirs.get(dir) === w) {
      this.forget(dir);
      void this.lookAt(dir, w.depth);
    }
  }

  /** An entry that may have become, or stopped being, a directory to watch. */
  private async lookAt(path: string, depth: number): Promise<void> {
    const known = this.dirs.get(path);
    if (known) {
      const st = await stat(path).catch(() => undefined);
      if (st?.isDirectory() && st.dev === known.dev && st.ino === known.ino) return;
      this.forget(path);
      depth = Math.max(depth, known.depth);
    }
    const st = await lstat(path).catch(() => undefined);
    if (depth >= 0 && st?.isDirectory()) await this.explore(path, depth, true);
  }

  /**
   * Closes the watch of a directory gone (or replaced), and those under it: renamed away,
   * they would report paths it no longer has. A base directory that comes back is watched
   * again by the next rescan; a subdirectory by its parent's event.
   */
  private forget(dir: string): void {
    const under = dir.endsWith('/') ? dir : `${dir}/`;
    for (const [d, w] of this.dirs) {
      if (d !== dir && !d.startsWith(under)) continue;
      w.watcher?.close();
      this.dirs.delete(d);
    }
  }
}
