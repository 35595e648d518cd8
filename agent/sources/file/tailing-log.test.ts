import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, expect, test } from 'vitest';
import { captureLogger, waitFor } from '../../../test/support/index.js';
import { RecordingChannel, sourcesUnderTest } from './testing.js';

/** Say what is being tailed: each file taken up and let go, and includes that match nothing. */
const sources = sourcesUnderTest('file-visible');
let dir: string;
beforeEach(() => {
  dir = sources.dir;
});

test('each file taken up and let go is logged with its path, identity and position (fixed message, values in fields)', async () => {
  const log = join(dir, 'app.log');
  writeFileSync(log, 'one\ntwo\n');
  const cap = captureLogger();
  const ch = new RecordingChannel();
  await sources.start({ include: [join(dir, '*.log')], start_at: 'end' }, ch, 'files', cap.logger);
  const taken = cap.lines.filter((l) => l.msg === 'file taken up');
  expect(taken).toHaveLength(1);
  expect(taken[0]).toMatchObject({ level: 30, path: log, pos: 8, how: 'new', encoding: 'utf-8' });
  expect(taken[0]!.file_id).toMatch(/^\d+:\d+:[0-9a-f]{16}$/);
  expect(Object.keys(taken[0]!).every((k) => /^[a-z]+(_[a-z]+)*$/.test(k))).toBe(true);

  appendFileSync(log, 'three\n');
  await waitFor('1 event', () => ch.events.length === 1);
  renameSync(log, `${log}.1`); // outside the globs: read to its end, then let go
  writeFileSync(log, 'four\n');
  await waitFor('"file let go"', () => cap.lines.some((l) => l.msg === 'file let go'));
  expect(cap.lines.find((l) => l.msg === 'file let go')).toMatchObject({
    path: log,
    file_id: taken[0]!.file_id,
    pos: 14,
    reason: 'rotated',
  });
  await waitFor('the new file', () => ch.messages().includes('four'));
  expect(cap.lines.filter((l) => l.msg === 'file taken up').at(-1)).toMatchObject({ path: log, pos: 0, how: 'new' });
  expect(ch.messages()).toEqual(['three', 'four']);
});

test('after the first scan, every include that matched no file is warned about, saying whether its directory exists', async () => {
  writeFileSync(join(dir, 'present.log'), 'x\n');
  const cap = captureLogger();
  await sources.start(
    { include: [join(dir, '*.log'), join(dir, '*.txt'), join(dir, 'missing', '*.log')] },
    new RecordingChannel(),
    'files',
    cap.logger,
  );
  const warned = cap.lines.filter((l) => l.msg === 'include matched no file (yet); files appearing later are still picked up');
  expect(warned.map((l) => [l.include, l.directory, l.directory_exists, l.level])).toEqual([
    [join(dir, '*.txt'), dir, true, 40],
    [join(dir, 'missing', '*.log'), join(dir, 'missing'), false, 40],
  ]);
});
