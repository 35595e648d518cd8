/**
 * Capped exponential backoff with full jitter, for retrying a hop that is down (Kafka,
 * Elasticsearch, a full disk) forever without hammering it. `sleep` wakes early when
 * the signal aborts, so shutdown is never stuck behind a long wait.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs = 100,
    private readonly maxMs = 30_000,
  ) {}

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }

  nextDelay(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  sleep(signal?: AbortSignal): Promise<void> {
    return sleep(this.nextDelay(), signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
