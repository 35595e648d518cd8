import { describe, expect, it } from 'vitest';
import type { LogEvent } from './event.js';
import { eventId, FileEventIds, fileEventId } from './event-id.js';
import { decodeEvent, encodeEvent, WireFormatError } from './wire.js';

const event: LogEvent = {
  id: fileEventId('dev1:ino2:fp', 1234),
  timestamp: 1_700_000_000_123,
  message: 'GET /index.html 200 \u00e9\u4e2d "quoted"',
  service: 'web',
  module: 'access',
  host: 'node-1',
  source: { kind: 'file', path: '/var/log/web/access.log', fileId: 'dev1:ino2:fp', offset: 1234 },
  fields: { status: 200, tags: ['a', 'b'], nested: { ok: true, none: null } },
};

describe('wire format v1', () => {
  it('round-trips an event exactly', () => {
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
  });

  it('is documented JSON that other consumers can read', () => {
    const raw = JSON.parse(encodeEvent(event).toString('utf8'));
    expect(raw).toMatchObject({ v: 1, id: event.id, timestamp: event.timestamp, service: 'web', module: 'access', message: event.message });
  });

  it('keeps an event whose time no sink can store, at the time it was read, with the claimed time beside it', () => {
    for (const claimed of [1_700_000_000_000_000_000, -5, Date.UTC(10000, 0, 1)]) {
      const before = Date.now();
      const decoded = decodeEvent(encodeEvent({ ...event, timestamp: claimed }));
      expect(decoded.timestamp).toBeGreaterThanOrEqual(before);
      expect(decoded.timestamp).toBeLessThanOrEqual(Date.now());
      expect(decoded.fields).toEqual({ ...event.fields, 'log.time_invalid': claimed });
      expect(decoded.message).toBe(event.message);
    }
    expect(decodeEvent(encodeEvent({ ...event, timestamp: 0 })).timestamp).toBe(0);
  });

  it('gives such an event the arrival time it is handed (a Kafka record timestamp), so every decode of it names the same day', () => {
    const arrival = Date.UTC(2024, 4, 1, 23, 59, 59);
    const bytes = encodeEvent({ ...event, timestamp: -5 });
    expect(decodeEvent(bytes, undefined, arrival).timestamp).toBe(arrival);
    expect(decodeEvent(bytes, undefined, arrival).timestamp).toBe(arrival);
    // A record without a usable timestamp (-1): the time of decoding.
    const before = Date.now();
    expect(decodeEvent(bytes, undefined, -1).timestamp).toBeGreaterThanOrEqual(before);
    // A valid event time is never replaced.
    expect(decodeEvent(encodeEvent(event), undefined, arrival).timestamp).toBe(event.timestamp);
  });

  it('refuses fields nested deeper than the encoders can write back, and takes the deepest allowed', () => {
    const nest = (levels: number): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < levels; i++) v = i % 2 === 0 ? { a: v } : [v];
      return v;
    };
    const raw = JSON.parse(encodeEvent(event).toString());
    // fields itself is the first level.
    const ok = JSON.stringify({ ...raw, fields: { x: nest(63) } });
    expect(decodeEvent(ok).fields.x).toEqual(nest(63));
    const deep = JSON.stringify({ ...raw, fields: { x: nest(64) } });
    expect(() => decodeEvent(deep, 'topic logs partition 0 offset 5')).toThrow(
      new WireFormatError('invalid event: "fields" or "source" nests deeper than 64 levels', 'topic logs partition 0 offset 5'),
    );
    // Far deeper than JSON.stringify can write: refused, not a stack overflow.
    const hostile = `{"v":1,"id":"x","timestamp":0,"service":"s","module":"m","host":"h","message":"","source":{"kind":"k"},"fields":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    expect(() => decodeEvent(hostile)).toThrow(/nests deeper than 64 levels/);
  });

  it('carries the level when there is one, and rejects a level that is not a string', () => {
    expect(decodeEvent(encodeEvent({ ...event, level: 'warn' })).level).toBe('warn');
    expect('level' in decodeEvent(encodeEvent(event))).toBe(false);
    const raw = { ...JSON.parse(encodeEvent(event).toString()), level: 3 };
    expect(() => decodeEvent(JSON.stringify(raw), 'topic t partition 0 offset 9')).toThrow(
      /"level" must be a string when present.*offset 9/,
    );
  });

  it('rejects an unknown version, naming it and where the bytes came from', () => {
    const v2 = JSON.stringify({ ...JSON.parse(encodeEvent(event).toString()), v: 2 });
    expect(() => decodeEvent(v2, 'topic logs partition 0 offset 7')).toThrow(
      new WireFormatError('unsupported wire version 2 (this Sluice reads version 1)', 'topic logs partition 0 offset 7'),
    );
  });

  it.each([
    ['not JSON', '{"v":1,', /invalid JSON/],
    ['not an object', '[1,2]', /expected a JSON object/],
    ['no version', '{"id":"x"}', /no wire version/],
    [
      'bad timestamp',
      JSON.stringify({ ...JSON.parse(encodeEvent(event).toString()), timestamp: 'yesterday' }),
      /"timestamp" must be a finite number/,
    ],
    [
      'missing message',
      JSON.stringify({ ...JSON.parse(encodeEvent(event).toString()), message: undefined }),
      /"message" must be a string, got nothing/,
    ],
    ['empty id', JSON.stringify({ ...JSON.parse(encodeEvent(event).toString()), id: '' }), /"id" must be a non-empty string/],
    ['source without kind', JSON.stringify({ ...JSON.parse(encodeEvent(event).toString()), source: {} }), /"source" must be an object/],
  ])('rejects %s with a clear reason', (_name, input, reason) => {
    expect(() => decodeEvent(Buffer.from(input))).toThrow(reason);
  });
});

describe('event ids', () => {
  it('are stable for the same origin and differ for another', () => {
    expect(fileEventId('f', 10)).toBe(fileEventId('f', 10));
    expect(fileEventId('f', 10)).not.toBe(fileEventId('f', 11));
    expect(fileEventId('f', 10)).not.toBe(fileEventId('g', 10));
  });

  it('do not collide when parts shift between fields', () => {
    expect(eventId('ab', 'c')).not.toBe(eventId('a', 'bc'));
  });

  it('are URL-safe and fixed length', () => {
    expect(eventId('/a/very/long/path'.repeat(50), 1)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(fileEventId('/a/very/long/path'.repeat(50), 1)).toMatch(/^[A-Za-z0-9_-]{25}$/);
    expect(fileEventId('f', Number.MAX_SAFE_INTEGER)).toMatch(/^[A-Za-z0-9_-]{25}$/);
  });

  it('of a file are unique per offset over the whole offset range', () => {
    const ids = new FileEventIds('dev:ino:fp');
    const offsets = [0, 1, 63, 64, 65, 4095, 4096, 2 ** 32 - 1, 2 ** 32, 2 ** 48, Number.MAX_SAFE_INTEGER];
    expect(new Set(offsets.map((o) => ids.id(o))).size).toBe(offsets.length);
    expect(ids.id(4096)).toBe(fileEventId('dev:ino:fp', 4096));
  });

  it('reject offsets that are not byte positions', () => {
    expect(() => fileEventId('f', -1)).toThrow(RangeError);
    expect(() => fileEventId('f', 1.5)).toThrow(RangeError);
  });
});
