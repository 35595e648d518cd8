import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sluice, writeFile } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const file = (name: string, text: string) => writeFile(dir, name, text);

describe('sluice CLI', () => {
  it('prints its version and help', () => {
    expect(sluice(['--version'])).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const help = sluice(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['agent', 'collector', 'run', 'validate']) expect(help.stdout).toContain(cmd);
    expect(sluice(['validate', '--help']).stdout).toContain('--config <file>');
  });

  // Each example is valid for the command it is written for; config/sluice.yaml is what `npm start` runs.
  const examples = join(import.meta.dirname, '../../config/examples');
  const roles: Record<string, string> = {
    'agent.yaml': 'agent',
    'collector.yaml': 'collector',
    'collector-hdfs.yaml': 'collector',
    'all-in-one.yaml': 'run',
    'transforms.yaml': 'run',
  };
  it('has a role for every example', () => {
    expect(
      readdirSync(examples)
        .filter((f) => f.endsWith('.yaml'))
        .sort(),
    ).toEqual(Object.keys(roles).sort());
  });
  it.each([
    ...Object.entries(roles).map(([f, role]) => [join(examples, f), role]),
    [join(import.meta.dirname, '../../config/sluice.yaml'), 'run'],
    [join(import.meta.dirname, '../../config/sluice-search.yaml'), 'run'],
  ])('validates %s as %s', (path, role) => {
    const r = sluice(['validate', '--as', role!, '-c', path!]);
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining(': valid (') });
  });

  it('lists every problem of a broken file with line:column and exits 2, without a stack trace', () => {
    const path = file(
      'broken.yaml',
      [
        'log:',
        '  level: loud',
        'sinks:',
        '  out:',
        '    type: consol',
        '  err:',
        '    type: console',
        '    stream: ${STREAM}',
        '    colour: red',
        'sorces: {}',
        '',
      ].join('\n'),
    );
    const r = sluice(['validate', '-c', path]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      `${path}:2:10: log.level: expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent", got the string "loud"`,
      expect.stringMatching(
        new RegExp(
          `^${escapeRegExp(path)}:5:11: sinks\\.out\\.type: unknown sink type "consol" \\(did you mean "console"\\?\\); available: .*\\bconsole\\b`,
        ),
      ),
      `${path}:8:13: environment variable STREAM is not set and "\${STREAM}" has no default (write \${STREAM:-default})`,
      `${path}:8:13: sinks.err.stream: expected one of "stdout", "stderr", got the string "\${STREAM}"`,
      `${path}:9:5: sinks.err.colour: unknown key "colour"; allowed: encoding, stream`,
      expect.stringMatching(
        new RegExp(`^${escapeRegExp(path)}:10:1: sorces: unknown key "sorces" \\(did you mean "sources"\\?\\); allowed: .*\\bsources\\b`),
      ),
      `6 problems in ${path}`,
    ]);
  });

  it('the same file is valid once the variable is set', () => {
    const path = file('env.yaml', 'sinks:\n  err:\n    type: console\n    stream: ${STREAM:-stdout}\n');
    expect(sluice(['validate', '-c', path], { STREAM: 'stderr' })).toMatchObject({ code: 0 });
  });

  it('rejects not-YAML, a missing file and a directory with exit 2', () => {
    const notYaml = file('not.yaml', 'sinks: [\n  {type: console\n');
    expect(sluice(['validate', '-c', notYaml])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/not\.yaml:\d+:\d+: invalid YAML: /),
    });
    expect(sluice(['validate', '-c', join(dir, 'missing.yaml')])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('missing.yaml: cannot read config file: no such file'),
    });
    expect(sluice(['validate', '-c', dir])).toMatchObject({ code: 2, stderr: expect.stringContaining('is a directory') });
  });

  it('says what a command needs from the pipeline', () => {
    const path = file('sinks-only.yaml', 'sinks:\n  out:\n    type: console\n');
    const r = sluice(['run', '-c', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('sources: `sluice run` needs at least one source');
    expect(r.stderr).toContain('channel: `sluice run` needs a channel');
    expect(sluice(['validate', '--as', 'agent', '-c', path]).stderr).toContain('`sluice agent` needs a network bus (type: kafka)');
  });

  it('rejects unknown commands and missing options with exit 2', () => {
    expect(sluice(['frobnicate']).code).toBe(2);
    expect(sluice(['validate'])).toMatchObject({ code: 2, stderr: expect.stringContaining("required option '-c, --config <file>'") });
  });
});
