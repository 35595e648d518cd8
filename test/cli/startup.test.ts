import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TempDir, tempDir } from '../support/index.js';
import { demoPipeline, sluice, start, stopAll, waitForLog, writeFile } from './harness.js';

/**
 * Issue 12: every startup problem is one line and a non-zero exit before "sluice started";
 * secret values never appear in errors or logs; `${VAR}` in a string option stays a string.
 */
let tmp: TempDir;
beforeAll(async () => {
  tmp = await tempDir('cli-startup');
});
afterEach(stopAll);
afterAll(() => tmp.cleanup());

/** The only line on stderr, parsed: a fatal log line naming the problem. */
function oneFatalLine(stderr: string): Record<string, unknown> {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toContain('sluice started');
  expect(stderr).not.toMatch(/\n\s+at /);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('a startup problem is one line and exit 1, before "sluice started"', () => {
  it('a missing Elasticsearch TLS file', () => {
    const path = writeFile(
      tmp.dir,
      'es-tls.yaml',
      demoPipeline(
        tmp.dir,
        ['  search:', '    type: elasticsearch', '    url: https://127.0.0.1:1', `    tls: { ca_file: ${tmp.dir}/missing-ca.pem }`].join(
          '\n',
        ),
      ),
    );
    const r = sluice(['run', '-c', path]);
    expect(r.code).toBe(1);
    expect(oneFatalLine(r.stderr)).toMatchObject({
      level: 60,
      msg: 'sluice could not start',
      err: `sinks.search: tls.ca_file ${tmp.dir}/missing-ca.pem: no such file`,
    });
  });

  it('a missing Kafka TLS file in the collector, whose consumer connects in the background', () => {
    const path = writeFile(
      tmp.dir,
      'kafka-tls.yaml',
      [
        `data_dir: ${tmp.dir}/kafka-state`,
        'bus:',
        '  type: kafka',
        '  brokers: ["127.0.0.1:1"]',
        `  tls: { ca_file: ${tmp.dir}/missing-kafka-ca.pem }`,
        'sinks:',
        `  archive: { type: file, root: ${tmp.dir}/kafka-out }`,
        '',
      ].join('\n'),
    );
    const r = sluice(['collector', '-c', path]);
    expect(r.code).toBe(1);
    const line = oneFatalLine(r.stderr);
    expect(line).toMatchObject({ level: 60, msg: 'sluice could not start' });
    expect(line.err).toContain(`${tmp.dir}/missing-kafka-ca.pem: no such file`);
  });

  it('a state directory that cannot be made', () => {
    const blocker = writeFile(tmp.dir, 'not-a-dir', 'a file where a directory should be\n');
    const path = writeFile(
      tmp.dir,
      'bad-data-dir.yaml',
      demoPipeline(tmp.dir, `  out: { type: file, root: ${tmp.dir}/out }`).replace(
        `data_dir: ${tmp.dir}/state`,
        `data_dir: ${blocker}/state`,
      ),
    );
    const r = sluice(['run', '-c', path]);
    expect(r.code).toBe(1);
    expect(oneFatalLine(r.stderr)).toMatchObject({ msg: 'sluice could not start', err: expect.stringContaining('ENOTDIR') });
  });
});

describe('secret values', () => {
  it('a ${VAR} of digits in a password stays a string', () => {
    const path = writeFile(
      tmp.dir,
      'numeric-password.yaml',
      'sinks:\n  search:\n    type: elasticsearch\n    username: elastic\n    password: ${ES_PASSWORD}\n',
    );
    expect(sluice(['validate', '-c', path], { ES_PASSWORD: '1234567890' })).toMatchObject({ code: 0, stderr: '' });
  });

  it('never appear in a config error', () => {
    const path = writeFile(
      tmp.dir,
      'bad-secrets.yaml',
      [
        'sinks:',
        '  search:',
        '    type: elasticsearch',
        '    url: htp://elastic:hunter2hunter2@es-1:9200',
        '    api_key: 987654321987',
        '    username: elastic',
        '    password: ${ES_PASSWORD}',
        '',
      ].join('\n'),
    );
    const r = sluice(['validate', '-c', path], { ES_PASSWORD: 'correct-horse-battery' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${path}:5:14: sinks.search.api_key: expected string, got a value (hidden: secret option)`);
    expect(r.stderr).toContain(
      `${path}:4:10: sinks.search.url: expected an http:// or https:// URL such as "http://127.0.0.1:9200", got "htp://es-1:9200"`,
    );
    expect(r.stderr).not.toMatch(/hunter2hunter2|987654321987|correct-horse-battery/);
  });

  it('never appear in the logs of a running pipeline', async () => {
    const path = writeFile(
      tmp.dir,
      'es-down.yaml',
      demoPipeline(
        tmp.dir,
        ['  search:', '    type: elasticsearch', '    url: http://elastic:hunter2hunter2@127.0.0.1:1', '    api_key: ${ES_API_KEY}'].join(
          '\n',
        ),
      ).replace(`${tmp.dir}/state`, `${tmp.dir}/es-down-state`),
    );
    const run = start(['run', '-c', path], { ES_API_KEY: 'c2VjcmV0LWFwaS1rZXk=' });
    await waitForLog(run, 'sluice started');
    await waitForLog(run, 'Elasticsearch is not reachable yet; the index template will be installed before the first write');
    expect(await run.stop()).toBe(0);
    expect(run.stderr()).toContain('127.0.0.1:1');
    expect(run.stderr()).not.toMatch(/hunter2hunter2|c2VjcmV0LWFwaS1rZXk=/);
  }, 180_000);
});
