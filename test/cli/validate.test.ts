import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TempDir, tempDir } from '../support/index.js';
import { REPO, sluice, start, stopAll, waitForLog, writeFile } from './harness.js';

/** Issue 17, "Validation that finds everything in one pass", and issue 11's old spellings. */
let tmp: TempDir;
beforeAll(async () => {
  tmp = await tempDir('cli-validate');
});
afterEach(stopAll);
afterAll(() => tmp.cleanup());

const lines = (text: string) => text.trim().split('\n');

describe('sluice validate finds everything in one pass', () => {
  it('reports unknown sinks in routes with every other problem, each at its line and column', () => {
    const path = writeFile(
      tmp.dir,
      'routes.yaml',
      [
        'log: { level: loud }',
        'sinks:',
        '  archive:',
        '    type: file',
        '    roll_age: 3600',
        '  search:',
        '    type: elasticsearch',
        '    url: localhost:9200',
        'routes:',
        '  rules:',
        '    - match: { message: "/timeout (\\\\d+/" }',
        '      sinks: [archiv]',
        '  default: [serch]',
        '',
      ].join('\n'),
    );
    const r = sluice(['validate', '-c', path]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(new RegExp(`^${path}:1:15: log\\.level: expected one of`)),
      `${path}:5:15: sinks.archive.roll_age: expected a duration such as "500ms", "5s" or "7d", got 3600 (a duration needs a unit: did you mean "3600s" or "3600ms"?)`,
      `${path}:8:10: sinks.search.url: expected an http:// or https:// URL such as "http://127.0.0.1:9200", got "localhost:9200" (no scheme: did you mean "http://localhost:9200"?)`,
      expect.stringMatching(
        new RegExp(`^${path}:11:25: routes\\.rules\\[0\\]\\.match\\.message: invalid regular expression /timeout \\(\\\\d\\+/`),
      ),
      `${path}:12:15: routes.rules[0].sinks[0]: unknown sink "archiv" (did you mean "archive"?); sinks defined in this file: archive, search`,
      `${path}:13:13: routes.default[0]: unknown sink "serch" (did you mean "search"?); sinks defined in this file: archive, search`,
      `6 problems in ${path}`,
    ]);
  });

  it('says "did you mean" with a unit for every bare size and duration', () => {
    const path = writeFile(
      tmp.dir,
      'units.yaml',
      [
        'sinks:',
        '  archive:',
        '    type: file',
        '    roll_size: 128',
        '    idle_timeout: 300',
        'shutdown:',
        '  drain_timeout: 10',
        '',
      ].join('\n'),
    );
    const r = sluice(['validate', '-c', path]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr).slice(0, -1)).toEqual([
      `${path}:4:16: sinks.archive.roll_size: expected a size such as "512KiB" or "64MiB", got 128 (a size needs a unit: did you mean "128B" or "128MiB"?)`,
      `${path}:5:19: sinks.archive.idle_timeout: expected a duration such as "500ms", "5s" or "7d", got 300 (a duration needs a unit: did you mean "300s" or "300ms"?)`,
      `${path}:7:18: shutdown.drain_timeout: expected a duration such as "500ms", "5s" or "7d", got 10 (a duration needs a unit: did you mean "10s" or "10ms"?)`,
    ]);
  });

  it('names the new spelling of a renamed option (Elasticsearch tls and batch blocks)', () => {
    const path = writeFile(
      tmp.dir,
      'renamed.yaml',
      [
        'sinks:',
        '  search:',
        '    type: elasticsearch',
        '    url: https://es-1:9200',
        '    tls_verify: false',
        '    ca_file: /etc/ca.pem',
        '    batch: { linger: 5ms }',
        '',
      ].join('\n'),
    );
    expect(lines(sluice(['validate', '-c', path]).stderr)).toEqual([
      `${path}:5:5: sinks.search.tls_verify: tls_verify was renamed: use tls.verify (tls: {verify: false})`,
      `${path}:6:5: sinks.search.ca_file: ca_file was renamed: use tls.ca_file (tls: {ca_file: ...})`,
      `${path}:7:14: sinks.search.batch.linger: linger was renamed: use batch.timeout`,
      `3 problems in ${path}`,
    ]);
    const fixed = writeFile(
      tmp.dir,
      'renamed-fixed.yaml',
      'sinks:\n  search:\n    type: elasticsearch\n    url: https://es-1:9200\n    tls: { verify: false, ca_file: /etc/ca.pem }\n    batch: { timeout: 5ms }\n',
    );
    expect(sluice(['validate', '-c', fixed])).toMatchObject({ code: 0, stderr: '' });
  });

  it('`sluice search --since 15` exits non-zero and asks "did you mean 15m"', () => {
    const r = sluice(['search', '--url', 'http://127.0.0.1:1', '--since', '15']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'sluice search: --since: expected a time such as "15m" (ago), "2024-05-01T12:00:00Z" or "now", got "15" (a duration needs a unit: did you mean "15m"?)\n',
    );
    expect(sluice(['search', '--url', 'http://127.0.0.1:1', '--follow', '--interval', '5']).stderr).toContain('did you mean "5s"?');
  });
});

describe('broker addresses', () => {
  it('are checked at load: a missing port, a scheme or a bad port is an error at its line and column', () => {
    const path = writeFile(
      tmp.dir,
      'brokers.yaml',
      [
        'sources:',
        '  app: { type: file, include: [/var/log/app/*.log] }',
        'bus:',
        '  type: kafka',
        '  brokers: [localhost, "kafka://k1:9092", "k2:99999", "k3:9092"]',
        '',
      ].join('\n'),
    );
    const r = sluice(['validate', '--as', 'agent', '-c', path]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([
      `${path}:5:13: bus.brokers[0]: expected host:port such as "kafka-1:9092", got "localhost": no port (did you mean "localhost:9092"?)`,
      `${path}:5:24: bus.brokers[1]: expected host:port such as "kafka-1:9092", got "kafka://k1:9092": no scheme (kafka://, http://): just host:port (did you mean "k1:9092"?)`,
      `${path}:5:43: bus.brokers[2]: expected host:port such as "kafka-1:9092", got "k2:99999": port "99999" is not a number from 1 to 65535`,
      `3 problems in ${path}`,
    ]);
  });

  it('in one comma-separated string (brokers: localhost) are checked the same way', () => {
    const path = writeFile(
      tmp.dir,
      'broker-string.yaml',
      ['sources:', '  app: { type: file, include: [/var/log/app/*.log] }', 'bus: { type: kafka, brokers: localhost }', ''].join('\n'),
    );
    const r = sluice(['validate', '--as', 'agent', '-c', path]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([
      `${path}:3:30: bus.brokers: expected host:port such as "kafka-1:9092", got "localhost": no port (did you mean "localhost:9092"?)`,
      `1 problem in ${path}`,
    ]);
  });
});

describe('sections a command does not use', () => {
  const agentFile = () =>
    writeFile(
      tmp.dir,
      'agent-with-sinks.yaml',
      [
        'sources:',
        '  app: { type: file, include: [/var/log/app/*.log] }',
        'channel: { type: disk }',
        'bus: { type: kafka, brokers: ["127.0.0.1:1"] }',
        'sinks:',
        '  archive: { type: file }',
        'routes:',
        '  default: [archive]',
        '',
      ].join('\n'),
    );

  it('validate --as warns (exit 0) and --strict makes them errors (exit 2)', () => {
    const path = agentFile();
    const r = sluice(['validate', '--as', 'agent', '-c', path]);
    expect(r.code).toBe(0);
    expect(lines(r.stderr)).toEqual([
      `${path}:5:1: warning: sinks: \`sluice agent\` does not use this section (sinks are written by \`sluice collector\`): it is ignored here`,
      `${path}:7:1: warning: routes: \`sluice agent\` does not use this section (routes choose sinks in \`sluice collector\`): it is ignored here`,
    ]);
    expect(r.stdout).toBe(`${path}: valid (1 source(s), channel disk, bus kafka, 1 sink(s)); 2 warnings\n`);
    const strict = sluice(['validate', '--as', 'agent', '--strict', '-c', path]);
    expect(strict.code).toBe(2);
    expect(lines(strict.stderr)).toEqual([
      expect.stringMatching(/:5:1: sinks: `sluice agent` does not use this section/),
      expect.stringMatching(/:7:1: routes: `sluice agent` does not use this section/),
      `2 problems in ${path}`,
    ]);
  });

  it('the commands that run a pipeline log the warning, and refuse to start with --strict', async () => {
    const path = writeFile(
      tmp.dir,
      'collector-with-sources.yaml',
      [
        `data_dir: ${tmp.dir}/collector-state`,
        'sources:',
        '  app: { type: file, include: [/var/log/app/*.log] }',
        'bus: { type: kafka, brokers: ["127.0.0.1:1"] }',
        'sinks:',
        `  archive: { type: file, root: ${tmp.dir}/collector-out }`,
        '',
      ].join('\n'),
    );
    const strict = sluice(['collector', '--strict', '-c', path]);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain(':2:1: sources: `sluice collector` does not use this section');
    const run = start(['collector', '-c', path]);
    const warning = await waitForLog(run, 'config warning');
    expect(warning).toMatchObject({
      level: 40,
      warning: expect.stringContaining(':2:1: warning: sources: `sluice collector` does not use'),
    });
    await waitForLog(run, 'sluice started');
    expect(await run.stop('SIGTERM')).toBe(0);
  });

  it('a reload checks the file as the start did: --strict refuses what it refused at start', async () => {
    const lines = (withSources: boolean) =>
      [
        `data_dir: ${tmp.dir}/strict-reload-state`,
        ...(withSources ? ['sources:', '  app: { type: file, include: [/var/log/app/*.log] }'] : []),
        'bus: { type: kafka, brokers: ["127.0.0.1:1"] }',
        'sinks:',
        `  archive: { type: file, root: ${tmp.dir}/strict-reload-out }`,
        'api: { enabled: false }',
        '',
      ].join('\n');
    const path = writeFile(tmp.dir, 'strict-reload.yaml', lines(false));
    const run = start(['collector', '--strict', '-c', path]);
    await waitForLog(run, 'sluice started');
    writeFile(tmp.dir, 'strict-reload.yaml', lines(true));
    run.child.kill('SIGHUP');
    const refused = await waitForLog(run, 'config reload refused; the running pipeline is unchanged');
    expect(JSON.stringify(refused)).toContain('sources: `sluice collector` does not use this section');
    expect(await run.stop('SIGTERM')).toBe(0);
  });

  it('`sluice run` with a kafka bus is an error, not ignored', () => {
    const path = writeFile(
      tmp.dir,
      'run-with-bus.yaml',
      'sources:\n  app: { type: file, include: [a.log] }\nchannel: { type: disk }\nbus: { type: kafka }\nsinks:\n  out: { type: console }\n',
    );
    const r = sluice(['validate', '--as', 'run', '-c', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${path}:4:1: bus.type: \`sluice run\` joins agent and collector in one process with the embedded bus`);
  });
});

describe('conditions on fields nothing sets', () => {
  const file = () =>
    writeFile(
      tmp.dir,
      'unset-fields.yaml',
      [
        'sources:',
        '  pods: { type: docker, fields: { cluster: eu1 } }',
        'channel: { type: disk }',
        'transforms:',
        '  tidy: { type: fields, add: { env: prod } }',
        '  quiet: { type: filter, when: { fields.tier: gold }, min_level: warn }',
        'sinks:',
        '  es: { type: console }',
        '  other: { type: console }',
        'routes:',
        '  rules:',
        '    - match: { fields.container.name: web, fields.kubernetes.namespace: prod, fields.env: prod, fields.team: search }',
        '      sinks: [es]',
        '  default: [other]',
        '',
      ].join('\n'),
    );

  it("validate prints them as warnings (exit 0), the docker source's container fields being set, and --strict makes them errors", () => {
    const path = file();
    const r = sluice(['validate', '-c', path]);
    expect(r.code).toBe(0);
    expect(lines(r.stderr)).toEqual([
      `${path}:6:34: warning: transforms.quiet.when."fields.tier": nothing in this file sets fields.tier (no source or transform here names it), so this condition never holds`,
      `${path}:12:97: warning: routes.rules[0].match."fields.team": nothing in this file sets fields.team (no source or transform here names it), so this condition never holds`,
    ]);
    expect(r.stdout).toBe(`${path}: valid (1 source(s), 2 transform(s), channel disk, 2 sink(s)); 2 warnings\n`);
    const strict = sluice(['validate', '--as', 'run', '--strict', '-c', path]);
    expect(strict.code).toBe(2);
    expect(lines(strict.stderr)).toEqual([
      `${path}:6:34: transforms.quiet.when."fields.tier": nothing in this file sets fields.tier (no source or transform here names it), so this condition never holds`,
      `${path}:12:97: routes.rules[0].match."fields.team": nothing in this file sets fields.team (no source or transform here names it), so this condition never holds`,
      `2 problems in ${path}`,
    ]);
  });

  it("--strict lists them with the role's own problems, in file order", () => {
    const path = file();
    const r = sluice(['validate', '--as', 'agent', '--strict', '-c', path]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([
      expect.stringMatching(/:1:1: bus: `sluice agent` needs a network bus/),
      expect.stringMatching(/:6:34: transforms\.quiet\.when\."fields\.tier": nothing in this file sets fields\.tier/),
      expect.stringMatching(/:7:1: sinks: `sluice agent` does not use this section/),
      expect.stringMatching(/:10:1: routes: `sluice agent` does not use this section/),
      `4 problems in ${path}`,
    ]);
  });
});

describe('sluice validate --no-env', () => {
  const collector = join(REPO, 'docker/config/collector.yaml');

  it('checks a config that needs variables without setting them, and says which values were left for run time', () => {
    const without = sluice(['validate', '--as', 'collector', '-c', collector]);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('environment variable ELASTICSEARCH_PASSWORD is not set');
    const r = sluice(['validate', '--no-env', '--as', 'collector', '-c', collector]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(
      `${collector}: valid (bus kafka, 2 sink(s), dead_letter file); not checked, set at run time: sinks.search.password (\${ELASTICSEARCH_PASSWORD})\n`,
    );
  });

  it('reads no variable: defaults are checked, whatever the environment holds', () => {
    const path = writeFile(tmp.dir, 'no-env.yaml', 'sinks:\n  out:\n    type: console\n    stream: ${STREAM:-stdout}\n');
    expect(sluice(['validate', '-c', path], { STREAM: 'nowhere' }).code).toBe(2);
    expect(sluice(['validate', '--no-env', '-c', path], { STREAM: 'nowhere' })).toMatchObject({ code: 0 });
    const bad = writeFile(tmp.dir, 'no-env-bad.yaml', 'sinks:\n  out:\n    type: console\n    stream: ${STREAM:-sideways}\n');
    expect(sluice(['validate', '--no-env', '-c', bad]).stderr).toContain('sinks.out.stream: expected one of "stdout", "stderr"');
  });
});
