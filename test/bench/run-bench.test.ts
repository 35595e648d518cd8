import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leadingNumber, OutputTree } from '../../bench/support/output.js';
import { REPO } from '../cli/harness.js';
import { type TempDir, tempDir } from '../support/index.js';

/**
 * The end-to-end benchmarks' own checks, so that a figure never comes from a bench that
 * miscounts: the output reader follows a file through its rename at a roll, and `bench run`
 * on a small backlog finds every line exactly once (no figures asserted: speed is the
 * bench's to report).
 */
let tmp: TempDir;
beforeAll(async () => {
  tmp = await tempDir('bench-run');
});
afterAll(() => tmp.cleanup());

describe('OutputTree', () => {
  it('reads in-progress files and their finished names once, whole lines only', () => {
    const root = join(tmp.dir, 'tree');
    const day = join(root, 'svc', 'mod', '2024-05-01');
    mkdirSync(day, { recursive: true });
    const inProgress = join(day, '.host.000001.log.inprogress');
    writeFileSync(inProgress, '0000000001 a\n0000000002 b\n00000');
    const tree = new OutputTree(root);
    const seen: number[] = [];
    const read = () => tree.read((line) => seen.push(leadingNumber(line).value));
    expect(read()).toBe(2);
    expect(tree.bytes()).toBe(31);
    appendFileSync(inProgress, '00003 c\n');
    renameSync(inProgress, join(day, 'host.000001.log'));
    writeFileSync(join(day, '.host.000002.log.inprogress'), '0000000004 d\n');
    expect(read()).toBe(2);
    expect(read()).toBe(0);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(tree.bytes()).toBe(39 + 13);
    tree.close();
  });
});

describe('bench run', () => {
  it('moves a 2 MiB backlog through sluice run and finds each of its 10,485 lines once', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'dist/bench/run.js'), 'backlog'], {
      env: { ...process.env, BENCH_MIB: '2', TMPDIR: tmp.dir },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(result.backlog).toMatchObject({
      lines: 10_485,
      lines_out: 10_485,
      missing: 0,
      duplicates: 0,
      bad_lines: 0,
      exactly_once: true,
      exit_code: 0,
    });
  });
});
