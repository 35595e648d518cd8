import { type ChildProcess, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { type GroupMember, groupApi } from '../api/group.js';
import { type ApiServer, startApiServer } from '../api/server.js';
import { type IpcPort, WorkerLink } from '../api/worker-ipc.js';
import type { PipelineConfig } from '../config/load.js';
import { Backoff } from '../core/backoff.js';
import type { Logger } from '../core/log.js';

/**
 * `sluice collector --workers N`: N collector processes in one consumer group, so Kafka
 * spreads the partitions over them and decoding and routing use every core. This process
 * only supervises: it starts the workers (each a `sluice collector --worker I` with the
 * same config), forwards SIGTERM/SIGINT to them, restarts one that dies, and exits once all
 * have stopped. The workers write to the same stderr, each line with its `worker` index:
 * one log. It serves the group's one API, asking the workers over IPC (api/group.ts), and
 * a SIGHUP it gets reloads every worker.
 */

/** Why a config runs in one process only, or undefined when N processes may share its sinks. */
export function singleProcessReason(config: PipelineConfig): string | undefined {
  const own = config.sinks.find((s) => !s.spec.sharedAcrossProcesses);
  if (own)
    return `sinks.${own.name} (type ${own.type}) keeps state of its own on this host (a file tree with in-progress files) and runs in one process`;
  return undefined;
}

/**
 * How many worker processes to run: `requested`, or by default one per core when every sink
 * may be shared by several processes, else one. Throws (a usage error) when more than one is
 * asked for a config that cannot have more.
 */
export function workerCount(config: PipelineConfig, requested: number | undefined, logger: Logger): number {
  const reason = singleProcessReason(config);
  if (requested !== undefined) {
    if (requested > 1 && reason) throw new Error(`--workers ${requested}: ${reason}; use --workers 1`);
    return requested;
  }
  if (reason) {
    logger.debug({ reason }, 'one collector process');
    return 1;
  }
  return availableParallelism();
}

/** What a worker tells the supervisor over IPC. */
export type WorkerMessage = { started: true };

export interface Supervised {
  /** Where the group's API listens, when it does. */
  readonly apiUrl: string | undefined;
  stop(): Promise<number>;
}

export interface GroupApiOptions {
  config: PipelineConfig;
  about: Record<string, unknown>;
}

/**
 * Starts `count` workers running `args` of this same CLI. Resolves once every worker said it
 * started; rejects with the exit code of a worker that ended before that (its own one-line
 * error is already in the log), after stopping the others.
 */
/** A worker that ran this long before it exited is restarted after the shortest wait again. */
const STABLE_MS = 60_000;

export async function superviseWorkers(count: number, args: string[], logger: Logger, api: GroupApiOptions): Promise<Supervised> {
  const script = process.argv[1]!;
  const workers: (ChildProcess | undefined)[] = new Array(count).fill(undefined);
  const members: GroupMember[] = Array.from({ length: count }, (_, index) => ({ index, state: 'starting', restarts: 0 }));
  let stopping = false;
  let allStarted = false;
  let failStart: (code: number) => void = () => {};
  const startFailed = new Promise<never>(
    (_, reject) => (failStart = (code) => reject(Object.assign(new Error('worker failed'), { code }))),
  );
  const started = new Set<number>();
  let everyoneStarted: () => void = () => {};
  const ready = new Promise<void>((resolve) => (everyoneStarted = resolve));
  const exits: Promise<number>[] = new Array(count);
  /** Ends the waits between restarts: a stop must not wait them out. */
  const stopped = new AbortController();

  const launch = (index: number, backoff: Backoff): Promise<number> => {
    // Its own process group: a Ctrl-C reaches the supervisor alone, which then stops each
    // worker once (a second signal would make a worker exit without draining).
    const child = fork(script, [...args, '--worker', String(index)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
    workers[index] = child;
    const member = members[index]!;
    member.pid = child.pid;
    const link = new WorkerLink(index, child as unknown as IpcPort);
    member.link = link;
    // The channel closes before 'exit' is emitted: nothing must be sent to it in between.
    child.once('disconnect', () => link.exited('closed its IPC channel'));
    let startedAt: number | undefined;
    child.on('message', (m: WorkerMessage) => {
      if (!m.started) return;
      member.state = 'running';
      startedAt = Date.now();
      started.add(index);
      if (started.size === count) everyoneStarted();
    });
    return new Promise<number>((resolve) => {
      let ended = false;
      // A fork that failed (EAGAIN, EMFILE: a pids limit) emits 'error' and never 'exit':
      // taken as an exit, or the worker would never be restarted and a stop would wait for it.
      child.on('error', (err) => {
        if (child.pid === undefined) exited(null, null, err);
        else logger.warn({ worker: index, err: err.message }, 'collector worker: IPC error');
      });
      child.once('exit', (code, signal) => exited(code, signal));
      const exited = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
        if (ended) return;
        ended = true;
        workers[index] = undefined;
        link.exited(signal ? `exited on ${signal}` : `exited with code ${code}`);
        if (member.link === link) member.link = undefined;
        if (!stopping) member.state = 'restarting';
        const status = code ?? 1;
        if (stopping) return resolve(status);
        if (!allStarted) {
          failStart(status === 0 ? 1 : status);
          return resolve(status);
        }
        logger.error(
          { worker: index, exit_code: code, signal, ...(spawnError ? { err: spawnError.message } : {}) },
          spawnError ? 'collector worker could not be started; trying again' : 'collector worker exited; restarting it',
        );
        member.restarts++;
        // Back to a short wait only after a worker that ran for a while: one that dies soon
        // after it starts (a batch that crashes it, read again each time) would otherwise
        // rejoin the group every second, and every rejoin rebalances the whole group.
        if (startedAt !== undefined && Date.now() - startedAt >= STABLE_MS) backoff.reset();
        void backoff.sleep(stopped.signal).then(async () => resolve(stopping ? status : await launch(index, backoff)));
      };
    });
  };

  // Up before the workers, so a probe sees the group starting rather than nothing at all.
  let server: ApiServer | undefined;
  const log = logger.child({ component: 'api' });
  try {
    server = await startApiServer(api.config.api, groupApi({ members: () => members }, api.about, log), log);
  } catch (err) {
    log.warn({ err, address: api.config.api.address }, 'api not started; the pipeline runs without it');
  }
  // A worker still starting has no SIGHUP handler yet (it would die of it) and reads the
  // file as it is anyway; while stopping, a reload is pointless (the pipeline's own rule).
  const onHup = () => {
    if (stopping) return;
    const up = members.filter((m) => m.state === 'running');
    logger.info({ workers: up.map((m) => m.index) }, 'SIGHUP: reloading every running worker');
    for (const m of up) workers[m.index]?.kill('SIGHUP');
  };
  process.on('SIGHUP', onHup);

  for (let i = 0; i < count; i++) exits[i] = launch(i, new Backoff(1000, 30_000));
  const stop = async (): Promise<number> => {
    stopping = true;
    stopped.abort();
    for (const w of workers) w?.kill('SIGTERM');
    const codes = await Promise.all(exits);
    process.off('SIGHUP', onHup);
    await server?.close();
    return codes.every((c) => c === 0) ? 0 : 1;
  };
  try {
    await Promise.race([ready, startFailed]);
  } catch (err) {
    await stop();
    throw err;
  }
  allStarted = true;
  return { apiUrl: server?.url, stop };
}

/** In a worker: tell the supervisor it started, and stop when the supervisor is gone. */
export function reportToSupervisor(stop: () => void): void {
  // A supervisor that died while this worker was starting is gone already: no 'disconnect' will come.
  if (!process.connected) return stop();
  process.send?.({ started: true } satisfies WorkerMessage);
  process.once('disconnect', stop);
}
