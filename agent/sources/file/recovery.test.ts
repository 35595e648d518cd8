import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { FileSource } from './source.js';
import { makeSource, RecordingChannel, tempDir, until } from './testing.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await cleanup();
});

const line = (i: number): string => `line ${i}`;
const lines = (from: number, to: number): string => `${Array.from({ length: to - from }, (_, k) => line(from + k)).join('\n')}\n`;

test('repro: app.log renamed to app.log.1 (outside the globs) while the source was down', async () => {
  const log = join(dir, 'app.log');
  writeFileSync(log, lines(0, 1000));
  const ch = new RecordingChannel();
  const s1: FileSource = makeSource({ include: [join(dir, '*.log')] }, dir);
  await s1.start(ch);
  await until(() => ch.events.length === 1000, '1000 events');
  await s1.stop();
  renameSync(log, `${log}.1`);
  appendFileSync(`${log}.1`, lines(1000, 1500));
  writeFileSync(log, lines(1500, 2000));
  const ch2 = new RecordingChannel(ch.checkpoints.at(-1));
  const s2 = makeSource({ include: [join(dir, '*.log')] }, dir);
  await s2.start(ch2);
  await until(() => ch2.messages().includes(line(1999)), 'the new file');
  await new Promise((r) => setTimeout(r, 1000));
  await s2.stop();
  const all = [...ch.messages(), ...ch2.messages()];
  expect(all.length).toBe(2000);
});
