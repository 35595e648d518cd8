import { pino, type Logger as PinoLogger } from 'pino';

/**
 * Sluice's own logs (not the logs it ships): JSON lines on stderr, one logger per
 * component with its name bound, so every line says which component spoke.
 */
export type Logger = PinoLogger;

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export function createLogger(level: LogLevel = 'info'): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that writes nothing: for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
