import { resolve } from 'node:path';
import { z } from 'zod';
import { byteSize, duration } from '../../../core/units.js';

/**
 * Options of the `file` source (everything besides `type`). Strict: an unknown key is a
 * configuration error, never silently ignored.
 */
const multilineSchema = z
  .strictObject({
    preset: z
      .enum(['java', 'python', 'go'])
      .optional()
      .describe('Ready-made start/continuation rules for the stack traces of that language; explicit patterns override it'),
    start: z
      .string()
      .optional()
      .describe('Regular expression matching the first line of an event; lines that do not match continue the current event'),
    continuation: z
      .string()
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
    max_bytes: byteSize()
      .pipe(z.number().int().min(1024))
      .default(4 * 1024 * 1024)
      .describe('Bytes after which an event is closed even if more continuation lines follow'),
    flush_timeout: duration()
      .pipe(z.number().int().min(1))
      .default(1000)
      .describe('An event whose next line has not arrived for this long is emitted'),
  })
  .describe('Join continuation lines (stack traces) into one event');

const timestampSchema = z
  .strictObject({
    pattern: z.string().describe('Regular expression applied to the line; the named group `time` (or the first group) holds the timestamp'),
    format: z
      .enum(['auto', 'epoch_s', 'epoch_ms'])
      .default('auto')
      .describe('auto: ISO 8601 / "YYYY-MM-DD HH:MM:SS[.,fff]" (UTC unless an offset is given) or anything Date.parse accepts'),
  })
  .describe('Event time taken from the line; lines without a parsable time get the read time');

/** Relative patterns are taken from the working directory, like data_dir. */
const pathPattern = () =>
  z
    .string()
    .min(1)
    .transform((p) => resolve(p));

export const fileSourceOptions = z.strictObject({
  include: z
    .array(pathPattern())
    .min(1)
    .describe('Glob patterns of files to tail (*, **, ?, [abc], {a,b}); relative ones are taken from the working directory'),
  exclude: z.array(pathPattern()).default([]).describe('Glob patterns of paths never tailed'),
  start_at: z
    .enum(['beginning', 'end'])
    .default('beginning')
    .describe(
      'Where reading starts in files found by the very first scan (no checkpoint yet); files appearing later are always read from the beginning',
    ),
  path_pattern: pathPattern()
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
  multiline: multilineSchema.optional(),
  max_line_bytes: byteSize()
    .pipe(
      z
        .number()
        .int()
        .min(256)
        .max(64 * 1024 * 1024),
    )
    .default(1024 * 1024)
    .describe('Longest line kept whole; longer lines are truncated or split (see long_lines) and counted'),
  long_lines: z.enum(['truncate', 'split']).default('truncate').describe('What happens to lines longer than max_line_bytes'),
  partial_line_timeout: duration()
    .pipe(z.number().int().min(0))
    .default(5000)
    .describe('A last line without newline is emitted after the file has been idle this long; 0 = wait for the newline forever'),
  fingerprint_bytes: z.number().int().min(16).max(65_536).default(256).describe('Bytes at the start of a file hashed into its identity'),
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
  batch_max_events: z.number().int().min(1).max(1_000_000).default(2048).describe('Most events handed to the channel in one put'),
  batch_max_bytes: byteSize()
    .pipe(z.number().int().min(4096))
    .default(4 * 1024 * 1024)
    .describe('Most message bytes handed to the channel in one put'),
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
    .describe('How often open files are checked for growth, truncation and rotation'),
  rescan_interval: duration()
    .pipe(z.number().int().min(10))
    .default(10_000)
    .describe('How often the globs are re-evaluated (safety net behind the file watcher)'),
  rotate_wait: duration()
    .pipe(z.number().int().min(0))
    .default(5000)
    .describe('A file renamed away or deleted is still read this long after its last growth before it is let go'),
  forget_after: duration()
    .pipe(z.number().int().min(0))
    .default(300_000)
    .describe(
      'How long the position of a file that was let go (or truncated) is remembered, so a copy of it (copytruncate) continues there',
    ),
  checkpoint_interval: duration()
    .pipe(z.number().int().min(10))
    .default(1000)
    .describe('How often positions are also written to the checkpoint file in dataDir'),
  watch: z.boolean().default(true).describe('Use file system notifications (chokidar) besides polling'),
});

export type FileSourceOptions = z.output<typeof fileSourceOptions>;
export type FileSourceInput = z.input<typeof fileSourceOptions>;
export type MultilineOptions = z.output<typeof multilineSchema>;
export type TimestampOptions = z.output<typeof timestampSchema>;
