import { z } from 'zod';
import { maxMatchBytes } from '../regex.js';
import { commonOptions } from '../transform.js';
import { type CompiledPattern, CONVERSIONS, compileGrok, compileNamedGroups, type Conversion } from './grok.js';

export const PARSE_FORMATS = ['json', 'logfmt', 'key_value', 'regex', 'grok'] as const;

/** Where a value is read from or written to: the message, or an entry of `fields`. */
const FIELD_REF = /^(message|fields\.[^.].*)$/;

export const DEFAULT_LEVEL_KEYS = ['level', 'severity', 'lvl', 'loglevel', 'log.level', 'levelname', 'log_level'];

export const parseOptions = z
  .strictObject({
    ...commonOptions,
    format: z.enum(PARSE_FORMATS).describe('json, logfmt, key_value, regex (named groups) or grok (%{PATTERN:field})'),
    source: z
      .string()
      .regex(FIELD_REF, 'expected "message" or "fields.NAME"')
      .default('message')
      .describe('What to parse: the message, or fields.NAME'),
    target: z
      .string()
      .regex(/^fields(\.[^.].*)?$/, 'expected "fields" or "fields.NAME"')
      .default('fields')
      .describe('fields: merge what was parsed into the event fields; fields.NAME: put it under that key'),
    pattern: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('regex / grok: the pattern (RE2 syntax), or a list tried in order (the first that matches wins)'),
    definitions: z
      .record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'pattern names are upper case: letters, digits, "_"'), z.string().min(1))
      .default({})
      .describe('grok: more named patterns for %{NAME}, which may use the built-in ones'),
    types: z
      .record(z.string(), z.enum(CONVERSIONS as [Conversion, ...Conversion[]]))
      .default({})
      .describe('regex / grok / logfmt / key_value: convert these fields to int, float or bool (grok also takes %{NUMBER:bytes:int})'),
    field_separator: z.string().min(1).optional().describe('key_value: between pairs (default " ")'),
    value_separator: z.string().min(1).optional().describe('key_value: between a key and its value (default "=")'),
    standalone_keys: z
      .boolean()
      .optional()
      .describe('key_value: a piece without value separator is a key set to true (default true); false skips it'),
    level_keys: z
      .array(z.string().min(1))
      .default(DEFAULT_LEVEL_KEYS)
      .describe("A parsed key among these sets the event's level (normalized); [] leaves the level alone"),
    max_match_bytes: maxMatchBytes().describe(
      'regex / grok: longer values are not parsed (marked log.parse_error): the bound on what a pattern reads per event',
    ),
  })
  .superRefine((o, ctx) => {
    const patterned = o.format === 'regex' || o.format === 'grok';
    if (patterned && o.pattern === undefined)
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: `format ${o.format} needs a pattern` });
    if (!patterned && o.pattern !== undefined)
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: `format ${o.format} takes no pattern (only regex and grok do)` });
    if (o.format !== 'grok' && Object.keys(o.definitions).length > 0)
      ctx.addIssue({ code: 'custom', path: ['definitions'], message: 'definitions are for format grok' });
    if (o.format !== 'key_value')
      for (const key of ['field_separator', 'value_separator', 'standalone_keys'] as const)
        if (o[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is for format key_value` });
    if (o.format === 'json' && Object.keys(o.types).length > 0)
      ctx.addIssue({ code: 'custom', path: ['types'], message: 'JSON values keep their own types' });
    if (patterned && o.pattern !== undefined) {
      const list = Array.isArray(o.pattern) ? o.pattern : [o.pattern];
      list.forEach((p, i) => {
        try {
          compilePattern(o.format as 'regex' | 'grok', p, o);
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: Array.isArray(o.pattern) ? ['pattern', i] : ['pattern'], message: (err as Error).message });
        }
      });
    }
    if (o.format === 'grok')
      for (const [name, body] of Object.entries(o.definitions)) {
        try {
          compileGrok(body, o.definitions, o.types, o.max_match_bytes);
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: ['definitions', name], message: (err as Error).message });
        }
      }
  })
  .describe('Parses the message (or a field) as JSON, logfmt, key=value, a regex or grok patterns into fields');

export type ParseOptions = z.output<typeof parseOptions>;

export function compilePattern(
  format: 'regex' | 'grok',
  pattern: string,
  o: Pick<ParseOptions, 'definitions' | 'types' | 'max_match_bytes'>,
): CompiledPattern {
  return format === 'grok'
    ? compileGrok(pattern, o.definitions, o.types, o.max_match_bytes)
    : compileNamedGroups(pattern, o.types, o.max_match_bytes);
}
