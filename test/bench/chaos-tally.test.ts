import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expected, KINDS, type Kind, requiredMark, type Stream, writeStream } from '../../bench/support/chaos-stream.js';
import { Tally } from '../../bench/support/chaos-tally.js';
import { type TempDir, tempDir } from '../support/index.js';

/**
 * The chaos bench's own accounting (bench/chaos.ts), so that its verdict never comes from a
 * miscount: records are where the stream says, and lost, duplicated, misplaced or unmarked
 * events each turn `ok` false.
 */
let tmp: TempDir;
let stream: Stream;
beforeAll(async () => {
  tmp = await tempDir('bench-chaos');
  stream = await writeStream(tmp.dir, 400, 2, async () => undefined, 16);
});
afterAll(() => tmp.cleanup());

const kindOf = (n: number): Kind => KINDS[stream.kind[n]!]!;
const seen = (n: number, fields: Record<string, unknown> = {}) => {
  const mark = requiredMark(kindOf(n));
  return {
    id: `id-${n}`,
    path: stream.files[stream.file[n]!]!.path,
    offset: stream.offset[n]!,
    fields: mark ? { [mark]: true, ...fields } : fields,
  };
};
const entry = (n: number, reason: string) => JSON.stringify({ reason, event: { source: { path: seen(n).path, offset: seen(n).offset } } });

/** Every record where its kind says, except those `skip` names. */
function honest(skip: (n: number, sink: 'file' | 'es') => boolean = () => false): Tally {
  const t = new Tally(stream);
  for (let n = 0; n < stream.kind.length; n++) {
    for (const sink of ['file', 'es'] as const) {
      if (skip(n, sink)) continue;
      if (expected(kindOf(n), sink)[0] === 'delivered') t.deliver(sink, seen(n), sink);
      else if (kindOf(n) === 'garbage') {
        // A record that is no event: one dead-letter entry (by its Kafka coordinates) for both sinks.
        if (sink === 'file')
          t.collectorEntry(
            JSON.stringify({ reason: 'not a Sluice event', value: stream.foreign.find((r) => r.n === n)!.value.toString() }),
          );
      } else t.collectorEntry(entry(n, `sinks.${sink}: refused`));
    }
  }
  return t;
}

describe('chaos stream', () => {
  it('writes each record at the offset it records, in the file it records; the last ones are to produce to Kafka', () => {
    const contents = stream.files.slice(0, -1).map((f) => readFileSync(f.path));
    expect(stream.foreign.map((r) => r.n)).toEqual(Array.from({ length: 16 }, (_, i) => 384 + i));
    expect(stream.foreign.filter((r) => kindOf(r.n) === 'garbage').length).toBe(6);
    for (let n = 0; n < 384; n++) {
      const file = contents[stream.file[n]!]!;
      const at = stream.offset[n]!;
      expect(at === 0 || file[at - 1] === 10).toBe(true);
      const line = file.subarray(at, file.indexOf(10, at)).toString();
      if (kindOf(n) !== 'blank') expect(line.includes(`#${n} `) || line.includes(`"n":${n},`)).toBe(true);
    }
    expect(new Set(stream.kind).size).toBeGreaterThanOrEqual(9);
  });
});

describe('Tally', () => {
  it('is ok when every record is delivered or dead-lettered once where its kind says', () => {
    const v = honest().summary();
    expect(v.problemSample).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.perSink.file.delivered + v.perSink.file.dead_letter).toBe(400);
    expect(v.perKind.garbage).toEqual({ records: 6, file_dead_letter: 6, es_dead_letter: 6 });
    expect(v.perSink.es.lost).toBe(0);
  });

  it('counts a record in no sink as lost and one found twice as duplicated', () => {
    const t = honest((n, sink) => n === 7 && sink === 'es');
    t.deliver('file', seen(8), 'file');
    const v = t.summary();
    expect(v.ok).toBe(false);
    expect(v.perSink.es.lost).toBe(1);
    expect(v.lostSample.es).toEqual([7]);
    expect(v.perSink.file.duplicated).toBe(1);
  });

  it('flags a poison delivered where it must be dead-lettered, an unmarked bad time, an event of no record and ids that differ', () => {
    const conflict = stream.kind.indexOf(KINDS.indexOf('conflict'));
    const badTime = stream.kind.indexOf(KINDS.indexOf('time_ns'));
    const good = stream.kind.indexOf(KINDS.indexOf('good'));
    const t = honest((n, sink) => (n === conflict && sink === 'es') || (n === badTime && sink === 'file'));
    t.deliver('es', seen(conflict), 'es');
    t.deliver('file', { ...seen(badTime), fields: {} }, 'file');
    t.deliver('file', { path: '/nowhere.log', offset: 0 }, 'file');
    t.deliver('file', { ...seen(good), id: 'other' }, 'file');
    const v = t.summary();
    expect(v.ok).toBe(false);
    expect(v.perSink.es.unexpected).toBe(1);
    expect(v.problemSample.join('\n')).toContain(`record ${badTime} (time_ns) delivered without log.time_invalid`);
    expect(v.problemSample.join('\n')).toContain('an event of no record (path /nowhere.log');
    expect(v.problemSample.join('\n')).toContain(`record ${good} delivered as other, elsewhere as id-${good}`);
  });
});
