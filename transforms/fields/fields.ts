import { type FieldValue, isValidEventTime, type LogEvent, TIME_INVALID_FIELD } from '../../core/event.js';
import { globMatcher } from '../../core/template.js';
import type { EventTest } from '../conditions.js';
import { EventTemplate } from '../../core/template.js';
import { normalizeLevel } from '../level/normalize.js';
import { compact, fieldPath, fieldText } from '../paths.js';
import { type TimeParser, timeParser } from '../time.js';
import { applyEach, compileWhen, PARSE_ERROR_FIELD, ParseErrors, type Side, type Transform, transformSpec } from '../transform.js';
import { type FieldsOptions, fieldsOptions } from './options.js';

/**
 * `type: fields`: edits an event's fields, in this order, whatever the order in the YAML:
 * rename, copy, add (only where absent), set (always; text values are templates), promote
 * (a field's value becomes the event's service, module, level, message or time, and leaves
 * fields), remove. Chain two `fields` transforms for another order.
 *
 * A promoted value that cannot be used (a time that does not read in timestamp_format, a
 * level that is a sentence) stays in fields, and the event is marked
 * `fields["log.parse_error"]` and counted, like a failed parse. A time that reads but that
 * no sink can store (outside 1970–9999) leaves the event's time as it was and moves to
 * `fields["log.time_invalid"]`. A field that is absent is no error: not every line carries
 * every key.
 */
export class FieldsTransform implements Transform {
  readonly at: Side | undefined;
  private readonly when: EventTest | undefined;
  /** Each edits one event; true when it left a hole (a removed flat key) for compact(). */
  private readonly steps: ((e: LogEvent) => boolean | undefined)[] = [];
  private readonly errors: ParseErrors;

  constructor(
    readonly name: string,
    o: FieldsOptions,
  ) {
    this.at = o.at;
    this.when = compileWhen(o.when);
    this.errors = new ParseErrors(name);
    for (const [from, to] of Object.entries(o.rename)) {
      const [a, b] = [fieldPath(from), fieldPath(to)];
      this.steps.push((e) => {
        const v = a.delete(e.fields);
        if (v === undefined) return false;
        b.set(e.fields, v);
        return true;
      });
    }
    for (const [from, to] of Object.entries(o.copy)) {
      const [a, b] = [fieldPath(from), fieldPath(to)];
      this.steps.push((e) => {
        const v = a.get(e.fields);
        if (v !== undefined) b.set(e.fields, typeof v === 'object' && v !== null ? structuredClone(v) : v);
        return false;
      });
    }
    for (const [key, value] of Object.entries(o.add)) {
      const path = fieldPath(key);
      const v = value as FieldValue;
      this.steps.push((e) => {
        if (path.get(e.fields) === undefined) path.set(e.fields, typeof v === 'object' && v !== null ? structuredClone(v) : v);
        return false;
      });
    }
    for (const [key, value] of Object.entries(o.set)) {
      const path = fieldPath(key);
      if (typeof value === 'string') {
        const template = new EventTemplate(value, { timeZone: o.timezone, sanitize: (s) => s });
        this.steps.push((e) => {
          path.set(e.fields, template.render(e));
          return false;
        });
      } else
        this.steps.push((e) => {
          path.set(e.fields, value);
          return false;
        });
    }
    for (const [target, from] of Object.entries(o.promote)) this.steps.push(this.promoter(target, from!, o));
    for (const name of o.remove) {
      if (name.includes('*')) {
        const test = globMatcher(name);
        this.steps.push((e) => {
          let holes = false;
          for (const key in e.fields)
            if (test(key) && e.fields[key] !== undefined) {
              (e.fields as Record<string, FieldValue | undefined>)[key] = undefined;
              holes = true;
            }
          return holes;
        });
      } else {
        const path = fieldPath(name);
        this.steps.push((e) => path.delete(e.fields) !== undefined);
      }
    }
  }

  apply(events: LogEvent[]): LogEvent[] {
    return applyEach(events, this.when, this.each);
  }

  // Made once, not per batch: V8 optimizes each new closure anew, and a batch would run partly unoptimized.
  private readonly each = (e: LogEvent): boolean => {
    const steps = this.steps;
    let holes = false;
    for (let i = 0; i < steps.length; i++) if (steps[i]!(e)) holes = true;
    if (holes) e.fields = compact(e.fields);
    return true;
  };

  private promoter(target: string, name: string, o: FieldsOptions): (e: LogEvent) => boolean | undefined {
    const errors = this.errors;
    const from = name;
    const path = fieldPath(name);
    switch (target) {
      case 'service':
      case 'module':
        return (e) => {
          const v = path.get(e.fields);
          if (v === undefined || v === null) return false;
          const text = typeof v === 'object' ? undefined : fieldText(v);
          if (!text) return void errors.mark(e, `${from} cannot be the ${target}: not text`);
          e[target] = text;
          return path.drop(e.fields);
        };
      case 'message':
        return (e) => {
          const v = path.get(e.fields);
          if (v === undefined || v === null) return false;
          e.message = fieldText(v)!;
          return path.drop(e.fields);
        };
      case 'level':
        return (e) => {
          const v = path.get(e.fields);
          if (v === undefined || v === null) return false;
          const level = normalizeLevel(v);
          if (level === undefined) return void errors.mark(e, `${from} is not a level: ${preview(v)}`);
          e.level = level;
          return path.drop(e.fields);
        };
      default: {
        const parse: TimeParser = timeParser(o.timestamp_format, o.timezone);
        return (e) => {
          const v = path.get(e.fields);
          if (v === undefined || v === null) return false;
          // A year-less time (syslog) takes the year nearest the read time.
          const t = parse(v, e.timestamp);
          if (t === undefined) return void errors.mark(e, `${from} is not a time in format ${o.timestamp_format}: ${preview(v)}`);
          if (isValidEventTime(t)) e.timestamp = t;
          // A time no sink can store (nanoseconds read as milliseconds, a year before 1970):
          // the event keeps the time it had and the value is kept beside it, as the file
          // source and the wire decoder do, so that no sink gets a year 275760 or 0NaN.
          else e.fields[TIME_INVALID_FIELD] = typeof v === 'string' && v.length > 64 ? `${v.slice(0, 64)}…` : v;
          return path.drop(e.fields);
        };
      }
    }
  }
}

function preview(v: FieldValue): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);
}

export const fieldsTransformSpec = transformSpec(FieldsTransform, fieldsOptions, {
  type: 'fields',
  description: 'adds, sets, copies, renames and removes fields; promotes one to service, module, level, message or time',
  fieldsSet: (o) => [
    ...Object.values(o.rename),
    ...Object.values(o.copy),
    ...Object.keys(o.add),
    ...Object.keys(o.set),
    ...(Object.keys(o.promote).length > 0 ? [PARSE_ERROR_FIELD] : []),
    ...(o.promote.timestamp !== undefined ? [TIME_INVALID_FIELD] : []),
  ],
});
