import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { hostPort } from '../core/options/address.js';
import { secret } from '../core/options/secret.js';
import { Registry } from '../core/registry.js';
import { byteSize, duration } from '../core/units.js';
import { configProblems } from '../test/support/config.js';
import { parseConfig } from './load.js';

/** These tests validate configs; nothing is ever created from them. */
const notCreated = (): never => {
  throw new Error('not created in config tests');
};

const registry = new Registry()
  .register({
    kind: 'source',
    type: 'tail',
    description: 'test source',
    options: z.strictObject({
      include: z.array(z.string()),
      read_bytes: byteSize().default(65536),
      idle: duration().default(1000),
      start: z.enum(['beginning', 'end']).default('end'),
    }),
    create: notCreated,
  })
  .register({
    kind: 'channel',
    type: 'mem',
    description: 'test channel',
    options: z.strictObject({ max_events: z.number().int().positive().default(10) }),
    create: notCreated,
  })
  .register({
    kind: 'sink',
    type: 'print',
    description: 'test sink',
    options: z.strictObject({ port: z.number().optional(), flag: z.boolean().default(false) }),
    create: notCreated,
  })
  .register({
    kind: 'sink',
    type: 'secure',
    description: 'a sink with secrets, renamed keys, addresses and patterns',
    options: z
      .strictObject({
        password: secret().optional(),
        token: secret(z.string().min(10)).optional(),
        auth: secret(z.strictObject({ user: z.string(), key: z.string() })).optional(),
        port: z.number().optional(),
        retries: duration().optional(),
        brokers: z.array(hostPort({ defaultPort: 9092 })).optional(),
        settings: z.record(z.string(), z.unknown()).optional(),
        tls: z
          .strictObject({ verify: z.boolean().default(true) })
          .meta({ renamed: { reject_unauthorized: 'tls.verify' } })
          .optional(),
        multiline: z
          .strictObject({
            start: z
              .string()
              .superRefine((v, ctx) => {
                try {
                  new RegExp(v);
                } catch (err) {
                  ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(err as Error).message}` });
                }
              })
              .optional(),
          })
          .optional(),
      })
      .superRefine((o, ctx) => {
        if (o.password === 'forbidden-value')
          ctx.addIssue({ code: 'custom', path: ['password'], message: `password ${o.password} is on the deny list` });
      })
      .meta({ renamed: { tls_verify: 'tls.verify' } }),
    create: notCreated,
  })
  .plan({ kind: 'sink', type: 'elasticsearch', description: 'Elasticsearch bulk indexing' });

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  const found = configProblems(yaml, registry, env);
  if (found.length === 0) throw new Error('expected the config to be rejected');
  return found;
}

describe('parseConfig', () => {
  it('accepts a valid pipeline and applies defaults and units', () => {
    const config = parseConfig(
      [
        'sources:',
        '  app:',
        '    type: tail',
        '    include: [/var/log/*.log]',
        '    read_bytes: 64KiB',
        '    idle: 5s',
        'channel:',
        '  type: mem',
        'sinks:',
        '  out:',
        '    type: print',
      ].join('\n'),
      'p.yaml',
      registry,
      {},
    );
    expect(config.dataDir).toBe('./var/sluice');
    expect(config.sections).toEqual({ sources: { line: 1, col: 1 }, channel: { line: 7, col: 1 }, sinks: { line: 9, col: 1 } });
    expect(config.sources).toHaveLength(1);
    expect(config.sources[0]).toMatchObject({
      name: 'app',
      type: 'tail',
      options: { include: ['/var/log/*.log'], read_bytes: 65536, idle: 5000, start: 'end' },
    });
    expect(config.channel?.options).toEqual({ max_events: 10 });
    expect(config.sinks[0]?.options).toEqual({ flag: false });
  });

  it('reports bad YAML with its line and column', () => {
    expect(problems('sources:\n  app: [1,\nsinks: 2\n')).toEqual([expect.stringMatching(/^p\.yaml:3:1: invalid YAML: /)]);
  });

  it('reports duplicate keys', () => {
    expect(problems('sinks:\n  a:\n    type: print\n  a:\n    type: print\n')).toEqual([
      expect.stringMatching(/^p\.yaml:4:3: invalid YAML: Map keys must be unique/),
    ]);
  });

  it('reports a wrong option type at the value', () => {
    expect(problems('sinks:\n  out:\n    type: print\n    port: "eighty"\n')).toEqual([
      'p.yaml:4:11: sinks.out.port: expected number, got the string "eighty"',
    ]);
  });

  it('reports an unknown key at the key, with a suggestion', () => {
    expect(problems('sinks:\n  out:\n    type: print\n    flg: true\n')).toEqual([
      'p.yaml:4:5: sinks.out.flg: unknown key "flg" (did you mean "flag"?); allowed: flag, port',
    ]);
  });

  it('reports an unknown top-level key', () => {
    expect(problems('sink:\n  out:\n    type: print\n')).toEqual([
      expect.stringMatching(/^p\.yaml:1:1: sink: unknown key "sink" \(did you mean "sinks"\?\)/),
    ]);
  });

  it('reports an unknown component type with what is available', () => {
    expect(problems('sinks:\n  out:\n    type: prnt\n')).toEqual([
      'p.yaml:3:11: sinks.out.type: unknown sink type "prnt" (did you mean "print"?); available: print, secure',
    ]);
  });

  it('rejects a component type that is not built yet as not available, never ignoring it', () => {
    expect(problems('sinks:\n  es:\n    type: elasticsearch\n')).toEqual([
      'p.yaml:3:11: sinks.es.type: sink type "elasticsearch" (Elasticsearch bulk indexing) is not available yet in this version of Sluice; available: print, secure',
    ]);
  });

  it('reports a missing required option at the component', () => {
    expect(problems('sources:\n  app:\n    type: tail\n')).toEqual([
      'p.yaml:3:5: sources.app.include: missing required option "include" (expected array)',
    ]);
  });

  it('reports a missing type', () => {
    expect(problems('channel:\n  max_events: 3\n')).toEqual([
      'p.yaml:2:3: channel: missing "type": which channel is this? (available: mem)',
    ]);
  });

  it('reports a bad unit', () => {
    expect(problems('sources:\n  app:\n    type: tail\n    include: [a]\n    idle: 5 parsecs\n')).toEqual([
      'p.yaml:5:11: sources.app.idle: expected a duration such as "500ms", "5s" or "7d", got "5 parsecs"',
    ]);
  });

  it('lists every problem of a file in one run, in file order', () => {
    const found = problems('log:\n  level: loud\nsinks:\n  out:\n    type: prnt\n  two:\n    type: print\n    port: x\nextra: 1\n');
    expect(found).toHaveLength(4);
    expect(found.map((p) => p.split(':').slice(1, 3).join(':'))).toEqual(['2:10', '5:11', '8:11', '9:1']);
  });

  it('an empty file is an error, not an empty pipeline', () => {
    expect(problems('')).toEqual([expect.stringContaining('the config is empty')]);
  });
});

describe('environment interpolation', () => {
  const yaml = 'data_dir: ${DATA_DIR:-/tmp/default}\nsinks:\n  out:\n    type: print\n    port: ${PORT}\n    flag: ${FLAG:-false}\n';

  it('substitutes variables and defaults, retyping unquoted numbers and booleans', () => {
    const config = parseConfig(yaml, 'p.yaml', registry, { PORT: '9200', FLAG: 'true' });
    expect(config.dataDir).toBe('/tmp/default');
    expect(config.sinks[0]?.options).toEqual({ port: 9200, flag: true });
  });

  it('keeps quoted values strings, and $${ is a literal', () => {
    const config = parseConfig('data_dir: "${N}"\nsources:\n  a:\n    type: tail\n    include: ["$${HOME}/x"]\n', 'p.yaml', registry, {
      N: '42',
    });
    expect(config.dataDir).toBe('42');
    expect(config.sources[0]?.options).toMatchObject({ include: ['${HOME}/x'] });
  });

  it('an env value cannot inject YAML structure', () => {
    const config = parseConfig('data_dir: ${EVIL}\n', 'p.yaml', registry, { EVIL: 'x\nsinks: {a: {type: print}}' });
    expect(config.dataDir).toBe('x\nsinks: {a: {type: print}}');
    expect(config.sinks).toEqual([]);
  });

  it('reports a variable that is missing without a default, where it is used', () => {
    expect(problems(yaml, {})).toContain(
      'p.yaml:5:11: environment variable PORT is not set and "${PORT}" has no default (write ${PORT:-default})',
    );
  });

  it('reports a malformed reference', () => {
    expect(problems('data_dir: ${1BAD}\n')).toEqual([
      expect.stringMatching(/^p\.yaml:1:11: invalid environment variable reference "\$\{1BAD\}"/),
    ]);
  });
});

describe('one pass finds everything', () => {
  it('reports unknown sinks in routes together with envelope and route problems', () => {
    const found = problems(
      [
        'log:',
        '  level: loud',
        'sinks:',
        '  archive:',
        '    type: print',
        'routes:',
        '  rules:',
        '    - match: { bogus: x }',
        '      sinks: [archiv]',
        '  default: [serch]',
      ].join('\n'),
    );
    expect(found).toEqual([
      expect.stringMatching(/^p\.yaml:2:10: log\.level: /),
      expect.stringMatching(/^p\.yaml:8:23: routes\.rules\[0\]\.match\.bogus: .*"bogus"/),
      'p.yaml:9:15: routes.rules[0].sinks[0]: unknown sink "archiv" (did you mean "archive"?); sinks defined in this file: archive',
      'p.yaml:10:13: routes.default[0]: unknown sink "serch"; sinks defined in this file: archive',
    ]);
  });

  it('places a custom issue of a nested refine (a pattern that does not compile) at its value', () => {
    expect(problems("sinks:\n  s:\n    type: secure\n    multiline:\n      start: '^(\\d{4}'\n")).toEqual([
      expect.stringMatching(/^p\.yaml:5:14: sinks\.s\.multiline\.start: not a valid regular expression: .*Unterminated group/),
    ]);
  });

  it('checks addresses at load, with the fix', () => {
    expect(problems('sinks:\n  s:\n    type: secure\n    brokers: [localhost, "k:9092"]\n')).toEqual([
      'p.yaml:4:15: sinks.s.brokers[0]: expected host:port such as "kafka-1:9092", got "localhost": no port (did you mean "localhost:9092"?)',
    ]);
  });
});

describe('renamed options', () => {
  it('says what an old spelling became, at the object that declares it, nested ones too', () => {
    expect(problems('sinks:\n  s:\n    type: secure\n    tls_verify: false\n    tls: { reject_unauthorized: false }\n')).toEqual([
      'p.yaml:4:5: sinks.s.tls_verify: tls_verify was renamed: use tls.verify',
      'p.yaml:5:12: sinks.s.tls.reject_unauthorized: reject_unauthorized was renamed: use tls.verify',
    ]);
  });
});

describe('secret options', () => {
  it('a ${VAR} of digits in a string option stays a string', () => {
    const config = parseConfig('sinks:\n  s:\n    type: secure\n    password: ${PW}\n', 'p.yaml', registry, { PW: '12345' });
    expect(config.sinks[0]?.options).toEqual({ password: '12345' });
  });

  it('never shows the value of a secret in an error, nor under a secret block', () => {
    const found = problems(
      [
        'sinks:',
        '  s:',
        '    type: secure',
        '    password: 123456789',
        '    token: ${TOKEN}',
        '    auth: { user: 424242424, key: k }',
      ].join('\n'),
      { TOKEN: 'short' },
    );
    expect(found).toEqual([
      'p.yaml:4:15: sinks.s.password: expected string, got a value (hidden: secret option)',
      'p.yaml:5:12: sinks.s.token: Too small: expected string to have >=10 characters',
      'p.yaml:6:19: sinks.s.auth.user: expected string, got a value (hidden: secret option)',
    ]);
    expect(found.join('\n')).not.toMatch(/123456789|short|424242424/);
  });

  it('scrubs a secret out of any message that quotes it', () => {
    expect(problems('sinks:\n  s:\n    type: secure\n    password: forbidden-value\n')).toEqual([
      'p.yaml:4:15: sinks.s.password: password *** is on the deny list',
    ]);
  });
});

describe('substituted values take the type of their option', () => {
  it('numbers where the option takes a number, text where it takes text, YAML types where it takes anything', () => {
    const config = parseConfig(
      'sinks:\n  s:\n    type: secure\n    port: ${N}\n    password: ${N}\n    settings:\n      shards: ${N}\n      flag: ${B}\n',
      'p.yaml',
      registry,
      { N: '42', B: 'true' },
    );
    expect(config.sinks[0]?.options).toEqual({ port: 42, password: '42', settings: { shards: 42, flag: true } });
  });

  it('a bare number from the environment is no duration either', () => {
    expect(problems('sinks:\n  s:\n    type: secure\n    retries: ${R}\n', { R: '10' })).toEqual([
      'p.yaml:4:14: sinks.s.retries: expected a duration such as "500ms", "5s" or "7d", got "10" (a duration needs a unit: did you mean "10s" or "10ms"?)',
    ]);
  });
});

describe('without the environment (--no-env)', () => {
  const yaml =
    'data_dir: ${DIR:-/d}\nsinks:\n  s:\n    type: secure\n    port: ${PORT}\n    password: ${PW}\n    brokers: ["${BROKERS}"]\n';

  it('takes defaults, leaves the rest unchecked and says which, and reads no variable', () => {
    const config = parseConfig(yaml, 'p.yaml', registry, { DIR: '/from-env', PORT: 'x' }, { noEnv: true });
    expect(config.dataDir).toBe('/d');
    expect(config.sinks.map((s) => s.name)).toEqual(['s']);
    expect(config.deferred).toEqual(['sinks.s.port (${PORT})', 'sinks.s.password (${PW})', 'sinks.s.brokers[0] (${BROKERS})']);
  });

  it('still reports everything else', () => {
    expect(() => parseConfig(`${yaml}    bogus: 1\n`, 'p.yaml', registry, {}, { noEnv: true })).toThrow(/bogus: unknown key "bogus"/);
  });
});

describe('data_dir default', () => {
  it('is $SLUICE_DATA_DIR when the file has no data_dir, else ./var/sluice', () => {
    expect(parseConfig('sinks: {}\n', 'p.yaml', registry, { SLUICE_DATA_DIR: '/var/lib/x' }).dataDir).toBe('/var/lib/x');
    expect(parseConfig('sinks: {}\n', 'p.yaml', registry, {}).dataDir).toBe('./var/sluice');
    expect(parseConfig('data_dir: /mine\n', 'p.yaml', registry, { SLUICE_DATA_DIR: '/var/lib/x' }).dataDir).toBe('/mine');
  });
});
