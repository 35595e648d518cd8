import { pino, type Logger as PinoLogger } from 'pino';
import { createRequire } from 'node:module';

/**
 * Sluice's own logs (not the logs it ships): JSON lines on stderr, one logger per
 * component with its name bound, so every line says which component spoke.
 *
 * One way of writing a line, everywhere:
 * - the message is a fixed text ("file taken up", "kafka down"): values never go into it;
 * - values are snake_case fields beside it (`path`, `offset`, `topic`, `partition`);
 * - an error goes in `err` (the Error itself: pino prints message, code and stack);
 * - a component's logger is made once with `component` (and `type`) bound; a child adds
 *   other keys, never `component` again.
 */
export type Logger = PinoLogger;

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export type LogFormat = 'json' | 'pretty';

/**
 * JSON lines for machines (a service manager, a pipe, a log collector); one coloured line
 * per entry when stderr is a terminal, so a person running Sluice by hand can read it.
 * SLUICE_LOG_FORMAT=json|pretty overrides the guess.
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env, stderr: { isTTY?: boolean } = process.stderr): LogFormat {
  const forced = env.SLUICE_LOG_FORMAT;
  if (forced === 'json' || forced === 'pretty') return forced;
  return stderr.isTTY === true ? 'pretty' : 'json';
}

/**
 * pino-pretty only where lines are read by a person (a terminal): a process logging JSON, a
 * sidecar's normal case, does not load it (about 10 MiB of RSS).
 */
function prettyStream(): typeof import('pino-pretty').PinoPretty {
  return (createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')).PinoPretty;
}

export function createLogger(level: LogLevel = 'info', format: LogFormat = logFormat()): Logger {
  const options = { level, base: { pid: process.pid } };
  if (format === 'json') return pino(options, pino.destination({ dest: 2, sync: true }));
  // In the main thread and synchronous, like the JSON destination: a line logged just
  // before a crash or exit is never lost in a worker's queue.
  return pino(
    options,
    prettyStream()({
      destination: 2,
      sync: true,
      colorize: true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      messageFormat: '{if component}{component}: {end}{msg}',
      ignore: 'pid,hostname,component',
    }),
  );
}

/** A logger that writes nothing: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export interface OutageLogOptions {
  /** What is down, as the fixed part of the three messages: "kafka" gives "kafka down", "kafka still down", "kafka back". */
  what: string;
  /** How often "still down" is repeated while the outage lasts. Default 60 s. */
  repeatMs?: number;
  /** Fields bound on every line (topic, url, path...). */
  fields?: Record<string, unknown>;
  now?: () => number;
}

/**
 * The one throttle for anything that can be down for a while (a broker, a node, a full
 * disk): "X down" once when it starts (warn, with the first error), "X still down" at most
 * every `repeatMs` with the count of failures so far, and "X back" (info) with how long it
 * lasted. Call failed(err) on every failure and ok() on every success; both are cheap.
 */
export class OutageLog {
  private since: number | undefined;
  private lastReport = 0;
  private failures = 0;
  private readonly repeatMs: number;
  private readonly now: () => number;

  constructor(
    private readonly logger: Logger,
    private readonly options: OutageLogOptions,
  ) {
    this.repeatMs = options.repeatMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  get down(): boolean {
    return this.since !== undefined;
  }

  /** When the outage started (ms since epoch), or undefined while up. */
  get downSince(): number | undefined {
    return this.since;
  }

  failed(err: unknown, fields: Record<string, unknown> = {}): void {
    const now = this.now();
    this.failures++;
    if (this.since === undefined) {
      this.since = now;
      this.lastReport = now;
      this.logger.warn({ ...this.options.fields, ...fields, err }, `${this.options.what} down`);
    } else if (now - this.lastReport >= this.repeatMs) {
      this.lastReport = now;
      this.logger.warn(
        { ...this.options.fields, ...fields, err, failures: this.failures, down_ms: now - this.since },
        `${this.options.what} still down`,
      );
    }
  }

  ok(fields: Record<string, unknown> = {}): void {
    if (this.since === undefined) return;
    const now = this.now();
    this.logger.info(
      { ...this.options.fields, ...fields, failures: this.failures, down_ms: now - this.since },
      `${this.options.what} back`,
    );
    this.since = undefined;
    this.failures = 0;
  }
}
