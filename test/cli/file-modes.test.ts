import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type TempDir, tempDir, waitFor } from '../support/index.js';
import { demoPipeline, REPO, start, stopAll, waitForLog, writeFile } from './harness.js';

/** Issue 12, "Files": what Sluice writes is not readable by others; the Kubernetes manifests. */
let tmp: TempDir;
beforeAll(async () => {
  tmp = await tempDir('cli-modes');
});
afterEach(stopAll);
afterAll(() => tmp.cleanup());

/** Every entry under `dir`, as "relative path" → permission bits. */
function modes(dir: string): Map<string, { mode: number; dir: boolean }> {
  const out = new Map<string, { mode: number; dir: boolean }>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const st = statSync(path);
      out.set(relative(dir, path), { mode: st.mode & 0o777, dir: st.isDirectory() });
      if (st.isDirectory()) walk(path);
    }
  };
  walk(dir);
  return out;
}

const octal = (mode: number) => `0${mode.toString(8)}`;

describe('files sluice creates', () => {
  it('outputs 0640 (or their file_mode), state and dead-letters 0600, directories 0750, under a umask of 027', async () => {
    const config = writeFile(
      tmp.dir,
      'modes.yaml',
      demoPipeline(
        tmp.dir,
        [
          `  archive: { type: file, root: ${tmp.dir}/archive }`,
          `  shared: { type: file, root: ${tmp.dir}/shared, file_mode: "0644" }`,
        ].join('\n'),
        [
          'routes:', // billing/invoicing matches no rule: it goes to the dead-letter
          '  rules:',
          '    - match: { service: shop }',
          '      sinks: [archive]',
          '    - match: { service: billing, module: api }',
          '      sinks: [shared]',
        ].join('\n'),
      ),
    );
    // Started under the usual umask 022: Sluice narrows it to 027 itself.
    const run = start(['run', '-c', config]);
    await waitForLog(run, 'sluice started');
    const deadLetter = join(tmp.dir, 'state/dead-letter/dead-letter.jsonl');
    await waitFor(
      'outputs, checkpoint and dead-letter',
      () => {
        try {
          return (
            statSync(deadLetter).size > 0 &&
            [...modes(join(tmp.dir, 'archive')).keys()].some((k) => k.endsWith('.inprogress')) &&
            [...modes(join(tmp.dir, 'shared')).keys()].some((k) => k.endsWith('.inprogress')) &&
            statSync(join(tmp.dir, 'state/sources/files/checkpoint.json')).isFile()
          );
        } catch {
          return false;
        }
      },
      30_000,
      run.stderr,
    );
    expect(await run.stop()).toBe(0);

    const archive = modes(join(tmp.dir, 'archive'));
    const shared = modes(join(tmp.dir, 'shared'));
    const files = (m: Map<string, { mode: number; dir: boolean }>) => [...m].filter(([, e]) => !e.dir);
    const dirs = (m: Map<string, { mode: number; dir: boolean }>) => [...m].filter(([, e]) => e.dir);
    expect(files(archive).length).toBeGreaterThan(0);
    for (const [name, e] of files(archive)) expect(octal(e.mode), name).toBe('0640');
    for (const [name, e] of files(shared)) expect(octal(e.mode), name).toBe('0644');
    for (const [name, e] of [...dirs(archive), ...dirs(shared)]) expect(octal(e.mode), name).toBe('0750');

    const state = modes(join(tmp.dir, 'state'));
    expect(octal(state.get('dead-letter/dead-letter.jsonl')!.mode)).toBe('0600');
    expect(octal(state.get('sources/files/checkpoint.json')!.mode)).toBe('0600');
    expect(octal(state.get('channel/channel/pointer.0')!.mode)).toBe('0600');
    // Nothing under the state directory is open to other users (channel segments included).
    for (const [name, e] of state) expect(e.mode & 0o007, `${name} ${octal(e.mode)}`).toBe(0);
    for (const [name, e] of dirs(state)) expect(octal(e.mode), name).toBe('0750');
  });
});

describe('Kubernetes manifests', () => {
  const podSpecs = (file: string) =>
    parseAllDocuments(readFileSync(join(REPO, 'docker/kubernetes', file), 'utf8'))
      .map((d) => d.toJS() as { kind?: string; spec?: { template?: { spec?: Record<string, unknown> } } })
      .filter((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment')
      .map((o) => o.spec!.template!.spec!);

  it('mount no service account token', () => {
    const specs = [...podSpecs('sidecar.yaml'), ...podSpecs('daemonset.yaml')];
    expect(specs).toHaveLength(2);
    for (const spec of specs) expect(spec.automountServiceAccountToken).toBe(false);
  });

  it('run the node agent without root, in the group that reads pod logs, and say what it needs', () => {
    const [spec] = podSpecs('daemonset.yaml') as {
      securityContext: Record<string, unknown>;
      containers: { securityContext: Record<string, unknown> }[];
      initContainers: { securityContext: Record<string, unknown>; command: string[] }[];
    }[];
    expect(spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, supplementalGroups: [0] });
    for (const c of spec!.containers) {
      expect(c.securityContext.runAsUser).toBeUndefined();
      expect(c.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
    }
    expect(spec!.initContainers[0]!.securityContext).toMatchObject({ capabilities: { drop: ['ALL'], add: ['CHOWN', 'FOWNER'] } });
    const docs = readFileSync(join(REPO, 'docker/README.md'), 'utf8');
    expect(docs).toContain('0640\nroot:root');
    expect(docs).toContain('`supplementalGroups: [0]`');
  });
});
