import { z } from 'zod';
import { tlsOptions } from '../../core/options/tls.js';
import { isValidTimeZone, parseTemplate } from '../../core/template.js';
import { byteSize, duration } from '../../core/units.js';
import { checkPathTemplate } from '../file/paths.js';
import { dayLayout } from '../file/retention.js';
import { schemaOption } from '../schema/schema.js';

/** Options of the `webhdfs` sink (everything besides `type`); strict, so a misspelt key is an error. */
export const webhdfsSinkOptions = z
  .strictObject({
    namenodes: z
      .array(
        z.string().regex(/^https?:\/\/[^/\s]+\/?$/, 'a NameNode is "http://host:port" or "https://host:port" (its WebHDFS HTTP address)'),
      )
      .min(1)
      .describe('WebHDFS addresses of the NameNodes, tried in order: an HA pair fails over to the next one when one is down or standby'),
    root: z
      .string()
      .regex(/^\/(?:[^/]+(?:\/[^/]+)*)?$/, 'an absolute HDFS directory such as "/logs" (no trailing "/", no empty segment)')
      .default('/sluice')
      .describe('HDFS directory the tree is written under; nothing is written outside it'),
    path: z
      .string()
      .min(1)
      .default('{service}/{module}/%Y-%m-%d/{host}.log')
      .describe(
        'Path of each file under root, as in the file sink: {service} {module} {host} {source.kind} {fields.NAME} and %Y %m %d %H ...',
      ),
    time_zone: z
      .string()
      .default('UTC')
      .refine(isValidTimeZone, { message: 'unknown time zone: use an IANA name such as "UTC", "Europe/Berlin" or "Asia/Kolkata"' })
      .describe('IANA time zone the %-formats (and so the day directories) are in'),
    encoding: z
      .enum(['text', 'json'])
      .default('text')
      .describe('text: the raw message per line; json: one line per event with every field'),
    schema: schemaOption().describe(
      'json: the shape of each line: sluice (the wire format), ecs (Elastic Common Schema) or otel (OpenTelemetry log data model)',
    ),
    compression: z.enum(['none', 'gzip']).default('none').describe('gzip: each batch is one gzip member; ".gz" is appended to names'),
    gzip_level: z.number().int().min(1).max(9).default(6).describe('gzip compression level, 1 (fastest) to 9 (smallest)'),
    roll_size: byteSize()
      .default(128 * 1024 * 1024)
      .describe('A file is finished once it holds this many bytes (one HDFS block by default); 0 = no size limit'),
    roll_age: duration().default(3_600_000).describe('A file is finished this long after it was created; 0 = no age limit'),
    idle_timeout: duration().default(300_000).describe('A file nothing was written to for this long is finished; 0 = never'),
    max_open_files: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(64)
      .describe('Files in progress at once; one more finishes the least recently written'),
    retention_days: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Keep the day directories of the last N days (today included) and delete older ones; 0 = keep everything'),
    retention_interval: duration().default(3_600_000).describe('How often day directories are checked against retention_days'),
    auth: z
      .enum(['simple', 'delegation_token', 'kerberos'])
      .default('simple')
      .describe('simple: user.name (clusters without Kerberos); delegation_token: a token from `hdfs fetchdt` or an operator'),
    user: z.string().min(1).optional().describe('user.name for auth: simple (default: the user running Sluice)'),
    delegation_token: z.string().min(1).optional().describe('The delegation token for auth: delegation_token (use ${ENV_VAR})'),
    tls: tlsOptions.optional().describe('For https:// NameNodes: the CA file and client certificate; DataNodes are reached the same way'),
    request_timeout: duration().default(60_000).describe('Longest wait for a NameNode or DataNode to answer; the write is then retried'),
    dedupe_window: z
      .number()
      .int()
      .min(0)
      .max(10_000_000)
      .default(500_000)
      .describe('Event ids the write journal remembers to skip what a crash left written but unacknowledged; 0 = at-least-once'),
  })
  .superRefine((o, ctx) => {
    try {
      checkPathTemplate(o.path);
      if (o.path.includes(':')) throw new Error(`path template ${JSON.stringify(o.path)}: HDFS names cannot hold ":"`);
      const parts = parseTemplate(o.path);
      if (o.retention_days > 0) dayLayout(parts, o.path);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        path: [o.retention_days > 0 && /retention_days/.test((err as Error).message) ? 'retention_days' : 'path'],
        message: (err as Error).message,
      });
    }
    if (o.auth === 'kerberos')
      ctx.addIssue({
        code: 'custom',
        path: ['auth'],
        message:
          'kerberos (SPNEGO) is not available yet: use auth: delegation_token with a token fetched by a Kerberos client, or auth: simple',
      });
    if (o.auth === 'delegation_token' && o.delegation_token === undefined)
      ctx.addIssue({ code: 'custom', path: ['delegation_token'], message: 'auth: delegation_token needs delegation_token' });
    if (o.auth !== 'delegation_token' && o.delegation_token !== undefined)
      ctx.addIssue({ code: 'custom', path: ['delegation_token'], message: 'delegation_token is only used with auth: delegation_token' });
    if (o.auth === 'delegation_token' && o.user !== undefined)
      ctx.addIssue({ code: 'custom', path: ['user'], message: 'user is for auth: simple; a delegation token names its user itself' });
    if (o.schema !== 'sluice' && o.encoding !== 'json')
      ctx.addIssue({ code: 'custom', path: ['schema'], message: `schema ${o.schema} shapes JSON lines: it needs encoding: json` });
    if (o.tls !== undefined && o.namenodes.some((n) => n.startsWith('http://')))
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls is set but a NameNode address is http://: use https:// addresses' });
  })
  .describe("Writes events into HDFS over WebHDFS: the file sink's tree (service, module, day), in-progress files renamed when finished");

export type WebHdfsSinkOptions = z.output<typeof webhdfsSinkOptions>;
export type WebHdfsSinkInput = z.input<typeof webhdfsSinkOptions>;
