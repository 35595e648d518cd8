import { describe, expect, it } from 'vitest';
import { formatEntry } from './entry.js';

describe('dead-letter entry', () => {
  it('formats a bad record with its coordinates, keeping invalid UTF-8 as base64', () => {
    const line = formatEntry(
      {
        reason: 'not a Sluice event: invalid JSON',
        topic: 'logs',
        partition: 2,
        offset: '17',
        key: Buffer.from('k'),
        value: Buffer.from([0xff, 0xfe]),
      },
      0,
    );
    expect(JSON.parse(line)).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      reason: 'not a Sluice event: invalid JSON',
      topic: 'logs',
      partition: 2,
      offset: '17',
      key: 'k',
      value_base64: '//4=',
    });
  });

  it('formats an unrouted event with the event in the wire format', () => {
    const event = { id: 'a', timestamp: 5, message: 'hi', service: 's', module: 'm', host: 'h', source: { kind: 'demo' }, fields: {} };
    expect(JSON.parse(formatEntry({ reason: 'no route', event }, 0))).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      reason: 'no route',
      event: { v: 1, ...event },
    });
  });

  it('formats an event the bus refused with its topic and size', () => {
    const event = { id: 'a', timestamp: 5, message: 'hi', service: 's', module: 'm', host: 'h', source: { kind: 'demo' }, fields: {} };
    expect(JSON.parse(formatEntry({ reason: 'MESSAGE_TOO_LARGE: too large', topic: 'logs.s', bytes: 2048, event }, 0))).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      reason: 'MESSAGE_TOO_LARGE: too large',
      topic: 'logs.s',
      bytes: 2048,
      event: { v: 1, ...event },
    });
  });
});
