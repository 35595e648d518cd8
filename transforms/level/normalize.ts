import type { FieldValue } from '../../core/event.js';
import { trimmed } from '../trim.js';

/**
 * One spelling per severity, so that `level: error` in a route, `sluice search --level
 * error` and a Kibana filter find every event of that severity whatever the program wrote.
 * The set is OpenTelemetry's: trace, debug, info, warn, error, fatal.
 *
 * - warning, wrn -> warn; err, eror, erro, fail, severe -> error
 * - critical, crit, emerg(ency), alert, panic, fatal, ftl -> fatal (the top of every scale:
 *   Python's CRITICAL is log4j's FATAL and syslog's crit/alert/emerg)
 * - notice, information(al), inf -> info (syslog's notice is informational)
 * - fine -> debug, finer / finest / verbose -> trace (java.util.logging, .NET)
 *
 * A word outside these (an application's own `audit`) is kept lower-cased when set
 * explicitly (parse, fields promote); detection only ever yields the six.
 */
export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Level = (typeof LEVELS)[number];

const SYNONYMS: Record<string, Level> = {
  trace: 'trace',
  trc: 'trace',
  trac: 'trace',
  trce: 'trace',
  finer: 'trace',
  finest: 'trace',
  verbose: 'trace',
  debug: 'debug',
  dbg: 'debug',
  debu: 'debug',
  dbug: 'debug',
  fine: 'debug',
  info: 'info',
  inf: 'info',
  information: 'info',
  informational: 'info',
  notice: 'info',
  warn: 'warn',
  warning: 'warn',
  wrn: 'warn',
  error: 'error',
  err: 'error',
  eror: 'error',
  erro: 'error',
  fail: 'error',
  severe: 'error',
  fatal: 'fatal',
  fata: 'fatal',
  ftl: 'fatal',
  critical: 'fatal',
  crit: 'fatal',
  alert: 'fatal',
  emerg: 'fatal',
  emergency: 'fatal',
  panic: 'fatal',
  pani: 'fatal',
  pnc: 'fatal',
};

/** Syslog severities 0-7 (the low three bits of `<PRI>`). */
export const SYSLOG_SEVERITY: readonly Level[] = ['fatal', 'fatal', 'fatal', 'error', 'warn', 'info', 'info', 'debug'];

/**
 * The synonyms as programs write them — lower, upper and capitalised — found without
 * lower-casing (an allocation per event: this runs twice on every JSON line). A Map, not
 * the object: "constructor" or "__proto__" is no level.
 */
const SPELLED = new Map<string, Level>();
const LOWER = new Map<string, Level>();
for (const [word, level] of Object.entries(SYNONYMS)) {
  LOWER.set(word, level);
  for (const spelling of [word, word.toUpperCase(), word[0]!.toUpperCase() + word.slice(1)]) SPELLED.set(spelling, level);
}
const LONGEST = Math.max(...Object.keys(SYNONYMS).map((w) => w.length));

/** A known level word (any case) as its level; undefined for anything else. */
export function levelOfWord(word: string): Level | undefined {
  return SPELLED.get(word) ?? (word.length <= LONGEST ? LOWER.get(word.toLowerCase()) : undefined);
}

/**
 * Pino and Bunyan write the level as a number: 10 trace, 20 debug, 30 info, 40 warn,
 * 50 error, 60 fatal.
 */
export function levelOfNumber(n: number): Level | undefined {
  if (!Number.isInteger(n) || n < 10 || n > 60 || n % 10 !== 0) return undefined;
  return LEVELS[n / 10 - 1];
}

const WORD = /^[A-Za-z][A-Za-z0-9_-]{0,23}$/;

/**
 * The level an explicitly named value stands for (a parsed `level` key, a promoted field):
 * a known word as its level, a pino number as its level, another short word lower-cased;
 * undefined when the value is no level at all (an object, a sentence).
 */
export function normalizeLevel(value: FieldValue | undefined): string | undefined {
  if (typeof value === 'number') return levelOfNumber(value);
  if (typeof value !== 'string') return undefined;
  const word = trimmed(value);
  const known = levelOfWord(word);
  if (known) return known;
  return WORD.test(word) ? word.toLowerCase() : undefined;
}
