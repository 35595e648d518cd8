import type { FieldValue, LogEvent } from '../../core/event.js';
import { globTest, type EventTest } from '../../core/match.js';
import type { ComponentSpec } from '../../core/registry.js';
import { EventTemplate } from '../../core/template.js';
import { normalizeLevel } from '../level/normalize.js';
import { deleteField, fieldText, getField, setField } from '../paths.js';
import { type TimeParser, timeParser } from '../time.js';
import { applyEach, compileWhen, PARSE_ERROR_FIELD, ParseErrors, type Side, type Transform } from '../transform.js';
import { type FieldsOptions, fieldsOptions } from './options.js';

/**
 * `type: fields`: edits an event's fields, in this order, whatever the order in the YAML:
 * rename, copy, add (only where absent), set (always; text values are templates), promote
 * (a field's value becomes the event's service, module, level, message or time, and leaves
 * fields), remove. Chain two `fields` transforms for another order.
 *
 * A promoted value that cannot be used (a time that does not read in timestamp_format, a
 * level that is a sentence) stays in fields, and the event is marked
 * `fields["log.parse_error"]` and counted, like a failed parse. A field that is absent is
 * no error: not every line carries every key.
 */
export class FieldsTransform implements Transform {
  readonly at: Side | undefined;
  private readonly when: EventTest | undefined;
  private readonly steps: ((e: LogEvent) => void)[] = [];
  private readonly errors: ParseErrors;

  constructor(
    readonly name: string,
    o: FieldsOptions,
  ) {
    this.at = o.at;
    this.when = compileWhen(o.when);
    this.errors = new ParseErrors(name);
    for (const [from, to] of Object.entries(o.rename))
      this.steps.push((e) => {
        const v = deleteField(e.fields, from);
        if (v !== undefined) setField(e.fields, to, v);
      });
    for (const [from, to] of Object.entries(o.copy))
      this.steps.push((e) => {
        const v = getField(e.fields, from);
        if (v !== undefined) setField(e.fields, to, structuredClone(v));
      });
    for (const [key, value] of Object.entries(o.add))
      this.steps.push((e) => {
        if (getField(e.fields, key) === undefined) setField(e.fields, key, structuredClone(value as FieldValue));
      });
    for (const [key, value] of Object.entries(o.set)) {
      if (typeof value === 'string') {
        const template = new EventTemplate(value, { timeZone: o.timezone, sanitize: (s) => s });
        this.steps.push((e) => setField(e.fields, key, template.render(e)));
      } else this.steps.push((e) => setField(e.fields, key, value));
    }
    for (const [target, from] of Object.entries(o.promote)) this.steps.push(this.promoter(target, from!, o));
    for (const name of o.remove) {
      if (name.includes('*')) {
        const test = globTest(name);
        this.steps.push((e) => {
          for (const key of Object.keys(e.fields)) if (test(key)) delete e.fields[key];
        });
      } else this.steps.push((e) => void deleteField(e.fields, name));
    }
  }

  apply(events: LogEvent[]): LogEvent[] {
    const steps = this.steps;
    return applyEach(events, this.when, (e) => {
      for (const step of steps) step(e);
      return true;
    });
  }

  private promoter(target: string, from: string, o: FieldsOptions): (e: LogEvent) => void {
    const take = (e: LogEvent, use: (v: FieldValue) => boolean, why: (v: FieldValue) => string) => {
      const v = getField(e.fields, from);
      if (v === undefined || v === null) return;
      if (use(v)) deleteField(e.fields, from);
      else this.errors.mark(e, why(v));
    };
    const text = (v: FieldValue) => (typeof v === 'object' ? undefined : fieldText(v));
    switch (target) {
      case 'service':
      case 'module':
        return (e) =>
          take(
            e,
            (v) => {
              const t = text(v);
              if (!t) return false;
              e[target] = t;
              return true;
            },
            () => `${from} cannot be the ${target}: not text`,
          );
      case 'message':
        return (e) =>
          take(
            e,
            (v) => {
              e.message = fieldText(v) ?? '';
              return true;
            },
            () => '',
          );
      case 'level':
        return (e) =>
          take(
            e,
            (v) => {
              const level = normalizeLevel(v);
              if (level === undefined) return false;
              e.level = level;
              return true;
            },
            (v) => `${from} is not a level: ${preview(v)}`,
          );
      default: {
        const parse: TimeParser = timeParser(o.timestamp_format, o.timezone);
        return (e) =>
          take(
            e,
            (v) => {
              // A year-less time (syslog) takes the year nearest the read time.
              const t = parse(v, e.timestamp);
              if (t === undefined) return false;
              e.timestamp = t;
              return true;
            },
            (v) => `${from} is not a time in format ${o.timestamp_format}: ${preview(v)}`,
          );
      }
    }
  }
}

function preview(v: FieldValue): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
}

export const fieldsTransformSpec: ComponentSpec<FieldsOptions, Transform> = {
  kind: 'transform',
  type: 'fields',
  description: 'adds, sets, copies, renames and removes fields; promotes one to service, module, level, message or time',
  options: fieldsOptions,
  create: (options, ctx) => new FieldsTransform(ctx.name, options),
  fieldsSet: (o) => [
    ...Object.values(o.rename),
    ...Object.values(o.copy),
    ...Object.keys(o.add),
    ...Object.keys(o.set),
    ...(Object.keys(o.promote).length > 0 ? [PARSE_ERROR_FIELD] : []),
  ],
};
