import { stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../../../core/log.js';
import type { PathMatcher } from './glob.js';

/**
 * Finds the files to tail: file system notifications (chokidar) for quick reaction, and a
 * periodic full rescan of the globs as the safety net (notifications get lost under load,
 * on network file systems, and for directories that do not exist yet when watching starts).
 * It only reports; the source decides what a path means.
 */
export interface DiscoveryEvents {
  /** A path that may be a new file, or a known file under a new name. */
  found(path: string): void;
  /** A watched path changed or went away: look at it now rather than at the next poll. */
  touched(path: string): void;
}

export class Discovery {
  private watcher: FSWatcher | undefined;
  private readonly watched = new Set<string>();

  constructor(
    private readonly matcher: PathMatcher,
    private readonly useWatcher: boolean,
    private readonly events: DiscoveryEvents,
    private readonly logger: Logger,
  ) {}

  /** All matching files now; also starts watching base directories that exist by now. */
  async scan(): Promise<string[]> {
    if (this.useWatcher) await this.watchNewBases();
    return this.matcher.scan();
  }

  async close(): Promise<void> {
    const w = this.watcher;
    this.watcher = undefined;
    await w?.close();
  }

  private async watchNewBases(): Promise<void> {
    for (const { dir } of this.matcher.bases()) {
      if (this.watched.has(dir)) continue;
      const st = await stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) continue;
      this.watched.add(dir);
      if (!this.watcher) {
        const depth = Math.max(...this.matcher.bases().map((b) => b.depth));
        this.watcher = watch([], {
          ignoreInitial: true,
          // Rotation is an unlink followed by an add; "atomic" would merge them into a change.
          atomic: false,
          persistent: true,
          followSymlinks: true,
          ignorePermissionErrors: true,
          ...(Number.isFinite(depth) ? { depth } : {}),
          ignored: (path, stats) => stats?.isFile() === true && !this.matcher.matches(path),
        });
        this.watcher.on('add', (p) => this.events.found(p));
        this.watcher.on('change', (p) => this.events.touched(p));
        this.watcher.on('unlink', (p) => this.events.touched(p));
        this.watcher.on('error', (err) => this.logger.warn({ err: String(err) }, 'file watcher error; the periodic rescan covers for it'));
      }
      this.watcher.add(dir);
    }
  }
}
