import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, test } from 'vitest';
import { applyCheckpoint } from '../../../core/checkpoint-patch.js';
import type { SourceCheckpoint } from '../../../core/pipeline.js';
import { waitFor } from '../../../test/support/index.js';
import { CheckpointError, CheckpointPatches, type FileEntry, type FileSourceState, parseState } from './checkpoint.js';
import { RecordingChannel, sourcesUnderTest } from './testing.js';

const entry = (ino: number, pos: number, over: Partial<FileEntry> = {}): FileEntry => ({
  id: `id-${ino}`,
  dev: 1,
  ino,
  fp: { len: 10, hash: 'h' },
  path: `/l/${ino}.log`,
  pos,
  ...over,
});
const state = (entries: FileEntry[], lost: FileSourceState['lost'] = []): FileSourceState => ({
  v: 2,
  files: Object.fromEntries(entries.map((e) => [`${e.dev}:${e.ino}`, e])),
  lost,
});

describe('file source state', () => {
  test('version 1 (files as an array) is read as version 2, keyed by device and inode', () => {
    const v1 = { v: 1, files: [entry(7, 10, { tail: '0123abcd' }), entry(8, 0, { prefixOf: '/l/x.log' })], lost: [] };
    expect(parseState(v1, 'test')).toStrictEqual({
      v: 2,
      files: { '1:7': entry(7, 10, { tail: '0123abcd' }), '1:8': entry(8, 0, { prefixOf: '/l/x.log' }) },
      lost: [],
    });
  });

  test('a version 2 entry under another key than its own is refused', () => {
    expect(() => parseState({ v: 2, files: { '1:9': entry(7, 10) }, lost: [] }, 'the test')).toThrow(
      new CheckpointError('invalid file source checkpoint in the test: files.1:9: the entry is of 1:7'),
    );
    expect(() => parseState({ v: 3, files: {}, lost: [] }, 'x')).toThrow(CheckpointError);
  });
});

describe('CheckpointPatches', () => {
  const lost = { id: 'gone', fp: { len: 5, hash: 'g' }, path: '/l/g.log', pos: 5, at: 1 };

  test('whole first; then the entries changed since the last accepted put, a removed one null, lost whole when it changed', () => {
    const p = new CheckpointPatches('s', 1000);
    const s1 = state([entry(1, 10, { tail: 'aaaaaaaa' }), entry(2, 20), entry(3, 30)]);
    const first = p.next(1, s1, 0);
    const run = first.checkpoint.run!;
    expect(run).toMatch(/^[0-9a-f]{12}$/);
    expect(first.checkpoint).toStrictEqual({ source: 's', seq: 1, run, state: s1 });
    p.accepted(first, 0);

    const s2 = state([entry(1, 11), entry(3, 30), entry(4, 0, { prefixOf: '/l/1.log' })], [lost]);
    const second = p.next(2, s2, 100);
    expect(second.checkpoint).toStrictEqual({
      source: 's',
      seq: 2,
      run,
      patch: true,
      base: 1,
      state: {
        files: {
          '1:1': { ...entry(1, 11), prefixOf: null, tail: null },
          '1:2': null,
          '1:4': { ...entry(4, 0, { prefixOf: '/l/1.log' }), tail: null },
        },
        lost: [lost],
      },
    });
    // Merged over the first, the patch leaves exactly the second state.
    expect(applyCheckpoint(first.checkpoint, second.checkpoint)).toStrictEqual({ source: 's', seq: 2, run, state: s2 });
  });

  test('a put not accepted does not move the base: the next patch carries its changes too', () => {
    const p = new CheckpointPatches('s', 1000);
    const first = p.next(1, state([entry(1, 10), entry(2, 20)]), 0);
    p.accepted(first, 0);
    p.next(2, state([entry(1, 15), entry(2, 20)]), 10); // refused
    const third = p.next(3, state([entry(1, 15), entry(2, 25)]), 20);
    expect(third.checkpoint).toMatchObject({ base: 1, state: { files: { '1:1': { pos: 15 }, '1:2': { pos: 25 } } } });
    p.accepted(third, 20);
    expect(p.next(4, state([entry(1, 15), entry(2, 25)]), 30).checkpoint).toStrictEqual({
      source: 's',
      seq: 4,
      run: first.checkpoint.run,
      patch: true,
      base: 3,
      state: {},
    });
  });

  test('whole again once checkpoint_interval has passed since the last whole one accepted, and after reset()', () => {
    const p = new CheckpointPatches('s', 1000);
    const s = state([entry(1, 10)]);
    const first = p.next(1, s, 0);
    p.accepted(first, 0);
    p.accepted(p.next(2, s, 999), 999);
    expect(p.next(3, s, 999).checkpoint.patch).toBe(true);
    const due = p.next(3, s, 1000);
    expect(due.checkpoint).toStrictEqual({ source: 's', seq: 3, run: first.checkpoint.run, state: s });
    p.accepted(due, 1000);
    expect(p.next(4, s, 1999).checkpoint.patch).toBe(true);
    p.reset();
    const afterReset = p.next(4, s, 1999).checkpoint;
    expect(afterReset.patch).toBeUndefined();
    expect(afterReset.run, 'a restart is a new run').not.toBe(first.checkpoint.run);
  });
});

describe('checkpoint.json of version 1', () => {
  const sources = sourcesUnderTest('file-checkpoint');
  let dir: string;
  beforeEach(() => {
    dir = sources.dir;
  });

  test('is still read: the source resumes at its position', async () => {
    const log = join(dir, 'a.log');
    writeFileSync(log, 'one\ntwo\nthree\n');
    const st = statSync(log);
    const v1: SourceCheckpoint = {
      source: 'files',
      seq: 3,
      state: { v: 1, files: [{ id: 'f1', dev: st.dev, ino: st.ino, fp: { len: 0, hash: '' }, path: log, pos: 8 }], lost: [] },
    };
    mkdirSync(join(dir, 'files'), { recursive: true });
    writeFileSync(join(dir, 'files', 'checkpoint.json'), JSON.stringify(v1));
    const ch = new RecordingChannel();
    await sources.start({ include: [log] }, ch);
    await waitFor('the line after the position', () => ch.events.length === 1);
    expect(ch.messages()).toEqual(['three']);
    expect(ch.sent[0]).toMatchObject({ seq: 4, state: { v: 2, files: { [`${st.dev}:${st.ino}`]: { pos: 14 } } } });
  });
});
