import { z } from 'zod';
import { timeWindowOptions } from '../../core/options/time-window.js';
import { isValidTimeZone, parseTemplate } from '../../core/template.js';
import { byteSize, duration } from '../../core/units.js';
import { schemaOption } from '../schema/schema.js';
import { checkPathTemplate } from './paths.js';
import { dayLayout } from './retention.js';

/**
 * The options of a file tree by service, module and day, the same keys with the same
 * meaning wherever the tree is written (the `file` sink on a local disk, the `webhdfs` sink
 * in HDFS). Each sink adds where the tree lives and how many files it keeps open.
 */
const treeOptions = {
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
  encoding: z.enum(['text', 'json']).default('text').describe('text: the raw message per line; json: one line per event with every field'),
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
    .describe('A file is finished once it holds this many bytes (128MiB: one HDFS block); 0 = no size limit'),
  roll_age: duration().default(3_600_000).describe('A file is finished this long after it was opened; 0 = no age limit'),
  idle_timeout: duration().default(300_000).describe('A file nothing was written to for this long is finished; 0 = never'),
  retention_days: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('Keep the day directories of the last N days (today included) and delete older ones; 0 = keep everything'),
  retention_interval: duration().default(3_600_000).describe('How often day directories are checked against retention_days'),
};

/**
 * The tree's options, the time window's, and the cap on files in progress, whose bounds
 * depend on where the tree lives (a local disk holds more open files than HDFS leases).
 */
export function treeSinkOptions(openFiles: { max: number; default: number; describe: string }) {
  return {
    ...treeOptions,
    ...timeWindowOptions,
    max_open_files: z.number().int().min(1).max(openFiles.max).default(openFiles.default).describe(openFiles.describe),
  };
}

/** The checks across tree options: a path template that makes safe paths (and days, for retention), a schema with JSON lines. */
export function checkTreeOptions(
  o: { path: string; retention_days: number; schema: string; encoding: string },
  ctx: z.RefinementCtx,
  checkPath: (path: string) => void = () => undefined,
): void {
  if (o.schema !== 'sluice' && o.encoding !== 'json')
    ctx.addIssue({ code: 'custom', path: ['schema'], message: `schema ${o.schema} shapes JSON lines: it needs encoding: json` });
  try {
    checkPathTemplate(o.path);
    checkPath(o.path);
    const parts = parseTemplate(o.path);
    if (o.retention_days > 0) dayLayout(parts, o.path);
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      path: [o.retention_days > 0 && /retention_days/.test((err as Error).message) ? 'retention_days' : 'path'],
      message: (err as Error).message,
    });
  }
}
