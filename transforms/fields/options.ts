import { z } from 'zod';
import { isValidTimeZone, parseTemplate } from '../../core/template.js';
import { timeFormatProblem } from '../time.js';
import { commonOptions } from '../transform.js';

const fieldName = z.string().min(1).describe('a key of fields; dots reach into nested objects');
const jsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

const template = z.string().superRefine((v, ctx) => {
  try {
    parseTemplate(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const fieldsOptions = z
  .strictObject({
    ...commonOptions,
    rename: z.record(fieldName, fieldName).default({}).describe('old name: new name (a missing field is no error)'),
    copy: z.record(fieldName, fieldName).default({}).describe('from: to'),
    add: z.record(fieldName, jsonValue).default({}).describe('name: value, only where the field is absent'),
    set: z
      .record(fieldName, z.union([template, z.number(), z.boolean(), z.null()]))
      .default({})
      .describe(
        'name: value, always; text is a template: {service} {module} {host} {source.kind} {fields.NAME}, %Y %m %d %H of the event time, %% for %',
      ),
    promote: z
      .strictObject({
        service: fieldName.optional(),
        module: fieldName.optional(),
        level: fieldName.optional(),
        message: fieldName.optional(),
        timestamp: fieldName.optional(),
      })
      .default({})
      .describe('service / module / level / message / timestamp: the field whose value becomes it (moved out of fields)'),
    remove: z.array(fieldName).default([]).describe('names to remove; "*" in a name matches any run of characters'),
    timestamp_format: z
      .string()
      .default('auto')
      .superRefine((v, ctx) => {
        const problem = timeFormatProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe('promote.timestamp: auto, unix, unix_ms, unix_us, unix_ns or a layout such as "%d/%b/%Y:%H:%M:%S %z"'),
    timezone: z
      .string()
      .default('UTC')
      .refine(isValidTimeZone, { message: 'unknown time zone: use an IANA name such as "UTC" or "Europe/Berlin"' })
      .describe('the zone of times that carry none (promote.timestamp) and of the %-tokens in set'),
  })
  .superRefine((o, ctx) => {
    const ops = ['rename', 'copy', 'add', 'set', 'promote', 'remove'] as const;
    if (ops.every((k) => Object.keys(o[k]).length === 0))
      ctx.addIssue({ code: 'custom', message: `nothing to do: give at least one of ${ops.join(', ')}` });
  })
  .describe('Adds, sets (from templates), copies, renames and removes fields; promotes a field to service, module, level, message or time');

export type FieldsOptions = z.output<typeof fieldsOptions>;
