import type { Gauge } from 'prom-client';

/** What the budget needs of a file: when it was last used, whether it may be closed, and closing it. */
export interface Holder {
  lastUsedAt: number;
  /** Detached files are never closed early: once closed, nothing leads back to them. */
  readonly closable: boolean;
  closeIdle(): Promise<void>;
}

/**
 * The `max_open_files` budget: a file about to open a descriptor makes room first, closing
 * the least recently used closable files (they reopen by path later, verified).
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
    const lru = [...this.open].filter((f) => f.closable).sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    for (const f of lru) {
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
