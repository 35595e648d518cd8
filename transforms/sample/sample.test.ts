import { describe, expect, it } from 'vitest';
import { makeEvent, makeEvents } from '../../test/support/index.js';
import { SampleTransform, sampleOptions } from './sample.js';

const sample = (o: Record<string, unknown>) => new SampleTransform('s', sampleOptions.parse(o));

describe('sample', () => {
  it('keeps about one in rate, and exactly the same events on a replay', () => {
    const first = sample({ rate: 10 })
      .apply(makeEvents(10_000))
      .map((e) => e.id);
    expect(first.length).toBeGreaterThan(900);
    expect(first.length).toBeLessThan(1100);
    const replay = sample({ rate: 10 })
      .apply(makeEvents(10_000))
      .map((e) => e.id);
    expect(replay).toEqual(first);
  });

  it('keeps or drops all events of one key together', () => {
    const events = Array.from({ length: 2000 }, (_, i) => makeEvent({ id: `e${i}`, fields: { trace_id: `t${i % 100}` } }));
    const kept = sample({ rate: 4, key: '{fields.trace_id}' }).apply(events);
    const traces = new Set(kept.map((e) => e.fields.trace_id));
    expect(kept.length).toBe(traces.size * 20);
    expect(traces.size).toBeGreaterThan(10);
    expect(traces.size).toBeLessThan(45);
  });

  it('samples an event without a value for the key by its id', () => {
    const bare = sample({ rate: 10, key: '{fields.trace_id}' }).apply(makeEvents(1000));
    expect(bare.map((e) => e.id)).toEqual(
      sample({ rate: 10 })
        .apply(makeEvents(1000))
        .map((e) => e.id),
    );
    expect(bare).toHaveLength(101);
    const mixed = [makeEvent({ id: 'x1', fields: { trace_id: '' } }), makeEvent({ id: 'x2', fields: { trace_id: null } })];
    expect(sample({ rate: 2, key: '{service}/{fields.trace_id}' }).apply(mixed)).toEqual(sample({ rate: 2 }).apply(mixed));
  });

  it('always keeps excluded events', () => {
    const events = makeEvents(1000, { level: 'error' });
    expect(sample({ rate: 1000, exclude: { level: ['error', 'fatal'] } }).apply(events)).toHaveLength(1000);
  });
});
