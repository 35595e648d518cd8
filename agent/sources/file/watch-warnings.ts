import type { Logger } from '../../../core/log.js';

/** Directories named in "cannot watch" warnings, each warned about once; bounded like the tracker's unreadable paths. */
const MAX_WARNED = 10_000;

/**
 * The warning for a directory that cannot be watched (`ENOSPC`: the inotify limit;
 * `EACCES`, `EMFILE`), said once per directory. One gone before it could be watched says
 * nothing: its parent's event or the rescan tell. Past MAX_WARNED directories (a whole tree
 * over the inotify limit) the rest stay quiet.
 */
export class WatchWarnings {
  private readonly warned = new Set<string>();

  constructor(
    private readonly logger: Logger,
    /** What the source does instead, for the message. */
    private readonly message: string,
  ) {}

  cannotWatch(dir: string, err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    if (this.warned.has(dir) || this.warned.size >= MAX_WARNED) return;
    this.warned.add(dir);
    this.logger.warn(
      {
        directory: dir,
        err,
        ...(code === 'ENOSPC' ? { hint: 'inotify watch limit reached: raise the sysctl fs.inotify.max_user_watches' } : {}),
      },
      this.message,
    );
  }
}
