/**
 * The addon's calls that run on libuv's threadpool, tracked so a client is destroyed only
 * once none is running on it, and refused from the moment its close was asked for.
 */
export class Requests {
  private readonly running = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;

  constructor(
    /** What a request after close fails with, and its librdkafka code. */
    private readonly closedMessage: string,
    private readonly closedCode: number,
  ) {}

  get closed(): boolean {
    return this.closing !== undefined;
  }

  closedError(): Error & { code: number } {
    return Object.assign(new Error(this.closedMessage), { code: this.closedCode });
  }

  run<T>(request: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined) return Promise.reject(this.closedError());
    let started: Promise<T>;
    try {
      started = request();
    } catch (err) {
      return Promise.reject(err);
    }
    this.running.add(started);
    const done = () => void this.running.delete(started);
    started.then(done, done);
    return started;
  }

  /** Runs `close` once, after every request in flight settled; later calls share it. */
  close(close: () => Promise<void>): Promise<void> {
    this.closing ??= Promise.allSettled([...this.running]).then(close);
    return this.closing;
  }
}
