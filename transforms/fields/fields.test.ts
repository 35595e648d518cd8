import { describe, expect, it } from 'vitest';
import { type LogEvent, TIME_INVALID_FIELD } from '../../core/event.js';
import { makeEvent } from '../../test/support/index.js';
import { PARSE_ERROR_FIELD } from '../transform.js';
import { FieldsTransform } from './fields.js';
import { fieldsOptions } from './options.js';

function run(options: Record<string, unknown>, event: Partial<LogEvent>): LogEvent {
  const [out] = new FieldsTransform('f', fieldsOptions.parse(options)).apply([makeEvent(event)]);
  return out!;
}

describe('fields', () => {
  it('adds only where absent, sets always', () => {
    const e = run({ add: { env: 'prod', team: 'x' }, set: { owner: 'ops', retries: 3 } }, { fields: { team: 'search', owner: 'me' } });
    expect(e.fields).toEqual({ team: 'search', env: 'prod', owner: 'ops', retries: 3 });
  });

  it('sets from a template of event values and time', () => {
    const e = run(
      { set: { route: '{service}/{module}@{host}', day: '%Y-%m-%d', who: 'user {fields.user}' }, timezone: 'Asia/Tokyo' },
      { service: 'web', module: 'api', host: 'h1', timestamp: Date.UTC(2024, 0, 31, 20), fields: { user: 'bob' } },
    );
    expect(e.fields).toMatchObject({ route: 'web/api@h1', day: '2024-02-01', who: 'user bob' });
  });

  it('renames and copies, nested paths and flat dotted keys alike', () => {
    const e = run(
      { rename: { msg: 'text', 'http.status': 'status', absent: 'nothing' }, copy: { 'user.id': 'user_id', 'log.origin': 'origin' } },
      { fields: { msg: 'hi', http: { status: 200, method: 'GET' }, user: { id: 7 }, 'log.origin': 'main.go' } },
    );
    expect(e.fields).toEqual({
      text: 'hi',
      status: 200,
      http: { method: 'GET' },
      user: { id: 7 },
      user_id: 7,
      'log.origin': 'main.go',
      origin: 'main.go',
    });
  });

  it('copies values, not references', () => {
    const e = run({ copy: { user: 'owner' } }, { fields: { user: { id: 7 } } });
    (e.fields.owner as { id: number }).id = 8;
    expect(e.fields.user).toEqual({ id: 7 });
  });

  it('removes by name, path and glob', () => {
    const e = run(
      { remove: ['password', 'http.headers', 'tmp_*'] },
      {
        fields: { password: 'x', http: { headers: 'h', status: 1 }, tmp_a: 1, tmp_b: 2, keep: true },
      },
    );
    expect(e.fields).toEqual({ http: { status: 1 }, keep: true });
  });

  it('promotes parsed values to service, module, level, message and time, moving them out of fields', () => {
    const e = run(
      { promote: { service: 'app', module: 'component', level: 'severity', message: 'msg', timestamp: 'time' } },
      { fields: { app: 'billing', component: 'worker', severity: 'WARNING', msg: 'slow', time: '2024-03-01T12:00:00.250+01:00', keep: 1 } },
    );
    expect(e).toMatchObject({
      service: 'billing',
      module: 'worker',
      level: 'warn',
      message: 'slow',
      timestamp: Date.UTC(2024, 2, 1, 11, 0, 0, 250),
    });
    expect(e.fields).toEqual({ keep: 1 });
  });

  it('reads times in the configured format and zone', () => {
    const clf = run(
      { promote: { timestamp: 't' }, timestamp_format: '%d/%b/%Y:%H:%M:%S %z' },
      { fields: { t: '01/Mar/2024:12:00:00 -0700' } },
    );
    expect(clf.timestamp).toBe(Date.UTC(2024, 2, 1, 19));
    const local = run({ promote: { timestamp: 't' }, timezone: 'Europe/Berlin' }, { fields: { t: '2024-07-01 12:00:00,5' } });
    expect(local.timestamp).toBe(Date.UTC(2024, 6, 1, 10, 0, 0, 500));
    const epoch = run({ promote: { timestamp: 't' }, timestamp_format: 'unix' }, { fields: { t: 1709294400.5 } });
    expect(epoch.timestamp).toBe(1709294400500);
    // A syslog time has no year: the one nearest the read time (a December line read on 2 January).
    const syslog = run({ promote: { timestamp: 't' } }, { timestamp: Date.UTC(2025, 0, 2), fields: { t: 'Dec 31 23:59:58' } });
    expect(syslog.timestamp).toBe(Date.UTC(2024, 11, 31, 23, 59, 58));
  });

  it('keeps an unusable promoted value in fields and marks the event', () => {
    const time = run({ promote: { timestamp: 'time' } }, { timestamp: 5, fields: { time: 'yesterday-ish' } });
    expect(time.timestamp).toBe(5);
    expect(time.fields).toEqual({ time: 'yesterday-ish', [PARSE_ERROR_FIELD]: 'f: time is not a time in format auto: "yesterday-ish"' });
    const level = run({ promote: { level: 'lvl' } }, { fields: { lvl: 'not a level at all' } });
    expect(level.level).toBeUndefined();
    expect(level.fields).toEqual({ lvl: 'not a level at all', [PARSE_ERROR_FIELD]: 'f: lvl is not a level: "not a level at all"' });
  });

  it('never promotes a time no sink can store: the event keeps its time, the value goes to log.time_invalid', () => {
    // Epochs in nanoseconds read as milliseconds (explicitly, and by auto), a year before 1970.
    const ns = run(
      { promote: { timestamp: 'ts' }, timestamp_format: 'unix_ms' },
      { timestamp: 5, fields: { ts: 1_700_000_000_000_000_000, n: 1 } },
    );
    expect(ns.timestamp).toBe(5);
    expect(ns.fields).toEqual({ n: 1, [TIME_INVALID_FIELD]: 1_700_000_000_000_000_000 });
    const auto = run({ promote: { timestamp: 'ts' } }, { timestamp: 5, fields: { ts: '1700000000000000000' } });
    expect(auto.timestamp).toBe(5);
    expect(auto.fields).toEqual({ [TIME_INVALID_FIELD]: '1700000000000000000' });
    const early = run({ promote: { timestamp: 'ts' } }, { timestamp: 5, fields: { ts: '1969-12-31T23:59:59Z' } });
    expect(early.timestamp).toBe(5);
    expect(early.fields).toEqual({ [TIME_INVALID_FIELD]: '1969-12-31T23:59:59Z' });
  });

  it('leaves events outside `when` untouched', () => {
    const t = new FieldsTransform('f', fieldsOptions.parse({ when: { service: 'web' }, add: { tagged: true } }));
    const out = t.apply([makeEvent({ service: 'web' }), makeEvent({ service: 'db' })]);
    expect(out.map((e) => e.fields)).toEqual([{ tagged: true }, {}]);
  });

  it('refuses a transform with nothing to do, bad templates and formats', () => {
    const issues = (o: Record<string, unknown>) => fieldsOptions.safeParse(o).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues({})).toEqual([': nothing to do: give at least one of rename, copy, add, set, promote, remove']);
    expect(issues({ set: { a: '100%' } })?.[0]).toMatch(/^set\.a: template "100%": unknown time format "%"/);
    expect(issues({ promote: { timestamp: 't' }, timestamp_format: '%Q' })?.[0]).toMatch(
      /^timestamp_format: time layout "%Q": unknown token "%Q"/,
    );
    expect(fieldsOptions.safeParse({ promote: { host: 'h' } }).error?.issues[0]).toMatchObject({
      code: 'unrecognized_keys',
      path: ['promote'],
      keys: ['host'],
    });
  });
});
