import { z } from 'zod';
import { secret } from '../../core/options/secret.js';
import { maxMatchBytes, regexProblem } from '../regex.js';
import { commonOptions } from '../transform.js';
import { DEFAULT_DETECTORS, DETECTORS, type DetectorName } from './detectors.js';

export const DEFAULT_SECRET_FIELDS = [
  'password',
  'passwd',
  'secret',
  'token',
  'api_key',
  'apikey',
  'access_token',
  'refresh_token',
  'client_secret',
  'authorization',
  'cookie',
  'set-cookie',
];

export const redactOptions = z
  .strictObject({
    ...commonOptions,
    detectors: z
      .array(z.enum(DETECTORS as unknown as [DetectorName, ...DetectorName[]]))
      .default([...DEFAULT_DETECTORS])
      .describe(`built-in detectors: ${DETECTORS.join(', ')} (default: all but ipv4 and ipv6)`),
    patterns: z
      .record(
        z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower-case letters, digits and "_" (the name appears in the mask)'),
        z.string().superRefine((v, ctx) => {
          const problem = regexProblem(v);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      )
      .default({})
      .describe('name: regex (RE2 syntax) of your own secrets; with a group named `value` only that group is hidden'),
    on: z
      .array(z.enum(['message', 'fields']))
      .min(1)
      .default(['message', 'fields'])
      .describe('where to look: the message, the string values of fields (at any depth), or both'),
    secret_fields: z
      .array(z.string().min(1))
      .default(DEFAULT_SECRET_FIELDS)
      .describe('field names (any depth, any case) whose whole value is hidden, whatever it holds'),
    allow_fields: z
      .array(z.string().min(1))
      .default([])
      .describe('field names (or dotted paths, "*" globs) never redacted: ids you need to join on'),
    mode: z.enum(['mask', 'hash']).default('mask').describe('mask: a fixed text; hash: a keyed hash, so equal values stay equal'),
    hash_key: secret(z.string().min(16, 'at least 16 characters'))
      .optional()
      .describe('hash: the HMAC-SHA256 key (write "${REDACT_KEY}" to take it from the environment); never logged'),
    replacement: z
      .string()
      .min(1)
      .optional()
      .describe('the text put in place: {detector} and (hash) {hash}; default "[REDACTED:{detector}]" or "[REDACTED:{detector}:{hash}]"'),
    max_match_bytes: maxMatchBytes().describe('values longer than this are searched on their first max_match_bytes only'),
  })
  .superRefine((o, ctx) => {
    if (o.mode === 'hash' && o.hash_key === undefined)
      ctx.addIssue({ code: 'custom', path: ['hash_key'], message: 'mode hash needs a hash_key (e.g. "${REDACT_KEY}")' });
    if (o.mode === 'mask' && o.hash_key !== undefined)
      ctx.addIssue({ code: 'custom', path: ['hash_key'], message: 'hash_key is for mode hash' });
    if (o.mode === 'mask' && o.replacement?.includes('{hash}'))
      ctx.addIssue({ code: 'custom', path: ['replacement'], message: '{hash} needs mode hash' });
    if (o.detectors.length === 0 && Object.keys(o.patterns).length === 0 && o.secret_fields.length === 0)
      ctx.addIssue({ code: 'custom', message: 'nothing to redact: no detectors, patterns or secret_fields' });
  })
  .describe('Hides secrets and personal data in the message and fields: built-in detectors and your patterns, masked or hashed');

export type RedactOptions = z.output<typeof redactOptions>;
