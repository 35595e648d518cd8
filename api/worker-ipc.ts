import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ProbeAnswer } from './readiness.js';
import type { ReloadOutcome } from './server.js';
import { type TapOutput, type TapRequest, TapRequestError, type TapService, type TapSubscription } from './tap.js';

/**
 * How a collector's supervisor answers the API for its workers (`--workers N`): each worker
 * serves its API over the IPC channel its supervisor forked it with, instead of over HTTP,
 * and the supervisor's one HTTP server asks every worker and merges the answers
 * (api/group.ts). Plain request/answer messages, plus a stream of lines per tap.
 */
export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

export type ApiOp = 'metrics' | 'health' | 'readiness' | 'reload';

/** Supervisor → worker. */
export type ApiRequest =
  | { api: 'call'; id: number; op: ApiOp }
  | { api: 'tap'; id: number; request: TapRequest }
  /** The supervisor's reader is behind: the worker skips events for it (counted) until `tap-drained`. */
  | { api: 'tap-congested'; id: number }
  | { api: 'tap-drained'; id: number }
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
  const taps = new Map<number, { subscription?: TapSubscription; congested: boolean; closed: boolean }>();
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
        const tap = { subscription: undefined as TapSubscription | undefined, congested: false, closed: false };
        taps.set(m.id, tap);
        const out: TapOutput = {
          write: (line) => {
            post(port, { api: 'tap-line', id: m.id, line });
            return !tap.congested;
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
      case 'tap-congested': {
        const tap = taps.get(m.id);
        if (tap) tap.congested = true;
        return;
      }
      case 'tap-drained': {
        const tap = taps.get(m.id);
        if (!tap) return;
        tap.congested = false;
        tap.subscription?.drained();
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
  private readonly streams = new Map<number, TapOutput>();
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

  /** Opens a tap on this worker; its lines go to `out` until it ends or is closed. */
  async tap(request: TapRequest, out: TapOutput): Promise<{ close(): void; congested(): void; drained(): void }> {
    const id = this.nextId++;
    this.streams.set(id, out);
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
      congested: () => {
        if (this.streams.has(id)) post(this.port, { api: 'tap-congested', id });
      },
      drained: () => {
        if (this.streams.has(id)) post(this.port, { api: 'tap-drained', id });
      },
    };
  }

  /** The process exited (or its channel closed): every call waiting fails, every open tap on it ends. */
  exited(why: string): void {
    if (this.gone) return;
    this.gone = why;
    this.port.off('message', this.onMessage);
    // A tap still opening fails with the rest; only the open ones end.
    for (const [id, out] of this.streams) if (!this.pending.has(id)) out.end();
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
      case 'tap-line':
        this.streams.get(m.id)?.write(m.line);
        return;
      case 'tap-end': {
        const out = this.streams.get(m.id);
        this.streams.delete(m.id);
        out?.end();
        return;
      }
    }
  }
}
