import { describe, expect, it } from 'vitest';
import { createRegistry } from '../bin/components.js';
import { ConfigError, formatProblem } from './errors.js';
import { parseConfig } from './load.js';

const registry = createRegistry();

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'p.yaml', registry, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

const sinks = ['sinks:', '  es:', '    type: console', '  archive:', '    type: console'];

describe('routes and dead_letter sections', () => {
  it('accepts routes naming defined sinks and applies defaults', () => {
    const config = parseConfig(
      [
        ...sinks,
        'routes:',
        '  rules:',
        '    - match: { level: [error, fatal], fields.team: "pay*" }',
        '      sinks: [es]',
        '      continue: true',
        '  default: [archive]',
      ].join('\n'),
      'p.yaml',
      registry,
      {},
    );
    expect(config.routes).toEqual({
      rules: [{ match: { level: ['error', 'fatal'], 'fields.team': 'pay*' }, sinks: ['es'], continue: true }],
      default: ['archive'],
      max_match_bytes: 65536,
    });
    // Without a dead_letter section: a file, the collector's and the agent's, at their default paths.
    expect([config.deadLetter, config.agentDeadLetter].map((c) => [c?.kind, c?.name, c?.type, c?.options])).toEqual([
      ['dead_letter', 'dead-letter', 'file', {}],
      ['dead_letter', 'agent', 'file', {}],
    ]);
    expect(config.shutdown).toEqual({ drain_timeout: 10_000 });
  });

  it('reports unknown sinks in routes with line:col and a suggestion', () => {
    expect(problems([...sinks, 'routes:', '  rules:', '    - sinks: [es, archiv]', '  default: [nope]'].join('\n'))).toEqual([
      'p.yaml:8:19: routes.rules[0].sinks[1]: unknown sink "archiv" (did you mean "archive"?); sinks defined in this file: es, archive',
      'p.yaml:9:13: routes.default[0]: unknown sink "nope"; sinks defined in this file: es, archive',
    ]);
  });

  it('rejects bad match keys, bad regular expressions and unknown rule keys', () => {
    expect(
      problems(
        [...sinks, 'routes:', '  rules:', '    - match: { severity: error, message: "/(/" }', '      sinks: [es]', '      stop: true'].join(
          '\n',
        ),
      ),
    ).toEqual([
      'p.yaml:8:26: routes.rules[0].match.severity: unknown field "severity": use service, module, host, level, message, source.kind, source.path, source.container, source.stream or fields.NAME (fields.a.b reads nested objects and dotted keys alike)',
      'p.yaml:8:42: routes.rules[0].match.message: invalid regular expression /(/ (RE2 syntax, which runs in linear time: no backreferences or lookarounds): error parsing regexp: missing closing ): `(`',
      'p.yaml:10:7: routes.rules[0].stop: unknown key "stop"; allowed: continue, match, name, sinks',
    ]);
  });

  it('rejects patterns that need backtracking, bad field paths and a unit-less max_match_bytes, with line:col', () => {
    expect(
      problems(
        [
          ...sinks,
          'routes:',
          '  max_match_bytes: 4096',
          '  rules:',
          '    - match:',
          '        message: ["/(a)\\\\1/", "!/(?=x)y/"]',
          '        fields.a..b: x',
          '      sinks: [es]',
        ].join('\n'),
      ),
    ).toEqual([
      expect.stringMatching(/^p\.yaml:7:20: routes\.max_match_bytes: /),
      'p.yaml:10:19: routes.rules[0].match.message[0]: invalid regular expression /(a)\\1/ (RE2 syntax, which runs in linear time: no backreferences or lookarounds): error parsing regexp: invalid escape sequence: `\\1`',
      'p.yaml:10:31: routes.rules[0].match.message[1]: invalid regular expression /(?=x)y/ (RE2 syntax, which runs in linear time: no backreferences or lookarounds): error parsing regexp: invalid or unsupported Perl syntax: `(?=`',
      'p.yaml:11:22: routes.rules[0].match."fields.a..b": field "fields.a..b" has an empty name between dots',
    ]);
    const config = parseConfig([...sinks, 'routes:', '  max_match_bytes: 8KiB'].join('\n'), 'p.yaml', registry, {});
    expect(config.routes?.max_match_bytes).toBe(8192);
  });

  it('needs a kafka bus for a kafka dead-letter', () => {
    expect(problems([...sinks, 'dead_letter:', '  type: kafka'].join('\n'))).toEqual([
      'p.yaml:7:9: dead_letter.type: a kafka dead-letter uses the brokers of the kafka bus: this file needs "bus: {type: kafka, ...}" (or use type: file)',
    ]);
  });

  it('refuses a kafka dead-letter on a topic the bus reads, fixed or by its template', () => {
    const kafka = (topic: string, deadLetter: string[]) =>
      problems(
        [...sinks, `bus: { type: kafka, brokers: k:9092, topic: "${topic}" }`, 'dead_letter:', '  type: kafka', ...deadLetter].join('\n'),
      );
    expect(kafka('sluice-{service}', [])).toEqual([
      expect.stringMatching(
        /^p\.yaml:\d+:\d+: dead_letter(\.topic)?: the dead-letter topic "sluice-dead-letter" is one the collector reads \(bus\.topic "sluice-\{service\}"\): its entries would be read back and dead-lettered again for ever; choose a topic the bus topic does not match$/,
      ),
    ]);
    expect(kafka('logs', ['  topic: logs'])).toEqual([
      expect.stringContaining('the dead-letter topic "logs" is one the collector reads (bus.topic "logs")'),
    ]);
    const accepted = (topic: string, deadLetter: string[]) =>
      parseConfig(
        [...sinks, `bus: { type: kafka, brokers: k:9092, topic: "${topic}" }`, 'dead_letter:', '  type: kafka', ...deadLetter].join('\n'),
        'p.yaml',
        registry,
        {},
      );
    expect(accepted('logs.{service}', []).deadLetter?.options).toMatchObject({ topic: 'sluice-dead-letter' });
    expect(accepted('sluice-{service}', ['  topic: dead-letter']).deadLetter?.options).toMatchObject({ topic: 'dead-letter' });
  });

  it("takes a dead_letter of type file (the default) or kafka, and the agent's file at agent_path whatever the type", () => {
    const parse = (yaml: string[]) => parseConfig([...sinks, ...yaml].join('\n'), 'p.yaml', registry, {});
    const untyped = parse(['dead_letter:', '  path: /var/dl.jsonl', '  agent_path: /var/agent.jsonl']);
    expect([untyped.deadLetter?.type, untyped.deadLetter?.options]).toEqual([
      'file',
      { path: '/var/dl.jsonl', agent_path: '/var/agent.jsonl' },
    ]);
    expect([untyped.agentDeadLetter?.type, untyped.agentDeadLetter?.options]).toEqual(['file', { path: '/var/agent.jsonl' }]);
    const kafka = parse(['bus: { type: kafka, brokers: k:9092 }', 'dead_letter:', '  type: kafka', '  agent_path: /var/agent.jsonl']);
    expect([kafka.deadLetter?.type, kafka.deadLetter?.options]).toEqual([
      'kafka',
      { topic: 'sluice-dead-letter', agent_path: '/var/agent.jsonl' },
    ]);
    expect([kafka.agentDeadLetter?.type, kafka.agentDeadLetter?.options]).toEqual(['file', { path: '/var/agent.jsonl' }]);
  });

  it('reports an unknown dead_letter type, and options of the other type, with line:col', () => {
    expect(problems([...sinks, 'dead_letter:', '  type: s3'].join('\n'))).toEqual([
      'p.yaml:7:9: dead_letter.type: unknown dead_letter type "s3"; available: file, kafka',
    ]);
    expect(
      problems([...sinks, 'bus: { type: kafka, brokers: k:9092 }', 'dead_letter:', '  type: kafka', '  path: /x.jsonl'].join('\n')),
    ).toEqual(['p.yaml:9:3: dead_letter.path: unknown key "path"; allowed: agent_path, refused_path, topic']);
    expect(problems([...sinks, 'dead_letter:', '  topic: dl'].join('\n'))).toEqual([
      'p.yaml:7:3: dead_letter.topic: unknown key "topic"; allowed: agent_path, path',
    ]);
    expect(problems([...sinks, 'dead_letter: /x.jsonl'].join('\n'))).toEqual([expect.stringMatching(/^p\.yaml:6:14: dead_letter: /)]);
  });

  it('validates the kafka bus options', () => {
    expect(
      problems(
        [
          'bus:',
          '  type: kafka',
          '  topic: "logs/{service}"',
          '  producer:',
          '    compression: zstd',
          '    key: "{svc}"',
          '  tls:',
          '    cert_file: /x.pem',
        ].join('\n'),
      ),
    ).toEqual([
      'p.yaml:3:10: bus.topic: topic "logs/{service}" has characters Kafka does not allow in topic names (/); use letters, digits, ".", "_" and "-"',
      'p.yaml:5:18: bus.producer.compression: "zstd" is not in this build of librdkafka; available: none, gzip, lz4, snappy (lz4 and snappy with client: librdkafka)',
      'p.yaml:6:10: bus.producer.key: template "{svc}": {svc} at character 1: unknown field "svc": use service, module, host, level, source.kind, source.path, source.container, source.stream or fields.NAME (fields.a.b reads nested objects and dotted keys alike)',
      'p.yaml:8:5: bus.tls.key_file: cert_file and key_file go together: give both or neither',
    ]);
  });
});
