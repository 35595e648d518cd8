import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TempDir, tempDir } from '../support/index.js';
import { REPO } from './harness.js';

/**
 * Issue 12, "Newcomers": `npm test` in a fresh clone whose parent is private (a clone in
 * /root, or in any `mktemp -d`). Elasticsearch runs as an unprivileged user when the tests
 * run as root, so the services must live where that user can reach them.
 */
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
let tmp: TempDir;
let clone: string;

beforeAll(async () => {
  tmp = await tempDir('cli-services'); // mkdtemp: 0700, like a clone's parent in /root
  clone = join(tmp.dir, 'sluice');
  mkdirSync(join(clone, 'test/services'), { recursive: true });
  for (const f of ['services.mjs', 'pom.xml']) copyFileSync(join(REPO, 'test/services', f), join(clone, 'test/services', f));
  symlinkSync(join(REPO, 'node_modules'), join(clone, 'node_modules'));
});
afterAll(() => tmp.cleanup());

/** servicesDir() as that clone's test setup sees it. */
function servicesDirOf(env: NodeJS.ProcessEnv = {}): { dir: string; shared: string } {
  const script = `import('${join(clone, 'test/services/services.mjs')}').then((m) => console.log(JSON.stringify({ dir: m.servicesDir(), shared: m.sharedServicesDir() })))`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as { dir: string; shared: string };
}

describe(`the services directory${asRoot ? '' : ' (not root: Elasticsearch runs as this user, the clone is always reachable)'}`, () => {
  it.runIf(asRoot)('of a private clone is a directory Elasticsearch can reach, made for it, as the README says', () => {
    expect(statSync(tmp.dir).mode & 0o777).toBe(0o700);
    const { dir, shared } = servicesDirOf();
    expect(dir).toBe(shared);
    expect(dir).toBe(`/var/tmp/sluice-services-${process.getuid!()}`);
    const st = statSync(dir);
    expect([st.isDirectory(), st.uid, st.mode & 0o777]).toEqual([true, process.getuid!(), 0o755]);
    expect(readFileSync(join(REPO, 'README.md'), 'utf8')).toContain('`/var/tmp/sluice-services-<uid>/`');
  });

  it.runIf(asRoot)("is reachable by Elasticsearch's own unprivileged user, where the private clone is not", (ctx) => {
    // The user services.mjs runs Elasticsearch as; it makes it on its first start as root.
    if (spawnSync('id', ['-u', 'sluice-es']).status !== 0) ctx.skip('no sluice-es user yet: the services never started as root here');
    const { dir } = servicesDirOf();
    const canEnter = (path: string) => spawnSync('runuser', ['-u', 'sluice-es', '--', 'test', '-x', path]).status === 0;
    expect(canEnter(dir)).toBe(true);
    expect(canEnter(clone)).toBe(false);
  });

  it('of a reachable clone is var/services inside it', () => {
    chmodSync(tmp.dir, 0o755);
    try {
      expect(servicesDirOf().dir).toBe(join(clone, 'var/services'));
    } finally {
      chmodSync(tmp.dir, 0o700);
    }
  });

  it('is SLUICE_SERVICES_DIR when set', () => {
    expect(servicesDirOf({ SLUICE_SERVICES_DIR: join(tmp.dir, 'elsewhere') }).dir).toBe(join(tmp.dir, 'elsewhere'));
  });
});
