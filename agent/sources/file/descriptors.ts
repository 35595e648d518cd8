import type { Gauge } from 'prom-client';

/** What the budget needs of a file: when it was last used, whether it is at its end, whether it may be closed, and closing it. */
export interface Holder {
  lastUsedAt: number;
  readonly atEof: boolean;
  /** Detached files are never closed early: once closed, nothing leads back to them. */
  readonly closable: boolean;
  closeIdle(): Promise<void>;
}

/**
 * The `max_open_files` budget: a file about to open a descriptor makes room first, closing
 * closable files (they reopen by path later, verified): those at their end first, least
 * recently used first. A file with a backlog is closed only when nothing else can be: if it
 * is renamed or deleted while closed, its unread bytes can only be found again by its
 * inode in its directory (a rename), or not at all (a deletion).
 */
export class Descriptors {
  private readonly open = new Set<Holder>();

  constructor(
    private readonly max: number,
    private readonly gauge: Gauge<'component'>,
    private readonly label: { component: string },
  ) {}

  async makeRoom(): Promise<void> {
    let excess = this.open.size + 1 - this.max;
    if (excess <= 0) return;
    const order = [...this.open].filter((f) => f.closable).sort((a, b) => Number(b.atEof) - Number(a.atEof) || a.lastUsedAt - b.lastUsedAt);
    for (const f of order) {
      if (excess-- <= 0) break;
      await f.closeIdle();
    }
  }

  opened(f: Holder): void {
    if (this.open.has(f)) return;
    this.open.add(f);
    this.gauge.inc(this.label);
  }

  closed(f: Holder): void {
    if (this.open.delete(f)) this.gauge.dec(this.label);
  }

  get size(): number {
    return this.open.size;
  }
}
