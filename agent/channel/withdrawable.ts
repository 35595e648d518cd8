import { PutAbortedError } from '../../core/pipeline.js';

export interface Settle {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * A put its source can take back while it waits for room. When `signal` aborts (the source
 * stops: the agent stops, or a reload removes or replaces it), a put still waiting for room
 * is withdrawn and rejects with PutAbortedError, and the source keeps its position before
 * the batch; a put already admitted to a write completes as usual. Without it, a source
 * stopped by a reload while Kafka was down waited in its put until Kafka came back, and the
 * reload (and a stop behind it) with it. The listener leaves with the put: the signal lives
 * as long as the source.
 */
export function withdrawable<T>(
  signal: AbortSignal,
  message: string,
  queue: { enqueue(settle: Settle): T; withdraw(token: T): boolean },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let token: T | undefined;
    const onAbort = () => {
      if (token !== undefined && queue.withdraw(token)) settle.reject(new PutAbortedError(message));
    };
    const settle: Settle = {
      resolve() {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      reject(err) {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    };
    signal.addEventListener('abort', onAbort);
    token = queue.enqueue(settle);
    if (signal.aborted) onAbort();
  });
}
