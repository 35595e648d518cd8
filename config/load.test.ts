import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Registry } from '../core/registry.js';
import { byteSize, duration } from '../core/units.js';
import { ConfigError, formatProblem } from './errors.js';
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
  .plan({ kind: 'sink', type: 'elasticsearch', description: 'Elasticsearch bulk indexing' });

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, 'p.yaml', registry, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('expected the config to be rejected');
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
      'p.yaml:3:11: sinks.out.type: unknown sink type "prnt" (did you mean "print"?); available: print',
    ]);
  });

  it('rejects a component type that is not built yet as not available, never ignoring it', () => {
    expect(problems('sinks:\n  es:\n    type: elasticsearch\n')).toEqual([
      'p.yaml:3:11: sinks.es.type: sink type "elasticsearch" (Elasticsearch bulk indexing) is not available yet in this version of Sluice; available: print',
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
