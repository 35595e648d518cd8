import { z } from 'zod';
import { secret } from '../../core/options/secret.js';
import { tlsOptions } from '../../core/options/tls.js';
import { duration } from '../../core/units.js';
import { checkTreeOptions, treeSinkOptions } from '../file/tree-options.js';

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
    ...treeSinkOptions({ max: 10_000, default: 64, describe: 'Files in progress at once; one more finishes the least recently written' }),
    auth: z
      .enum(['simple', 'delegation_token', 'kerberos'])
      .default('simple')
      .describe('simple: user.name (clusters without Kerberos); delegation_token: a token from `hdfs fetchdt` or an operator'),
    user: z.string().min(1).optional().describe('user.name for auth: simple (default: the user running Sluice)'),
    delegation_token: secret(z.string().min(1))
      .optional()
      .describe('The delegation token for auth: delegation_token (use ${ENV_VAR}); never logged nor shown in errors'),
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
    checkTreeOptions(o, ctx, (path) => {
      if (path.includes(':')) throw new Error(`path template ${JSON.stringify(path)}: HDFS names cannot hold ":"`);
    });
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
    if (o.tls !== undefined && o.namenodes.some((n) => n.startsWith('http://')))
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls is set but a NameNode address is http://: use https:// addresses' });
  })
  .describe("Writes events into HDFS over WebHDFS: the file sink's tree (service, module, day), in-progress files renamed when finished");

export type WebHdfsSinkOptions = z.output<typeof webhdfsSinkOptions>;
export type WebHdfsSinkInput = z.input<typeof webhdfsSinkOptions>;
