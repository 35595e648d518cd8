import { appendFileSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import { waitFor } from '../../../test/support/index.js';
import { LinkWatch } from './link-watch.js';
import type { FileSource } from './source.js';
import { looksWhileIdle, RecordingChannel, sourcesUnderTest } from './testing.js';
import type { Tracker } from './tracker.js';

const sources = sourcesUnderTest('link-watch');
const trackerOf = (s: FileSource): Tracker => (s as unknown as { tracker: Tracker }).tracker;
const POLL_MS = 50;

/** Kubernetes' layout in small: links in a watched directory, each into a directory of its own. */
function layout(n: number): { links: string; targets: string[]; linkPaths: string[] } {
  const links = join(sources.dir, 'containers');
  mkdirSync(links);
  const targets: string[] = [];
  const linkPaths: string[] = [];
  for (let i = 0; i < n; i++) {
    const dir = join(sources.dir, 'pods', `pod${i}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '0.log'), '');
    symlinkSync(join(dir, '0.log'), join(links, `pod${i}.log`));
    targets.push(dir);
    linkPaths.push(join(links, `pod${i}.log`));
  }
  return { links, targets, linkPaths };
}

/** A source on the links whose only way to a new file is its own look: rotate_wait 30 s, no rescan. */
async function startSlow(links: string, link: string): Promise<{ source: FileSource; ch: RecordingChannel }> {
  const ch = new RecordingChannel();
  const source = await sources.start(
    { include: [join(links, '*.log')], poll_interval: `${POLL_MS}ms`, rotate_wait: '30s', rescan_interval: '1h' },
    ch,
  );
  await waitFor('the link taken up', () => trackerOf(source).has(link));
  return { source, ch };
}

describe('files followed through symbolic links into directories not watched', () => {
  test('their appends are announced: read at once and polled every 8 intervals', async () => {
    const { links, targets, linkPaths } = layout(3);
    const ch = new RecordingChannel();
    const source = await sources.start({ include: [join(links, '*.log')], poll_interval: `${POLL_MS}ms` }, ch);
    await waitFor('the links taken up', () => linkPaths.every((p) => trackerOf(source).has(p)));
    for (let round = 0; round < 3; round++)
      for (let i = 0; i < 3; i++) {
        appendFileSync(join(targets[i]!, '0.log'), `pod${i} line ${round}\n`);
        await waitFor(`pod${i} line ${round}`, () => ch.messages().includes(`pod${i} line ${round}`));
      }
    // Polled as announced files are (3 looks in 1.2 s), not on every poll (24).
    expect(await looksWhileIdle(source, linkPaths[0]!, 1200)).toBeLessThanOrEqual(6);
    expect(ch.events).toHaveLength(9);
  });

  test('a rotation in the target directory (rename, new file under the old name) is followed: every line once', async () => {
    const { links, targets, linkPaths } = layout(1);
    const ch = new RecordingChannel();
    const source = await sources.start({ include: [join(links, '*.log')], poll_interval: `${POLL_MS}ms` }, ch);
    await waitFor('the link taken up', () => trackerOf(source).has(linkPaths[0]!));
    const live = join(targets[0]!, '0.log');
    appendFileSync(live, 'a1\na2\n');
    renameSync(live, join(targets[0]!, '0.log.20261201-000000'));
    writeFileSync(live, 'b1\n');
    appendFileSync(live, 'b2\n');
    await waitFor('four lines', () => ch.events.length === 4);
    await new Promise((r) => setTimeout(r, 300));
    expect([...ch.messages()].sort()).toEqual(['a1', 'a2', 'b1', 'b2']);
    // The new file is announced too.
    appendFileSync(live, 'b3\n');
    await waitFor('b3', () => ch.events.length === 5);
    expect(await looksWhileIdle(source, linkPaths[0]!, 1200)).toBeLessThanOrEqual(6);
  });

  test('kubelet rotation, the new file made a moment after the rename: taken up at once, twice in a row, no file lost', async () => {
    const { links, targets, linkPaths } = layout(1);
    // Neither the old file's rotate_wait nor a rescan may be what finds the new one.
    const { ch } = await startSlow(links, linkPaths[0]!);
    const live = join(targets[0]!, '0.log');
    for (const [round, rotated] of ['0.log.1', '0.log.2'].entries()) {
      appendFileSync(live, `r${round} last\n`);
      renameSync(live, join(targets[0]!, rotated));
      await new Promise((r) => setTimeout(r, 30));
      writeFileSync(live, `r${round + 1} first\n`);
      await waitFor(`r${round + 1} first`, () => ch.messages().includes(`r${round + 1} first`), 5000);
    }
    expect([...ch.messages()].sort()).toEqual(['r0 last', 'r1 first', 'r1 last', 'r2 first']);
  });

  test('a target directory deleted and made again is watched again', async () => {
    const { links, targets, linkPaths } = layout(1);
    const ch = new RecordingChannel();
    const source = await sources.start({ include: [join(links, '*.log')], poll_interval: `${POLL_MS}ms`, rescan_interval: '1h' }, ch);
    await waitFor('the link taken up', () => trackerOf(source).has(linkPaths[0]!));
    rmSync(targets[0]!, { recursive: true });
    mkdirSync(targets[0]!);
    writeFileSync(join(targets[0]!, '0.log'), '');
    for (let i = 0; i < 3; i++) {
      appendFileSync(join(targets[0]!, '0.log'), `again ${i}\n`);
      await waitFor(`again ${i}`, () => ch.events.length === i + 1);
    }
    expect(await looksWhileIdle(source, linkPaths[0]!, 1200)).toBeLessThanOrEqual(6);
  });

  test('a target directory deleted while its file is still open, and made again later, is watched again', async () => {
    const { links, targets, linkPaths } = layout(1);
    const { source, ch } = await startSlow(links, linkPaths[0]!);
    appendFileSync(join(targets[0]!, '0.log'), 'before\n');
    await waitFor('before', () => ch.events.length === 1);
    // The source holds the deleted file open: Linux reports the directory's deletion only once it is closed.
    rmSync(targets[0]!, { recursive: true });
    await new Promise((r) => setTimeout(r, 500));
    mkdirSync(targets[0]!);
    for (let i = 0; i < 3; i++) {
      appendFileSync(join(targets[0]!, '0.log'), `again ${i}\n`);
      await waitFor(`again ${i}`, () => ch.events.length === i + 2, 5000);
    }
    expect(await looksWhileIdle(source, linkPaths[0]!, 1200)).toBeLessThanOrEqual(6);
  });

  test('a link made to point into another directory is watched there at once', async () => {
    const { links, linkPaths } = layout(1);
    const moved = join(sources.dir, 'pods', 'restarted');
    mkdirSync(moved);
    writeFileSync(join(moved, '1.log'), '');
    const ch = new RecordingChannel();
    const source = await sources.start({ include: [join(links, '*.log')], poll_interval: `${POLL_MS}ms`, rescan_interval: '1h' }, ch);
    await waitFor('the link taken up', () => trackerOf(source).has(linkPaths[0]!));
    rmSync(linkPaths[0]!);
    symlinkSync(join(moved, '1.log'), linkPaths[0]!);
    appendFileSync(join(moved, '1.log'), 'c1\n');
    await waitFor('c1', () => ch.events.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(join(moved, '1.log'), 'c2\n');
    await waitFor('c2', () => ch.events.length === 2);
    expect(await looksWhileIdle(source, linkPaths[0]!, 1200)).toBeLessThanOrEqual(6);
    expect(ch.messages()).toEqual(['c1', 'c2']);
  });
});

describe('LinkWatch', () => {
  const watchedDirs = (w: LinkWatch): string[] => [...(w as unknown as { dirs: Map<string, unknown> }).dirs.keys()];

  test('one watch per target directory, closed when no followed link leads into it', async () => {
    const { linkPaths, targets } = layout(2);
    const plain = join(sources.dir, 'plain.log');
    writeFileSync(plain, '');
    const touched: string[] = [];
    const w = new LinkWatch((p) => touched.push(p), silentLogger());
    try {
      const followed = (paths: string[]) => paths.map((path, i) => ({ path, key: `0:${i}` }));
      await w.sync(followed([...linkPaths, plain]), false);
      expect(watchedDirs(w).sort()).toEqual([...targets].sort());
      appendFileSync(join(targets[1]!, '0.log'), 'x\n');
      await waitFor('the link touched', () => touched.includes(linkPaths[1]!));
      expect(touched).not.toContain(linkPaths[0]);
      expect(touched).not.toContain(plain);
      await w.sync(followed([linkPaths[1]!]), false);
      expect(watchedDirs(w)).toEqual([targets[1]]);
      await w.sync([], false);
      expect(watchedDirs(w)).toEqual([]);
    } finally {
      w.close();
    }
  });
});
