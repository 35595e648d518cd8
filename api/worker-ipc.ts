import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ProbeAnswer } from './readiness.js';
import type { ReloadOutcome } from './server.js';
import { type TapOutput, type TapRequest, TapRequestError, type TapService, type TapSubscription } from './tap.js';

/**
 * How a collector's supervisor answers the API for its workers (`--workers N`): each worker
 * serves its API over the IPC channel its supervisor forked it with, instead of over HTTP,
 * and the supervisor's one HTTP server asks every worker and merges the answers
 * (api/group.ts). Plain request/answer messages, plus a stream of lines per tap.
 *
 * A tap's lines flow on credit: Node's `process.send` queues without bound and says nothing
 * of it (no 'drain'), so a worker that sent on its own judgement would queue what a stalled
 * supervisor does not read in its own memory, outside its budget. A worker has at most
 * TAP_CREDIT_BYTES of a tap's lines sent and not acknowledged; a line beyond that is
 * refused, and the tap counts it as a behind reader's (api/tap.ts): `{"dropped":N}` once
 * acknowledgements come back. The supervisor acknowledges what it handed to a reader that
 * keeps up, TAP_ACK_BYTES at a time, and the rest each time its reader drained: so a behind
 * reader stops its workers by acknowledging nothing, with no message of its own.
 */
export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

export type ApiOp = 'metrics' | 'health' | 'readiness' | 'reload';

/** What a worker may have of one tap's lines (their UTF-8 bytes) sent and not acknowledged: a single process's bound for its reader (TAP_BUFFER_BYTES in server.ts). */
export const TAP_CREDIT_BYTES = 256 * 1024;

/**
 * The supervisor acknowledges lines handed to a reader that keeps up once they add up to
 * this: one message per so many bytes, not one per line. A worker also sends a line larger
 * than what its credit has left while less than this is outstanding, since less may never
 * be acknowledged: a line larger than the credit is not refused for ever.
 */
export const TAP_ACK_BYTES = 64 * 1024;

/** Supervisor → worker. */
export type ApiRequest =
  | { api: 'call'; id: number; op: ApiOp }
  | { api: 'tap'; id: number; request: TapRequest }
  /** So many bytes of the tap's lines were handed on: the worker may send as many more. */
  | { api: 'tap-ack'; id: number; bytes: number }
  | { api: 'tap-close'; id: number };

/** Worker → supervisor. */
export type ApiAnswer =
  | { api: 'answer'; id: number; value: unknown }
  | { api: 'answer'; id: number; error: string; tapPoints?: string[] }
  | { api: 'tap-line'; id: number; line: string }
  | { api: 'tap-end'; id: number };

/** The side of an IPC channel a module talks through: `process` in a worker, a ChildProcess in the supervisor. */
export interface IpcPort {
  readonly connected: boolean;
  send(message: unknown, sendHandle?: undefined, options?: undefined, callback?: (err: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

export interface WorkerApiDeps {
  probes: { health(): ProbeAnswer; readiness(): ProbeAnswer };
  taps: TapService;
  metrics(): Promise<WorkerMetrics>;
  reload(): Promise<ReloadOutcome>;
}

const ignore = () => {};

/** A tap a worker serves: its lines sent and not acknowledged, and whether it refused one since. */
interface WorkerTap {
  subscription?: TapSubscription;
  outstanding: number;
  starved: boolean;
  closed: boolean;
}

/**
 * Sends unless the channel is closed. Node emits a send on a closed channel as an 'error'
 * event, which nothing would handle: a worker or supervisor that lost the other end (it
 * died, or is stopping) would crash on the next answer or tap line instead of draining.
 */
function post(port: IpcPort, message: ApiRequest | ApiAnswer): boolean {
  return port.connected && port.send(message, undefined, undefined, ignore);
}

function isRequest(m: unknown): m is ApiRequest {
  return typeof m === 'object' && m !== null && typeof (m as { api?: unknown }).api === 'string' && 'id' in m;
}

/** In a worker: answers the supervisor's API requests until the returned function is called. */
export function serveApiOverIpc(deps: WorkerApiDeps, port: IpcPort): () => void {
  const taps = new Map<number, WorkerTap>();
  const answer = (id: number, run: () => unknown) => {
    Promise.resolve()
      .then(run)
      .then(
        (value) => post(port, { api: 'answer', id, value }),
        (err: unknown) =>
          post(port, {
            api: 'answer',
            id,
            error: err instanceof Error ? err.message : String(err),
            ...(err instanceof TapRequestError ? { tapPoints: err.tapPoints } : {}),
          }),
      );
  };
  const onMessage = (m: unknown) => {
    if (!isRequest(m)) return;
    switch (m.api) {
      case 'call':
        answer(m.id, () => {
          switch (m.op) {
            case 'metrics':
              return deps.metrics();
            case 'health':
              return deps.probes.health();
            case 'readiness':
              return deps.probes.readiness();
            case 'reload':
              return deps.reload();
          }
        });
        return;
      case 'tap': {
        const tap: WorkerTap = { outstanding: 0, starved: false, closed: false };
        taps.set(m.id, tap);
        const out: TapOutput = {
          write: (line) => {
            const bytes = Buffer.byteLength(line);
            if (tap.outstanding + bytes > TAP_CREDIT_BYTES && tap.outstanding >= TAP_ACK_BYTES) {
              tap.starved = true;
              return 'refused';
            }
            tap.outstanding += bytes;
            post(port, { api: 'tap-line', id: m.id, line });
            return true;
          },
          end: () => {
            taps.delete(m.id);
            post(port, { api: 'tap-end', id: m.id });
          },
        };
        answer(m.id, async () => {
          try {
            tap.subscription = await deps.taps.subscribe(m.request, out);
          } catch (err) {
            taps.delete(m.id);
            throw err;
          }
          if (tap.closed) tap.subscription.close();
          return true;
        });
        return;
      }
      case 'tap-ack': {
        const tap = taps.get(m.id);
        if (!tap) return;
        tap.outstanding -= m.bytes;
        if (tap.starved && tap.subscription) {
          tap.starved = false;
          tap.subscription.drained();
        }
        return;
      }
      case 'tap-close': {
        const tap = taps.get(m.id);
        if (!tap) return;
        tap.closed = true;
        tap.subscription?.close();
        return;
      }
    }
  };
  port.on('message', onMessage);
  return () => {
    port.off('message', onMessage);
    for (const tap of taps.values()) tap.subscription?.close();
  };
}

/** A worker did not answer, or is gone: the message says which and why. */
export class WorkerUnavailable extends Error {}

/**
 * In the supervisor: the API of one worker process (a new link for each process a restart
 * makes). Every call is answered, fails with the worker's own error, or fails with
 * WorkerUnavailable after `timeoutMs` or when the process exits.
 */
export class WorkerLink {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer?: NodeJS.Timeout }>();
  /** Open taps: where their lines go, and the bytes handed there not acknowledged yet. */
  private readonly streams = new Map<number, { out: TapOutput; unacked: number }>();
  private gone: string | undefined;
  private readonly onMessage = (m: unknown) => this.receive(m as ApiAnswer);

  constructor(
    readonly worker: number,
    private readonly port: IpcPort,
    private readonly timeoutMs = 5000,
  ) {
    port.on('message', this.onMessage);
  }

  call(op: 'metrics'): Promise<WorkerMetrics>;
  call(op: 'health' | 'readiness'): Promise<ProbeAnswer>;
  call(op: 'reload'): Promise<ReloadOutcome>;
  call(op: ApiOp): Promise<unknown> {
    const id = this.nextId++;
    return this.request({ api: 'call', id, op }, id, op === 'reload' ? undefined : this.timeoutMs);
  }

  /**
   * Opens a tap on this worker; its lines go to `out` until it ends or is closed. What `out`
   * took is acknowledged to the worker TAP_ACK_BYTES at a time with a line it answers `true`
   * (its reader keeps up), and whole at each `drained()`.
   */
  async tap(request: TapRequest, out: TapOutput): Promise<{ close(): void; drained(): void }> {
    const id = this.nextId++;
    this.streams.set(id, { out, unacked: 0 });
    try {
      await this.request({ api: 'tap', id, request }, id, this.timeoutMs);
    } catch (err) {
      this.streams.delete(id);
      // A worker that answers late still opens the tap: close it there.
      if (err instanceof WorkerUnavailable) post(this.port, { api: 'tap-close', id });
      throw err;
    }
    return {
      close: () => {
        if (this.streams.delete(id)) post(this.port, { api: 'tap-close', id });
      },
      drained: () => {
        const stream = this.streams.get(id);
        if (stream && stream.unacked > 0) this.ack(id, stream);
      },
    };
  }

  /** The process exited (or its channel closed): every call waiting fails, every open tap on it ends. */
  exited(why: string): void {
    if (this.gone) return;
    this.gone = why;
    this.port.off('message', this.onMessage);
    // A tap still opening fails with the rest; only the open ones end.
    for (const [id, stream] of this.streams) if (!this.pending.has(id)) stream.out.end();
    this.streams.clear();
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new WorkerUnavailable(`worker ${this.worker} ${why}`));
    }
  }

  private request(message: ApiRequest, id: number, timeoutMs: number | undefined): Promise<unknown> {
    if (this.gone) return Promise.reject(new WorkerUnavailable(`worker ${this.worker} ${this.gone}`));
    return new Promise((resolve, reject) => {
      // A reload waits for sinks to open and writes in flight to finish: it has no deadline here.
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.pending.delete(id);
              this.streams.delete(id);
              reject(new WorkerUnavailable(`worker ${this.worker} did not answer within ${timeoutMs / 1000}s`));
            }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      post(this.port, message);
    });
  }

  private receive(m: ApiAnswer): void {
    if (typeof m !== 'object' || m === null) return;
    switch (m.api) {
      case 'answer': {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if ('error' in m)
          p.reject(m.tapPoints ? new TapRequestError(m.error, m.tapPoints) : new Error(`worker ${this.worker}: ${m.error}`));
        else p.resolve(m.value);
        return;
      }
      case 'tap-line': {
        const stream = this.streams.get(m.id);
        if (!stream) return;
        stream.unacked += Buffer.byteLength(m.line);
        const keepsUp = stream.out.write(m.line) === true;
        // Writing may have ended the tap (its limit): nothing more to acknowledge then.
        if (keepsUp && stream.unacked >= TAP_ACK_BYTES && this.streams.has(m.id)) this.ack(m.id, stream);
        return;
      }
      case 'tap-end': {
        const stream = this.streams.get(m.id);
        this.streams.delete(m.id);
        stream?.out.end();
        return;
      }
    }
  }

  private ack(id: number, stream: { unacked: number }): void {
    post(this.port, { api: 'tap-ack', id, bytes: stream.unacked });
    stream.unacked = 0;
  }
}
