import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { captureLogger, type TempDir, tempDir, waitFor } from '../../../test/support/index.js';
import { Discovery } from './discovery.js';
import { PathMatcher } from './glob.js';

// fs.watch fails on demand (an inotify limit cannot be reached here without changing the machine).
const watchFailure = vi.hoisted(() => ({ code: undefined as string | undefined }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const watch = (...args: Parameters<typeof fs.watch>) => {
    if (watchFailure.code) throw Object.assign(new Error(`${watchFailure.code}: watch ${String(args[0])}`), { code: watchFailure.code });
    return fs.watch(...args);
  };
  return { ...fs, watch };
});

/**
 * The watcher on a real file system: one watch per directory a match can sit in, an event
 * reported as the path it names when the globs take it, nothing else.
 */
let tmp: TempDir;
let dir: string;
let discovery: Discovery | undefined;
beforeEach(async () => {
  tmp = await tempDir('discovery');
  dir = tmp.dir;
});
afterEach(async () => {
  await discovery?.close();
  discovery = undefined;
  await tmp.cleanup();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Longer than the watcher takes to report an event on an idle machine, many times over. */
const QUIET_MS = 300;

interface Watching {
  discovery: Discovery;
  touched: string[];
  /** Paths of the directories watched now. */
  watchedDirs: () => string[];
}

async function watching(include: string[]): Promise<Watching> {
  const touched: string[] = [];
  const d = new Discovery(new PathMatcher(include, []), true, { touched: (p) => touched.push(p) }, captureLogger().logger);
  discovery = d;
  await d.scan();
  const dirs = (d as unknown as { dirs: Map<string, unknown> }).dirs;
  return { discovery: d, touched, watchedDirs: () => [...dirs.keys()].sort() };
}

const reported = (w: Watching, path: string): Promise<void> =>
  waitFor(
    `${path} reported`,
    () => w.touched.includes(path),
    5000,
    () => JSON.stringify(w.touched),
  );

describe('files in a base directory', () => {
  test('a new file is reported, an append to it too, and a file the globs do not take never', async () => {
    const w = await watching([join(dir, '*.log')]);
    expect(w.watchedDirs()).toEqual([dir]);
    writeFileSync(join(dir, 'other.txt'), 'x\n');
    writeFileSync(join(dir, 'app.log'), 'a\n');
    await reported(w, join(dir, 'app.log'));
    w.touched.length = 0;
    appendFileSync(join(dir, 'other.txt'), 'y\n');
    appendFileSync(join(dir, 'app.log'), 'b\n');
    await reported(w, join(dir, 'app.log'));
    await sleep(QUIET_MS);
    expect(new Set(w.touched)).toEqual(new Set([join(dir, 'app.log')]));
  });

  test('one watch per directory, none per file', async () => {
    mkdirSync(join(dir, 'sub'));
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, `f${i}.log`), 'x\n');
    const w = await watching([join(dir, '*.log')]);
    expect(w.watchedDirs()).toEqual([dir]);
  });
});

describe('subdirectories created after the start', () => {
  test('with **, a file in a new directory at any depth is reported', async () => {
    const w = await watching([join(dir, '**/*.log')]);
    mkdirSync(join(dir, 'a', 'b', 'c'), { recursive: true });
    writeFileSync(join(dir, 'a', 'b', 'c', 'deep.log'), 'x\n');
    await reported(w, join(dir, 'a', 'b', 'c', 'deep.log'));
    await waitFor('the new directories watched', () => w.watchedDirs().length === 4);
    expect(w.watchedDirs()).toEqual([dir, join(dir, 'a'), join(dir, 'a', 'b'), join(dir, 'a', 'b', 'c')]);
    appendFileSync(join(dir, 'a', 'b', 'c', 'deep.log'), 'y\n');
    w.touched.length = 0;
    await reported(w, join(dir, 'a', 'b', 'c', 'deep.log'));
  });

  test('with a glob one level deep, a file one level down is reported and one two levels down is not', async () => {
    const w = await watching([join(dir, '*/x.log')]);
    mkdirSync(join(dir, 'svc', 'deeper'), { recursive: true });
    await waitFor('svc watched', () => w.watchedDirs().includes(join(dir, 'svc')));
    writeFileSync(join(dir, 'svc', 'deeper', 'x.log'), 'x\n');
    writeFileSync(join(dir, 'svc', 'x.log'), 'x\n');
    await reported(w, join(dir, 'svc', 'x.log'));
    await sleep(QUIET_MS);
    expect(new Set(w.touched)).toEqual(new Set([join(dir, 'svc', 'x.log')]));
    expect(w.watchedDirs()).toEqual([dir, join(dir, 'svc')]);
  });

  test('a directory made with its file before its watch is set up still has the file reported', async () => {
    const w = await watching([join(dir, '*/x.log')]);
    mkdirSync(join(dir, 'svc'));
    writeFileSync(join(dir, 'svc', 'x.log'), 'x\n');
    await reported(w, join(dir, 'svc', 'x.log'));
  });
});

describe('directories that go away', () => {
  test('a removed subdirectory is forgotten, and watched again when made again', async () => {
    mkdirSync(join(dir, 'svc'));
    const w = await watching([join(dir, '*/x.log')]);
    expect(w.watchedDirs()).toEqual([dir, join(dir, 'svc')]);
    rmSync(join(dir, 'svc'), { recursive: true });
    await waitFor('svc forgotten', () => !w.watchedDirs().includes(join(dir, 'svc')));
    mkdirSync(join(dir, 'svc'));
    await waitFor('svc watched again', () => w.watchedDirs().includes(join(dir, 'svc')));
    writeFileSync(join(dir, 'svc', 'x.log'), 'x\n');
    await reported(w, join(dir, 'svc', 'x.log'));
  });

  test('a removed base directory does not crash; made again, it is watched after the next scan', async () => {
    const base = join(dir, 'logs');
    mkdirSync(base);
    const w = await watching([join(base, '*.log')]);
    rmSync(base, { recursive: true });
    await waitFor('the base forgotten', () => w.watchedDirs().length === 0);
    mkdirSync(base);
    expect(await w.discovery.scan()).toEqual([]);
    expect(w.watchedDirs()).toEqual([base]);
    writeFileSync(join(base, 'app.log'), 'x\n');
    await reported(w, join(base, 'app.log'));
  });
});

describe('what a lost event or a reused inode would leave unwatched', () => {
  test('a subdirectory whose watch failed is watched at the next rescan, and what is below it', async () => {
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    const d = new Discovery(new PathMatcher([join(dir, '**/*.log')], []), true, { touched: () => {} }, captureLogger().logger);
    discovery = d;
    const dirs = (d as unknown as { dirs: Map<string, unknown> }).dirs;
    await d.scan();
    expect([...dirs.keys()].sort()).toEqual([dir, join(dir, 'a'), join(dir, 'a', 'b')]);
    // As if their events had been lost: the rescan finds them by reading what it watches.
    for (const sub of [join(dir, 'a', 'b'), join(dir, 'a')]) {
      (dirs.get(sub) as { watcher: { close(): void } }).watcher.close();
      dirs.delete(sub);
    }
    mkdirSync(join(dir, 'a', 'c'));
    await d.scan();
    expect([...dirs.keys()].sort()).toEqual([dir, join(dir, 'a'), join(dir, 'a', 'b'), join(dir, 'a', 'c')]);
  });

  test('a directory removed and made again at once is watched anew, whatever inode it gets', async () => {
    mkdirSync(join(dir, 'svc'));
    const w = await watching([join(dir, '*/x.log')]);
    rmSync(join(dir, 'svc'), { recursive: true });
    mkdirSync(join(dir, 'svc'));
    await sleep(QUIET_MS);
    writeFileSync(join(dir, 'svc', 'x.log'), 'x\n');
    await reported(w, join(dir, 'svc', 'x.log'));
    w.touched.length = 0;
    appendFileSync(join(dir, 'svc', 'x.log'), 'y\n');
    await reported(w, join(dir, 'svc', 'x.log'));
  });

  test('a subdirectory that is also a base keeps its own depth when made again', async () => {
    mkdirSync(join(dir, 'b'));
    const w = await watching([join(dir, '*/x.log'), join(dir, 'b/**/*.log')]);
    rmSync(join(dir, 'b'), { recursive: true });
    await waitFor('b forgotten', () => !w.watchedDirs().includes(join(dir, 'b')));
    mkdirSync(join(dir, 'b'));
    await waitFor('b watched again', () => w.watchedDirs().includes(join(dir, 'b')));
    mkdirSync(join(dir, 'b', 'deep'));
    await waitFor('b/deep watched', () => w.watchedDirs().includes(join(dir, 'b', 'deep')));
    writeFileSync(join(dir, 'b', 'deep', 'y.log'), 'y\n');
    await reported(w, join(dir, 'b', 'deep', 'y.log'));
  });
});

test('close() releases every watch and stops the events', async () => {
  mkdirSync(join(dir, 'svc'));
  const w = await watching([join(dir, '**/*.log')]);
  expect(w.watchedDirs()).toEqual([dir, join(dir, 'svc')]);
  await w.discovery.close();
  expect(w.watchedDirs()).toEqual([]);
  writeFileSync(join(dir, 'app.log'), 'x\n');
  writeFileSync(join(dir, 'svc', 'app.log'), 'x\n');
  await sleep(QUIET_MS);
  expect(w.touched).toEqual([]);
});

test('a directory that cannot be watched is named in one warning, and the scan still finds its files', async () => {
  const cap = captureLogger();
  writeFileSync(join(dir, 'app.log'), 'x\n');
  const d = new Discovery(new PathMatcher([join(dir, '*.log')], []), true, { touched: () => {} }, cap.logger);
  discovery = d;
  watchFailure.code = 'ENOSPC';
  try {
    expect(await d.scan()).toEqual([join(dir, 'app.log')]);
    expect(await d.scan()).toEqual([join(dir, 'app.log')]);
  } finally {
    watchFailure.code = undefined;
  }
  const warnings = cap.lines.filter((l) => l.level === 40);
  expect(warnings.map((l) => [l.msg, l.directory, l.hint, (l.err as { code?: string }).code])).toEqual([
    [
      'cannot watch directory; the rescan finds its new files and the poll their growth',
      dir,
      'inotify watch limit reached: raise the sysctl fs.inotify.max_user_watches',
      'ENOSPC',
    ],
  ]);
  // Watched once the limit allows it, at a rescan.
  await d.scan();
  expect((d as unknown as { dirs: Map<string, unknown> }).dirs.has(dir)).toBe(true);
});
