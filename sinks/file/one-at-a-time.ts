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
    const timer = setInterval(() => void this.run(fn).catch(failed), ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** Stops the timers; what is queued still runs. */
  stopTimers(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }
}
