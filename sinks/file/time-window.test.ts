// max_event_age / max_future in the file sink: which day directory an event far from now
// goes to (core/template/time-window.ts). Only the day choice; delivery is file-sink.test.ts.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LogEvent, TIME_PARTITION_FIELD } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { decodeEvent } from '../../core/wire.js';
import { makeEvent } from '../../test/support/index.js';
import { FileSink } from './file-sink.js';
import { fileSinkOptions, type FileSinkInput } from './index.js';

const DAY = 86_400_000;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-file-window-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ev = (id: string, timestamp: number): LogEvent =>
  makeEvent({ id, timestamp, message: `line ${id}`, service: 'zk', module: 'server', host: 'h1', fields: { env: 'prod' } });

function sink(options: FileSinkInput): FileSink {
  return new FileSink(fileSinkOptions.parse({ root: join(dir, 'out'), idle_timeout: 0, roll_age: 0, encoding: 'json', ...options }), {
    name: 'files',
    logger: silentLogger(),
  });
}

/** Decoded events per day directory. */
function byDay(): Record<string, LogEvent[]> {
  const out: Record<string, LogEvent[]> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const day = relative(join(dir, 'out'), p).split('/')[2]!;
        const lines = readFileSync(p, 'utf8').trimEnd().split('\n');
        (out[day] ??= []).push(...lines.map((l) => decodeEvent(l)));
      }
    }
  };
  walk(join(dir, 'out'));
  return out;
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe('file sink: max_event_age and max_future', () => {
  it('puts an event older than max_event_age in the day of its arrival, keeping its time, marked with the arrival', async () => {
    const s = sink({ max_event_age: '7d', max_future: '1d' });
    await s.open();
    const before = Date.now();
    const old = ev('old', Date.UTC(2015, 2, 4, 10, 0, 0));
    const recent = ev('recent', before - 2 * DAY);
    const ahead = ev('ahead', before + 30 * DAY);
    await s.write([old, recent, ahead]);
    const after = Date.now();
    await s.close();
    const days = byDay();
    // The arrival day, unless the write straddled midnight.
    const today = Object.keys(days).find((d) => d === dayOf(before) || d === dayOf(after))!;
    expect(Object.keys(days).sort()).toEqual([dayOf(recent.timestamp), today].sort());
    expect(days[dayOf(recent.timestamp)]).toEqual([recent]);
    const moved = days[today]!;
    expect(moved.map((e) => e.id)).toEqual(['old', 'ahead']);
    expect(moved.map((e) => e.timestamp)).toEqual([old.timestamp, ahead.timestamp]);
    for (const e of moved) {
      const arrival = Date.parse(String(e.fields[TIME_PARTITION_FIELD]));
      expect(arrival).toBeGreaterThanOrEqual(before);
      expect(arrival).toBeLessThanOrEqual(after);
      expect(e.fields.env).toBe('prod');
    }
    // The caller's events are not changed (the same batch goes to other sinks).
    expect(old.fields).toEqual({ env: 'prod' });
  });

  it('is off by default: a backfill goes to the days of its own time, unmarked', async () => {
    const s = sink({});
    await s.open();
    const old = ev('old', Date.UTC(2015, 2, 4, 10, 0, 0));
    const ahead = ev('ahead', Date.now() + 400 * DAY);
    await s.write([old, ahead]);
    await s.close();
    expect(byDay()).toEqual({ '2015-03-04': [old], [dayOf(ahead.timestamp)]: [ahead] });
  });

  it('takes durations with units only', () => {
    expect(() => fileSinkOptions.parse({ max_event_age: 7 })).toThrow(/a duration needs a unit: did you mean/);
    expect(fileSinkOptions.parse({ max_event_age: '7d', max_future: '1h' })).toMatchObject({
      max_event_age: 7 * DAY,
      max_future: 3_600_000,
    });
  });
});
