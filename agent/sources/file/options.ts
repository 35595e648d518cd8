import { resolve } from 'node:path';
import { z } from 'zod';
import { batchOptions } from '../../../core/options/batch.js';
import { startAt } from '../../../core/options/start-at.js';
import { byteSize, duration } from '../../../core/units.js';
import { codecFor, ENCODING_EXAMPLES } from './encoding.js';
import { PathTemplate } from './path-template.js';
import { compileGlob } from './glob.js';
import { canMatch } from './path-check.js';

/**
 * Options of the `file` source (everything besides `type`). Strict: an unknown key is a
 * configuration error, never silently ignored; renamed keys say what they are called now.
 * The tailing options are shared with the `docker` source (`tailingShape`).
 */

/** A regular expression from the config, compiled at load so a mistake is reported with its line. */
export const pattern = (what: string) =>
  z
    .string()
    .min(1)
    .superRefine((p, ctx) => {
      try {
        new RegExp(p);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `${what} is not a valid regular expression: ${(err as Error).message}` });
      }
    });

const multilineSchema = z
  .strictObject({
    preset: z
      .enum(['java', 'python', 'go'])
      .optional()
      .describe('Ready-made continuation rules for the stack traces of that language; an explicit pattern overrides it'),
    start: pattern('multiline.start')
      .optional()
      .describe('Regular expression matching the first line of an event; lines that do not match continue the current event'),
    continuation: pattern('multiline.continuation')
      .optional()
      .describe('Regular expression matching continuation lines (alternative to `start`); other lines start a new event'),
    negate: z.boolean().default(false).describe('Invert the pattern given in `start` or `continuation`'),
    max_lines: z
      .number()
      .int()
      .min(2)
      .max(100_000)
      .default(500)
      .describe('Lines after which an event is closed even if more continuation lines follow'),
    flush_timeout: duration()
      .pipe(z.number().int().min(1))
      .default(1000)
      .describe('An event whose next line has not arrived for this long is emitted'),
  })
  .superRefine((m, ctx) => {
    if (m.start !== undefined && m.continuation !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['continuation'], message: 'multiline takes either start or continuation, not both' });
    }
    if (m.start === undefined && m.continuation === undefined && m.preset === undefined) {
      ctx.addIssue({ code: 'custom', message: 'multiline needs a preset, a start or a continuation pattern' });
    }
  })
  .describe('Join continuation lines (stack traces) into one event')
  .meta({ renamed: { max_bytes: 'max_event_bytes beside multiline (one bound for lines and joined events)' } });

const timestampSchema = z
  .strictObject({
    pattern: pattern('timestamp.pattern').describe(
      'Regular expression applied to the line; the named group `time` (or the first group) holds the timestamp',
    ),
    format: z
      .enum(['auto', 'epoch_s', 'epoch_ms'])
      .default('auto')
      .describe('auto: ISO 8601 / "YYYY-MM-DD HH:MM:SS[.,fff]" (UTC unless an offset is given) or anything Date.parse accepts'),
  })
  .describe('Event time taken from the line; lines without a time get the read time, unusable times are marked log.time_invalid');

/**
 * A path, glob or path template: `check` says what is wrong with it. `~` is refused rather
 * than expanded: the agent often runs as another user (a service account, a container)
 * whose home is not the one meant. Relative ones are taken from the working directory,
 * like data_dir.
 */
export const pathOption = (check: (resolved: string) => void) =>
  z
    .string()
    .min(1)
    .transform((p, ctx) => {
      if (p.startsWith('~')) {
        const slash = p.indexOf('/');
        ctx.addIssue({
          code: 'custom',
          message: `"~" is not expanded in paths (the agent may run as another user, with another home): write the absolute path, or \${HOME}${slash === -1 ? '' : p.slice(slash)}`,
        });
        return z.NEVER;
      }
      const resolved = resolve(p);
      try {
        check(resolved);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
      return resolved;
    });

/** A glob (include, exclude). */
export const globOption = () => pathOption((p) => compileGlob(p));

export const LONG_LINES = ['truncate', 'split', 'skip'] as const;

/** The options of tailing itself, shared with the docker source. */
export const tailingShape = {
  start_at: startAt('beginning').describe(
    'Where reading starts in files found by the very first scan (no checkpoint yet); files appearing later are always read from the beginning',
  ),
  multiline: multilineSchema.optional(),
  max_event_bytes: byteSize()
    .pipe(
      z
        .number()
        .int()
        .min(1024)
        .max(64 * 1024 * 1024),
    )
    .default(900 * 1024)
    .describe(
      'Largest event (its message, in UTF-8 bytes): a longer line, or a longer joined multiline event, gets the long_lines policy. The default stays under what Kafka takes by default (1 MB)',
    ),
  long_lines: z
    .enum(LONG_LINES)
    .default('truncate')
    .describe(
      'What happens to a line or event longer than max_event_bytes: truncate (keep the head), split into pieces, or skip; all counted',
    ),
  max_match_bytes: byteSize()
    .pipe(
      z
        .number()
        .int()
        .min(64)
        .max(1024 * 1024),
    )
    .default(4096)
    .describe(
      'Patterns (multiline, timestamp, path_pattern) look at the first this many bytes of a line or path only: their cost stays bounded',
    ),
  partial_line_timeout: duration()
    .pipe(z.number().int().min(0))
    .default(5000)
    .describe('A last line without newline is emitted after the file has been idle this long; 0 = wait for the newline forever'),
  fingerprint_bytes: byteSize()
    .pipe(z.number().int().min(16).max(65_536))
    .default(256)
    .describe('Bytes at the start of a file hashed into its identity'),
  read_buffer_bytes: byteSize()
    .pipe(
      z
        .number()
        .int()
        .min(4096)
        .max(16 * 1024 * 1024),
    )
    .default(256 * 1024)
    .describe('Bytes read from a file at a time'),
  batch: batchOptions({ max_events: 2048, max_bytes: 4 * 1024 * 1024, timeout: 50 }).describe(
    'Events handed to the channel in one put: at most max_events / max_bytes (file bytes); timeout: how long a batch that is not full waits for more lines once the files have nothing more to read (0: put at once)',
  ),
  max_open_files: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1024)
    .describe('File descriptors kept open; idle files beyond it are closed and reopened at their position'),
  idle_close: duration()
    .pipe(z.number().int().min(0))
    .default(60_000)
    .describe('A file read to its end and unchanged this long has its descriptor closed'),
  poll_interval: duration()
    .pipe(z.number().int().min(10))
    .default(250)
    .describe(
      'How often followed files are checked for growth, truncation and rotation (a file whose changes the watcher announces: every 8 × this, at least every 2 s)',
    ),
  rescan_interval: duration()
    .pipe(z.number().int().min(10))
    .default(10_000)
    .describe('How often the globs are re-evaluated (safety net behind the file watcher)'),
  rotate_wait: duration()
    .pipe(z.number().int().min(0))
    .default(5000)
    .describe(
      'A file renamed away or deleted is still read this long after its last growth before it is let go; a new file starting like a followed one (a copytruncate copy) waits this long after its last growth for that one to be truncated',
    ),
  forget_after: duration()
    .pipe(z.number().int().min(0))
    .default(300_000)
    .describe(
      'How long the position of a file that was let go (or truncated) is remembered, so a copy of it (copytruncate) continues there; also the longest a copy still growing waits for its original to be truncated',
    ),
  checkpoint_interval: duration()
    .pipe(z.number().int().min(10))
    .default(1000)
    .describe('How often positions are also written to the checkpoint file in dataDir'),
  watch: z
    .boolean()
    .default(true)
    .describe(
      'Watch the directories matches can sit in (fs.watch, inotify on Linux: one watch per directory) to see new files and appends at once, besides polling',
    ),
  progress_after: byteSize()
    .pipe(z.number().int().min(0))
    .default(64 * 1024 * 1024)
    .describe(
      'A backlog of at least this many bytes (files not yet read into the channel, e.g. large files at the first start) is logged with done / total, rate and time left every 10s, and once read; 0: never',
    ),
};

/** Old spellings of the tailing options: a config using them gets "was renamed: use …". */
export const TAILING_RENAMES = {
  batch_max_events: 'batch.max_events (batch: {max_events, max_bytes, timeout})',
  batch_max_bytes: 'batch.max_bytes (batch: {max_events, max_bytes, timeout})',
  max_line_bytes: 'max_event_bytes (one bound for lines and joined events)',
} as const;

const encoding = z
  .string()
  .default('utf-8')
  .superRefine((label, ctx) => {
    try {
      codecFor(label);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${(err as Error).message}; for example ${ENCODING_EXAMPLES}` });
    }
  })
  .describe(
    'Character encoding of the files, converted to UTF-8: utf-8, utf-16le / utf-16be (a BOM decides), shift_jis, gbk, windows-1252, iso-8859-1, …',
  );

export const fileSourceOptions = z
  .strictObject({
    include: z
      .array(globOption())
      .min(1)
      .describe('Glob patterns of files to tail (*, **, ?, [abc], {a,b}); relative ones are taken from the working directory'),
    exclude: z.array(globOption()).default([]).describe('Glob patterns of paths never tailed'),
    path_pattern: pathOption((p) => new PathTemplate(p))
      .optional()
      .describe('Path template capturing fields, e.g. /var/log/{service}/{module}.log ({name} = one path segment, * and ** as in globs)'),
    service: z.string().min(1).optional().describe('Service of every event; default: captured by path_pattern, else the source name'),
    module: z
      .string()
      .min(1)
      .optional()
      .describe('Module of every event; default: captured by path_pattern, else the file name without extension'),
    fields: z.record(z.string(), z.string()).default({}).describe('Static fields added to every event'),
    timestamp: timestampSchema.optional(),
    encoding,
    ...tailingShape,
  })
  .superRefine((o, ctx) => {
    // Runs even when other options are wrong: only with include and path_pattern valid.
    if (typeof o.path_pattern !== 'string' || !Array.isArray(o.include) || !o.include.every((g) => typeof g === 'string')) return;
    const template = o.path_pattern;
    if (!o.include.some((g) => canMatch(g, template))) {
      ctx.addIssue({
        code: 'custom',
        path: ['path_pattern'],
        message: `path_pattern can never match a path of the include patterns (${o.include.join(', ')}): every event would get the fallback service and module`,
      });
    }
  })
  .meta({ renamed: TAILING_RENAMES });

export type FileSourceOptions = z.output<typeof fileSourceOptions>;
export type FileSourceInput = z.input<typeof fileSourceOptions>;
export type MultilineOptions = z.output<typeof multilineSchema>;
export type TimestampOptions = z.output<typeof timestampSchema>;
export type LongLines = (typeof LONG_LINES)[number];
