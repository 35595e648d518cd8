import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FieldValue, isValidEventTime, type LogEvent, type SourceRef, TIME_INVALID_FIELD } from '../../../../core/event.js';
import { decodeEvent, encodeEventString, WireFormatError } from '../../../../core/wire.js';
import { makeEvent, seededRandom } from '../../testkit.js';
import { releaseRecord } from './frame-pool.js';
import { checkFrame, readRecordHeader } from './frame.js';
import { decodeRecordEvents, encodeRecord, FORMAT_VERSION, READABLE_VERSIONS, SEGMENT_HEADER } from './record.js';
import { SEGMENT_HEADER_BYTES } from './segment-file.js';

/** Encodes a record and decodes it again the way the channel reads a segment. */
function roundTrip(events: LogEvent[]): LogEvent[] {
  const frame = encodeRecord(events, { source: 's', seq: 1, state: { at: 'é' } });
  const check = checkFrame(frame, 0, frame.length, 0x7fffffff);
  expect(check.kind).toBe('ok');
  const { count, checkpoint } = readRecordHeader(frame, 0, 'test');
  expect(count).toBe(events.length);
  expect(checkpoint).toEqual({ source: 's', seq: 1, state: { at: 'é' } });
  return decodeRecordEvents(frame, 0, frame.length, count, FORMAT_VERSION, 'test');
}

/** What a collector gets for the same events over Kafka: the channel must deliver exactly that. */
const viaWire = (events: LogEvent[]) => events.map((e) => decodeEvent(encodeEventString(e)));

const base = (over: Partial<LogEvent>): LogEvent => ({
  id: 'id-1',
  timestamp: 1_700_000_000_000,
  message: 'm',
  service: 'svc',
  module: 'mod',
  host: 'h',
  source: { kind: 'file' },
  fields: {},
  ...over,
});

describe('channel record encoding (format 4: the events of format 3, checkpoints that may be patches)', () => {
  it('is format 4, and reads every format written before', () => {
    expect(FORMAT_VERSION).toBe(4);
    expect(READABLE_VERSIONS).toEqual([1, 2, 3, 4]);
    expect(SEGMENT_HEADER.toString('latin1')).toBe('SLUICE\x04\n');
  });

  it('keeps the level: present, absent, repeated, changing, empty, and in events stored as wire JSON', () => {
    const events = [
      base({ id: 'a', level: 'error' }),
      base({ id: 'b', level: 'error' }),
      base({ id: 'c' }),
      base({ id: 'd', level: 'error' }),
      base({ id: 'e', level: 'warn' }),
      base({ id: 'f', level: '' }),
      base({ id: 'g', level: 'erreur \ud800', message: 'lone' }),
      base({ id: 'h', level: 'warn', source: { kind: 'k8s', pod: 'p' } as unknown as SourceRef }),
      base({ id: 'i', level: undefined }),
    ];
    const back = roundTrip(events);
    expect(back).toStrictEqual(viaWire(events));
    expect(back.map((e) => e.level)).toEqual(['error', 'error', undefined, 'error', 'warn', '', 'erreur \ud800', 'warn', undefined]);
    expect('level' in back[2]!).toBe(false);
    expect(() => encodeRecord([base({ level: 3 as unknown as string })], undefined)).toThrow(/"level" must be a string when present/);
  });

  it('round-trips unicode exactly: astral characters, CJK, combining marks, NUL, U+2028, quotes and newlines', () => {
    const events = [
      base({
        id: '😀',
        message: 'emoji 😀 clef 𝄞 日本語 e\u0301 nul \u0000 ls \u2028 "q" \\ \n\t\r',
        host: 'hôte',
        source: { kind: 'file', path: '/var/log/日本/😀.log', fileId: 'é' },
      }),
      base({ id: 'x', message: '𝄞'.repeat(1000), fields: { '😀': '𝄞', ключ: ['日', { é: '\u0000' }] } }),
    ];
    const back = roundTrip(events);
    expect(back).toStrictEqual(events);
    expect(back[1]!.message.length).toBe(2000);
  });

  it('keeps lone surrogates, which UTF-8 cannot carry, by storing those events as wire JSON', () => {
    const events = [
      base({ id: 'a', message: 'lone high \ud800 here' }),
      base({ id: 'b', message: 'fine' }),
      base({ id: 'c', message: 'ends with high \ud83d', host: '\ude00 starts with low' }),
      // A pair split across two strings survives on its own; with "same" leaving one out of the text it must not be glued to another.
      base({ id: 'd\ud83d', message: '\ude00' }),
      base({ id: 'e', message: 'low \udc00', source: { kind: 'file', path: '\udfff' } }),
      // Whole in each event's strings taken together, but the second event's service is left out of the text as "same".
      base({ id: 'f', message: 'x\ud83d', service: '\ude00s' }),
      base({ id: 'g', message: 'y\ud83d', service: '\ude00s' }),
    ];
    const back = roundTrip(events);
    expect(back).toStrictEqual(events);
    expect(back[0]!.message.charCodeAt(10)).toBe(0xd800);
  });

  it('round-trips empty strings in every string slot and an empty batch with only a checkpoint', () => {
    const events = [
      base({ message: '', service: '', module: '', host: '', source: { kind: '', path: '', fileId: '', container: '', stream: '' } }),
    ];
    expect(roundTrip(events)).toStrictEqual(events);
    const frame = encodeRecord([], { source: 'quiet', seq: 3, state: {} });
    expect(readRecordHeader(frame, 0, 'test')).toEqual({ count: 0, checkpoint: { source: 'quiet', seq: 3, state: {} } });
    expect(decodeRecordEvents(frame, 0, frame.length, 0, FORMAT_VERSION, 'test')).toEqual([]);
  });

  it('round-trips every SourceRef key, in any combination, and changing or repeated values', () => {
    const keys: (keyof SourceRef)[] = ['path', 'fileId', 'offset', 'container', 'stream'];
    const events: LogEvent[] = [];
    for (let mask = 0; mask < 32; mask++) {
      for (const variant of [0, 1]) {
        const source: SourceRef = { kind: variant ? 'container' : 'file' };
        keys.forEach((k, bit) => {
          if (!(mask & (1 << bit))) return;
          if (k === 'offset') source.offset = variant ? 2 ** 53 - 1 : 1.5;
          else source[k] = `${k}-${variant}`;
        });
        events.push(base({ id: `e${mask}-${variant}`, source }));
      }
    }
    expect(roundTrip(events)).toStrictEqual(events);
  });

  it('keeps source keys SourceRef does not know, and odd value types, as the wire would', () => {
    const events = [
      base({ source: { kind: 'kafka', topic: 'logs', partition: 3 } as unknown as SourceRef }),
      base({ source: { kind: 'file', path: 7 } as unknown as SourceRef }),
      base({ source: { kind: 'file', path: '/p', offset: undefined } }),
      base({ source: { kind: 'file', path: '/p', offset: Number.NaN } }),
      base({ source: { kind: 'file', path: '/p', offset: 10 } }),
    ];
    expect(roundTrip(events)).toStrictEqual(viaWire(events));
    expect(roundTrip(events)[0]!.source).toEqual({ kind: 'kafka', topic: 'logs', partition: 3 });
  });

  it('round-trips large and deeply nested fields, and treats values JSON cannot hold as the wire does', () => {
    let deep: FieldValue = 'bottom';
    // As deep as the wire takes (MAX_FIELD_DEPTH, with fields the first level).
    for (let i = 0; i < 62; i++) deep = i % 2 ? { [`k${i}`]: deep, n: i } : [deep, i, null, true];
    const big = 'x'.repeat(3 * 1024 * 1024);
    const events = [
      base({ fields: { deep, big, list: Array.from({ length: 1000 }, (_, i) => i * 1.25) } }),
      base({ message: big, fields: { n: 1e21, small: 5e-324, neg: -1 } }),
      base({ fields: { gone: undefined, nan: Number.NaN, inf: Number.POSITIVE_INFINITY } as unknown as Record<string, FieldValue> }),
      base({ fields: undefined as unknown as Record<string, FieldValue> }),
    ];
    const back = roundTrip(events);
    expect(back).toStrictEqual(viaWire(events));
    expect(back[0]!.fields).toStrictEqual(events[0]!.fields);
    expect(back[2]!.fields).toStrictEqual({ nan: null, inf: null });
    expect(back[3]!.fields).toStrictEqual({});
  });

  it('delivers exactly what the wire delivers for random events (strings, sources, fields)', () => {
    const random = seededRandom(77);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const pieces = [
      'a',
      'Zz',
      ' ',
      'é',
      '日本',
      '😀',
      '𝄞',
      '\u0000',
      '\n',
      '"',
      '\\',
      '\u2028',
      '\ud800',
      '\udc00',
      '\ud83d',
      '\ude00',
      'GET /',
    ];
    const str = (max: number) => Array.from({ length: Math.floor(random() * max) }, () => pick(pieces)).join('');
    const value = (depth: number): FieldValue => {
      const r = random();
      if (depth > 3 || r < 0.3) return str(6);
      if (r < 0.45) return Math.round(random() * 1e6) / 100;
      if (r < 0.55) return pick([true, false, null]);
      if (r < 0.75) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [str(4), value(depth + 1)]));
    };
    for (let round = 0; round < 50; round++) {
      const hosts = [str(3), str(3)];
      const events = Array.from({ length: 1 + Math.floor(random() * 40) }, (_, i): LogEvent => {
        const source: Record<string, unknown> = { kind: pick(['file', 'container', str(3)]) };
        if (random() < 0.6) source.path = pick(['/var/log/a.log', '/var/log/b.log', str(5)]);
        if (random() < 0.5) source.fileId = pick(['dev1-ino2', str(4)]);
        if (random() < 0.5) source.offset = Math.floor(random() * 2 ** 40);
        if (random() < 0.3) source.container = pick(['c1', 'c2']);
        if (random() < 0.3) source.stream = pick(['stdout', 'stderr']);
        if (random() < 0.05) source.extra = value(0);
        return {
          id: `${i}${str(3)}`,
          timestamp: Math.floor(random() * 2e12),
          message: str(30),
          service: pick(['shop', 'db', str(3)]),
          module: pick(['api', '']),
          host: pick(hosts),
          ...(random() < 0.6 ? { level: pick(['info', 'error', 'warn', str(3)]) } : {}),
          source: source as unknown as SourceRef,
          fields:
            random() < 0.5
              ? {}
              : (Object.fromEntries(Array.from({ length: 1 + Math.floor(random() * 3) }, () => [str(4), value(0)])) as Record<
                  string,
                  FieldValue
                >),
        };
      });
      expect(roundTrip(events), `round ${round}`).toStrictEqual(viaWire(events));
    }
  });

  it('refuses at put what a collector would refuse, naming the event, instead of storing an unreadable record', () => {
    const good = makeEvent(1);
    expect(() => encodeRecord([good, { ...good, timestamp: Number.NaN }], undefined)).toThrow(
      /event 1 of the batch \(id "id-1"\) cannot be stored: "timestamp" must be a finite number, got NaN/,
    );
    expect(() => encodeRecord([{ ...good, id: '' }], undefined)).toThrow(/event 0 .*"id" must be a non-empty string/);
    expect(() => encodeRecord([{ ...good, host: undefined as unknown as string }], undefined)).toThrow(/"host" must be a string/);
    expect(() => encodeRecord([{ ...good, source: { path: '/x' } as unknown as SourceRef }], undefined)).toThrow(
      /"source" must be an object with a string "kind"/,
    );
    expect(() => encodeRecord([{ ...good, fields: [] as unknown as Record<string, FieldValue> }], undefined)).toThrow(
      /"fields" must be an object/,
    );
  });

  it('reuses the memory of a released record for the next one, and ignores a second release of the same record', () => {
    const events = Array.from({ length: 500 }, (_, i) => makeEvent(i, 200));
    const first = encodeRecord(events, undefined);
    const memory = first.buffer;
    releaseRecord(first);
    releaseRecord(first);
    const second = encodeRecord(events, undefined);
    const third = encodeRecord(events, undefined);
    expect(second.buffer).toBe(memory);
    expect(third.buffer).not.toBe(memory);
    expect(decodeRecordEvents(second, 0, second.length, 500, FORMAT_VERSION, 'test')).toStrictEqual(events);
    expect(decodeRecordEvents(third, 0, third.length, 500, FORMAT_VERSION, 'test')).toStrictEqual(events);
    releaseRecord(second);
    releaseRecord(third);
  });

  it('is several times more compact than the wire JSON for typical file events', () => {
    const events = Array.from({ length: 100 }, (_, i) => makeEvent(i * 3 + 1));
    const json = events.reduce((n, e) => n + Buffer.byteLength(encodeEventString(e)) + 1, 0);
    expect(roundTrip(events)).toStrictEqual(events);
    expect(encodeRecord(events, undefined).length).toBeLessThan(json / 2);
  });
});

/** A record whose events part is `bytes`, claiming `count` events (the CRC is not consulted by the decoder). */
function record(count: number, bytes: Buffer): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt32LE(count, 12);
  head.writeUInt32LE(0, 16);
  return Buffer.concat([head, bytes]);
}

/** The events part of a record with one text chunk: chunk table, layout, text. */
function oneChunk(events: number, layout: Buffer, text: Buffer, chars = text.length): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt32LE(1, 0);
  head.writeUInt32LE(events, 4);
  head.writeUInt32LE(text.length, 8);
  head.writeUInt32LE(chars, 12);
  head.writeUInt32LE(layout.length, 16);
  return Buffer.concat([head, layout, text]);
}

/** The records of a segment file, as (offset, length, count). */
function recordsOf(segment: Buffer): { at: number; length: number; count: number }[] {
  const out: { at: number; length: number; count: number }[] = [];
  for (let at = SEGMENT_HEADER_BYTES; at < segment.length; ) {
    const check = checkFrame(segment, at, segment.length);
    if (check.kind !== 'ok') throw new Error(`fixture damaged at ${at}`);
    out.push({ at, length: check.length, count: readRecordHeader(segment, at, 'fixture').count });
    at += check.length;
  }
  return out;
}

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

describe('channel record decoding of the formats before', () => {
  for (const version of [1, 2]) {
    it(`decodes the format-${version} fixture to exactly the events that were put`, async () => {
      const segment = await readFile(join(fixtures, `v${version}`, '000000000001.seg'));
      const expected = JSON.parse(await readFile(join(fixtures, `v${version}`, 'expected.json'), 'utf8')) as { events: LogEvent[] };
      expect(segment[6]).toBe(version);
      const events = recordsOf(segment).flatMap((r) => decodeRecordEvents(segment, r.at, r.length, r.count, version, 'fixture'));
      // Format 1 stored wire JSON, read by the wire decoder as a collector reads it: a time no
      // sink can store is kept at the read time, with the claimed one in log.time_invalid.
      const delivered = expected.events.map((e) =>
        version === 1 && !isValidEventTime(e.timestamp)
          ? { ...e, timestamp: expect.any(Number), fields: { ...e.fields, [TIME_INVALID_FIELD]: e.timestamp } }
          : e,
      );
      expect(expected.events.filter((e) => !isValidEventTime(e.timestamp))).toHaveLength(1);
      expect(events).toStrictEqual(delivered);
    });
  }
});

for (const version of [2, 3, 4]) {
  describe(`channel record decoding of damaged bytes (format ${version})`, () => {
    const flagBytes = version === 2 ? 2 : 3;
    const decodeOnly = (buf: Buffer, count: number, at = 0, length = buf.length) =>
      decodeRecordEvents(buf, at, length, count, version, 'seg 1 at byte 8');

    it('never throws anything but a WireFormatError naming where, for random bytes and random counts', () => {
      const random = seededRandom(4242 + version);
      const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
      let errors = 0;
      for (let i = 0; i < 3000; i++) {
        const count = pickCount(random);
        // Mostly a consistent chunk table, so the decoder gets to the layout and the text.
        const part =
          random() < 0.2
            ? bytes(Math.floor(random() * 200))
            : oneChunk(
                random() < 0.8 ? count : pickCount(random),
                bytes(Math.floor(random() * 120)),
                bytes(Math.floor(random() * 80)),
                random() < 0.5 ? undefined : Math.floor(random() * 80),
              );
        try {
          decodeOnly(record(count, part), count);
        } catch (err) {
          expect(err).toBeInstanceOf(WireFormatError);
          expect((err as Error).message).toContain('seg 1 at byte 8');
          errors++;
        }
      }
      expect(errors).toBeGreaterThan(2900);
    });

    it('never throws anything but a WireFormatError for single-byte damage to a valid record (as if the CRC had missed it)', async () => {
      let records: { buf: Buffer; at: number; length: number; count: number }[];
      if (version >= 3) {
        const events = [
          makeEvent(0),
          { ...makeEvent(1), level: 'error' },
          { ...makeEvent(2), level: 'error' },
          makeEvent(3, 50),
          base({ message: 'lone \ud800' }),
          base({ source: { kind: 'k', extra: 1 } as unknown as SourceRef }),
        ];
        const buf = encodeRecord(events, undefined);
        records = [{ buf, at: 0, length: buf.length, count: events.length }];
      } else {
        const buf = await readFile(join(fixtures, `v${version}`, '000000000001.seg'));
        records = recordsOf(buf)
          .filter((r) => r.count > 0)
          .map((r) => ({ buf, ...r }));
      }
      const random = seededRandom(99);
      let decodedAnyway = 0;
      let tried = 0;
      for (const r of records) {
        const eventsAt = r.at + 20 + r.buf.readUInt32LE(r.at + 16);
        for (let at = eventsAt; at < r.at + r.length; at++) {
          const damaged = Buffer.from(r.buf);
          damaged[at] = damaged[at]! ^ (1 + Math.floor(random() * 255));
          tried++;
          try {
            expect(decodeOnly(damaged, r.count, r.at, r.length)).toHaveLength(r.count);
            decodedAnyway++;
          } catch (err) {
            expect(err).toBeInstanceOf(WireFormatError);
          }
        }
      }
      // Damage inside a message's text decodes to other text; the framing itself is checked.
      expect(decodedAnyway).toBeGreaterThan(0);
      expect(decodedAnyway).toBeLessThan(tried);
    });

    it('says what is wrong: a length past the text, leftover bytes, a repeat with nothing before it', () => {
      if (version >= 3) {
        const frame = encodeRecord([makeEvent(1), makeEvent(3)], undefined);
        expect(() => decodeOnly(frame, 1)).toThrow(/text chunks hold 2 events in \d+ bytes, the record 1 events .*\(seg 1 at byte 8\)/);
      }
      const F = flagBytes;
      const layout = Buffer.alloc(F + 8 + 2);
      layout.writeUInt16LE(1, 0); // same service as... nobody
      layout.writeDoubleLE(1, F);
      layout[F + 8] = 1;
      layout[F + 9] = 0;
      expect(() => decodeOnly(record(1, oneChunk(1, layout, Buffer.from('x'))), 1)).toThrow(
        /repeats a value no earlier event had \(event 0\)/,
      );
      layout[F + 8] = 9;
      expect(() => decodeOnly(record(1, oneChunk(1, layout, Buffer.from('x'))), 1)).toThrow(
        /string of 9 characters runs past its text chunk/,
      );
      expect(() => decodeOnly(record(1, oneChunk(1, layout, Buffer.from('xy'), 1)), 1)).toThrow(
        /text chunk 0 decodes to 2 characters, not 1/,
      );
      const whole = Buffer.concat([Buffer.alloc(F), layout.subarray(F, F + 8), Buffer.from([9, 0, 0, 0, 0, 0])]);
      expect(decodeOnly(record(1, oneChunk(1, whole, Buffer.from('x'.repeat(9)))), 1)[0]).toMatchObject({
        id: 'xxxxxxxxx',
        timestamp: 1,
        source: { kind: '' },
      });
      expect(() => decodeOnly(record(1, oneChunk(1, Buffer.concat([whole, Buffer.from([0])]), Buffer.from('x'.repeat(9)))), 1)).toThrow(
        /1 layout bytes left after 1 events/,
      );
      expect(() => decodeOnly(record(1_000_000, oneChunk(1_000_000, Buffer.alloc(30), Buffer.alloc(0))), 1_000_000)).toThrow(
        /says 1000000 events but its layout has only 30 bytes/,
      );
      if (version === 3) {
        // A repeated level with no level before it.
        const sameLevel = Buffer.from(whole);
        sameLevel[2] = 0x02;
        expect(() => decodeOnly(record(1, oneChunk(1, sameLevel, Buffer.from('x'.repeat(9)))), 1)).toThrow(/repeats an absent level/);
      }
    });
  });
}

describe('channel record text chunks', () => {
  it('reads text cut into several chunks, including a string longer than a chunk', () => {
    const events = Array.from({ length: 3000 }, (_, i) => makeEvent(i, i === 1500 ? 100_000 : 40));
    const frame = encodeRecord(events, undefined);
    expect(frame.readUInt32LE(20)).toBeGreaterThan(3);
    expect(decodeRecordEvents(frame, 0, frame.length, 3000, FORMAT_VERSION, 'test')).toStrictEqual(events);
  });
});

function pickCount(random: () => number): number {
  const r = random();
  if (r < 0.6) return 1 + Math.floor(random() * 5);
  if (r < 0.9) return 1 + Math.floor(random() * 100);
  return Math.floor(random() * 2 ** 32);
}
