/**
 * Runs a tree sink's operations (writes, the roll timer, retention, close) one at a time, so
 * a file is never finished or deleted under a write. A failed operation does not stop the
 * ones queued after it.
 */
export class OneAtATime {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];

  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Runs `fn` every `ms`, in turn with the rest; a failure goes to `failed`, and the next turn tries again. */
  every(ms: number, fn: () => Promise<unknown>, failed: (err: Error) => void): void {
    // One turn queued at a time: while an operation hangs (a stuck fsync on NFS, a NameNode
    // that does not answer), ticks would otherwise pile up in the chain, one per interval.
    let queued = false;
    const timer = setInterval(() => {
      if (queued) return;
      queued = true;
      void this.run(fn)
        .catch(failed)
        .finally(() => (queued = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** Stops the timers; what is queued still runs. */
  stopTimers(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }
}
