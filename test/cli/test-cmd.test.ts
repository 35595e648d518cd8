import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/index.js';

const root = join(import.meta.dirname, '../..');
const cli = join(root, 'dist/bin/sluice.js');
const tmp = await tempDir('cli-test-cmd');
afterAll(() => tmp.cleanup());

function sluice(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 30_000, cwd: root });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, text: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, text);
  return path;
}

const pipeline = file(
  'pipeline.yaml',
  [
    'sources:',
    '  app: {type: file, include: ["/tmp/none/*.log"]}',
    'channel: {type: memory}',
    'transforms:',
    '  kv:',
    '    type: parse',
    '    format: logfmt',
    '    types: {ms: int}',
    '  quiet:',
    '    type: filter',
    '    min_level: info',
    'sinks:',
    '  all: {type: console}',
    '  errors: {type: console}',
    'routes:',
    '  rules:',
    '    - match: {level: error}',
    '      sinks: [errors]',
    '  default: [all]',
    '',
  ].join('\n'),
);

describe('sluice test', () => {
  it('runs the shipped example tests', () => {
    const r = sluice(['test', '-c', 'config/examples/transforms.yaml', 'config/examples/tests/transforms.yaml']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('6 passed, 0 failed');
  });

  it('prints each case and a diff for a failing one, and exits 1', () => {
    const tests = file(
      'cases.yaml',
      [
        'tests:',
        '  - name: passes',
        '    input: {lines: ["level=error ms=12 msg=boom", "level=debug msg=noise"]}',
        '    expect:',
        '      - {level: error, fields: {ms: 12}, route: [errors]}',
        '  - name: fails',
        '    transforms: [kv]',
        '    input: {lines: ["level=info ms=7"]}',
        '    expect:',
        '      - {level: warn, fields: {ms: "7"}, absent: [fields.level], matches: {message: "/^x/"}, }',
        '',
      ].join('\n'),
    );
    const r = sluice(['test', '-c', pipeline, tests]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')).toEqual([
      tests,
      '  ✓ passes',
      '  ✗ fails',
      '      output[0].level: expected "warn", got "info"',
      '      output[0].fields.ms: expected "7", got 7',
      '      output[0].fields.level: expected absent, got "info"',
      '      output[0].message: expected to match /^x/, got "level=info ms=7"',
      '      output[0] was {"timestamp":"2024-01-01T00:00:00.000Z","message":"level=info ms=7","service":"test","module":"test","host":"test-host","level":"info","fields":{"level":"info","ms":7}}',
      '1 passed, 1 failed',
      '',
    ]);
  });

  it('says how many events came out when the count differs', () => {
    const tests = file(
      'count.yaml',
      'tests:\n  - name: two out\n    input: {lines: ["ERROR a", "ERROR b"]}\n    expect:\n      - {level: error}\n',
    );
    const r = sluice(['test', '-c', pipeline, tests]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('      expected 1 event(s) out, got 2:\n');
    expect(r.stdout).toContain('      output[1] was {');
  });

  it('refuses a wrong test file with file:line:col, exit 2', () => {
    const tests = file(
      'bad.yaml',
      'tests:\n  - name: x\n    transforms: [nope]\n    input: {lines: [a]}\n    expect: []\n  - name: y\n    input: {}\n    expect: []\n',
    );
    const r = sluice(['test', '-c', pipeline, tests]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`${tests}:7:12: tests[1].input: give either lines or events`]);
    const unknown = file('unknown.yaml', 'tests:\n  - name: x\n    transforms: [nope]\n    input: {lines: [a]}\n    expect: []\n');
    expect(sluice(['test', '-c', pipeline, unknown]).stderr.trim()).toBe(
      `${unknown}:3:18: tests[0].transforms[0]: no transform "nope" in ${pipeline} (it has: kv, quiet)`,
    );
  });
});
