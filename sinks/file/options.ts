import { z } from 'zod';
import { isValidTimeZone, parseTemplate } from '../../core/template.js';
import { checkPathTemplate } from './paths.js';
import { dayLayout } from './retention.js';
import { timeWindowOptions } from '../../core/options/time-window.js';
import { byteSize, duration } from '../../core/units.js';
import { schemaOption } from '../schema/schema.js';

/**
 * A file mode written as octal text ("0640"). An unquoted 0640 is the decimal number 640 in
 * YAML 1.2, so numbers are refused with the quoted spelling as the fix.
 */
const fileMode = () =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const m = typeof v === 'string' ? /^0?o?([0-7]{3})$/.exec(v.trim()) : null;
    if (m) {
      const mode = Number.parseInt(m[1]!, 8);
      if ((mode & 0o600) === 0o600) return mode;
      ctx.addIssue({
        code: 'custom',
        message: `file mode "${v}" must let the owner read and write (6 as its first digit): the sink reopens files after a crash`,
      });
      return z.NEVER;
    }
    const hint =
      typeof v === 'number' && /^[0-7]{3}$/.test(String(v)) ? ` (YAML reads an unquoted ${v} as a decimal number: write "0${v}")` : '';
    ctx.addIssue({ code: 'custom', message: `expected a file mode as quoted octal text such as "0640", got ${JSON.stringify(v)}${hint}` });
    return z.NEVER;
  });

/** Options of the `file` sink (everything besides `type`); strict, so a misspelt key is an error. */
export const fileSinkOptions = z
  .strictObject({
    root: z
      .string()
      .min(1)
      .default('./var/out')
      .describe(
        'Directory the tree is written under (relative paths are relative to the working directory); nothing is ever written outside it',
      ),
    path: z
      .string()
      .min(1)
      .default('{service}/{module}/%Y-%m-%d/{host}.log')
      .describe(
        'Path of each file under root: {service} {module} {host} {source.kind} {fields.NAME} take event values (each becomes one safe path segment), %Y %m %d %H ... the event time in time_zone',
      ),
    time_zone: z
      .string()
      .default('UTC')
      .refine(isValidTimeZone, { message: 'unknown time zone: use an IANA name such as "UTC", "Europe/Berlin" or "Asia/Kolkata"' })
      .describe('IANA time zone the %-formats (and so the day directories) are in'),
    ...timeWindowOptions,
    encoding: z
      .enum(['text', 'json'])
      .default('text')
      .describe('text: the raw message per line; json: one line per event with every field (the wire format)'),
    schema: schemaOption().describe(
      'json: the shape of each line: sluice (the wire format), ecs (Elastic Common Schema) or otel (OpenTelemetry log data model)',
    ),
    compression: z
      .enum(['none', 'gzip'])
      .default('none')
      .describe('gzip: each batch is one gzip member (the file reads with zcat even while being written); ".gz" is appended to names'),
    gzip_level: z.number().int().min(1).max(9).default(6).describe('gzip compression level, 1 (fastest) to 9 (smallest)'),
    roll_size: byteSize()
      .default(128 * 1024 * 1024)
      .describe('A file is finished once it holds this many bytes (on disk); 0 = no size limit'),
    roll_age: duration().default(3_600_000).describe('A file is finished this long after it was opened; 0 = no age limit'),
    idle_timeout: duration().default(300_000).describe('A file nothing was written to for this long is finished; 0 = never'),
    max_open_files: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(256)
      .describe('Files open at once; opening one more finishes the least recently written'),
    retention_days: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Keep the day directories of the last N days (today included) and delete older ones; 0 = keep everything'),
    retention_interval: duration().default(3_600_000).describe('How often day directories are checked against retention_days'),
    file_mode: fileMode()
      .default(0o640)
      .describe(
        'Permissions of the files written, as quoted octal ("0640": owner writes, group reads, others nothing); applied as given, whatever the umask',
      ),
  })
  .superRefine((o, ctx) => {
    if (o.schema !== 'sluice' && o.encoding !== 'json')
      ctx.addIssue({ code: 'custom', path: ['schema'], message: `schema ${o.schema} shapes JSON lines: it needs encoding: json` });
    try {
      checkPathTemplate(o.path);
      const parts = parseTemplate(o.path);
      if (o.retention_days > 0) dayLayout(parts, o.path);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        path: [o.retention_days > 0 && /retention_days/.test((err as Error).message) ? 'retention_days' : 'path'],
        message: (err as Error).message,
      });
    }
  })
  .describe(
    "Writes events into a file tree partitioned by service, module and day, with in-progress files renamed when finished (like Flume's HDFS sink)",
  );

export type FileSinkOptions = z.output<typeof fileSinkOptions>;
export type FileSinkInput = z.input<typeof fileSinkOptions>;
