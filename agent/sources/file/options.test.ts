import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../../config/load.js';
import { Registry } from '../../../core/registry.js';
import { demoSourceSpec } from '../demo/index.js';
import { dockerSourceSpec } from '../docker/index.js';
import { fileSourceSpec } from './index.js';
import { canMatch } from './path-check.js';

/** Options as a user writes them, through the real config loader: every mistake with file:line:col. */
const registry = new Registry().register(fileSourceSpec).register(dockerSourceSpec).register(demoSourceSpec);

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'agent.yaml', registry, {});
  } catch (err) {
    return (err as Error).message.split('\n');
  }
  return [];
}

const file = (lines: string[]): string => ['sources:', '  app:', '    type: file', ...lines.map((l) => `    ${l}`)].join('\n');

describe('old spellings are errors that say the new name', () => {
  test('file source: batch_max_events, batch_max_bytes, max_line_bytes, multiline.max_bytes', () => {
    expect(
      problems(
        file([
          'include: ["/var/log/*.log"]',
          'batch_max_events: 100',
          'batch_max_bytes: 1MiB',
          'max_line_bytes: 64KiB',
          'multiline: { preset: java, max_bytes: 1MiB }',
        ]),
      ),
    ).toEqual([
      'agent.yaml:5:5: sources.app.batch_max_events: batch_max_events was renamed: use batch.max_events (batch: {max_events, max_bytes, timeout})',
      'agent.yaml:6:5: sources.app.batch_max_bytes: batch_max_bytes was renamed: use batch.max_bytes (batch: {max_events, max_bytes, timeout})',
      'agent.yaml:7:5: sources.app.max_line_bytes: max_line_bytes was renamed: use max_event_bytes (one bound for lines and joined events)',
      'agent.yaml:8:32: sources.app.multiline.max_bytes: max_bytes was renamed: use max_event_bytes beside multiline (one bound for lines and joined events)',
    ]);
  });

  test('docker source: max_message_bytes; demo source: interval_ms', () => {
    const yaml = [
      'sources:',
      '  containers:',
      '    type: docker',
      '    max_message_bytes: 1MiB',
      '  demo:',
      '    type: demo',
      '    interval_ms: 100',
    ].join('\n');
    expect(problems(yaml)).toEqual([
      'agent.yaml:4:5: sources.containers.max_message_bytes: max_message_bytes was renamed: use max_event_bytes (one bound for messages and joined events)',
      'agent.yaml:7:5: sources.demo.interval_ms: interval_ms was renamed: use interval (a duration with its unit, e.g. 100ms)',
    ]);
  });

  test('the new spellings are taken, with units', () => {
    expect(
      problems(
        file([
          'include: ["/var/log/*.log"]',
          'batch: { max_events: 100, max_bytes: 1MiB, timeout: 50ms }',
          'max_event_bytes: 64KiB',
          'long_lines: skip',
          'max_match_bytes: 1KiB',
          'fingerprint_bytes: 512B',
          'encoding: shift_jis',
        ]),
      ),
    ).toEqual([]);
    expect(problems(file(['include: ["/var/log/*.log"]', 'fingerprint_bytes: 512']))).toEqual([
      'agent.yaml:5:24: sources.app.fingerprint_bytes: expected a size such as "512KiB" or "64MiB", got 512 (a size needs a unit: did you mean "512B" or "512MiB"?)',
    ]);
  });
});

describe('what is tailed is checked at load', () => {
  test('"~" is refused with the way out', () => {
    expect(problems(file(['include: ["~/logs/*.log"]', 'exclude: ["~"]']))).toEqual([
      'agent.yaml:4:15: sources.app.include[0]: "~" is not expanded in paths (the agent may run as another user, with another home): write the absolute path, or ${HOME}/logs/*.log',
      'agent.yaml:5:15: sources.app.exclude[0]: "~" is not expanded in paths (the agent may run as another user, with another home): write the absolute path, or ${HOME}',
    ]);
  });

  test('a path_pattern that can never match the includes', () => {
    expect(problems(file(['include: ["/var/log/app/*.log"]', 'path_pattern: "/var/log/{service}/{module}.txt"']))).toEqual([
      'agent.yaml:5:19: sources.app.path_pattern: path_pattern can never match a path of the include patterns (/var/log/app/*.log): every event would get the fallback service and module',
    ]);
    // One include it fits is enough (rotated names rarely fit a template).
    expect(
      problems(file(['include: ["/var/log/*/*.log", "/var/log/*/*.log.[0-9]"]', 'path_pattern: "/var/log/{service}/{module}.log"'])),
    ).toEqual([]);
  });

  test('globs, templates, patterns and encodings that cannot work', () => {
    expect(
      problems(
        file([
          'include: ["/var/log/[ab.log"]',
          'path_pattern: "/var/log/{1x}.log"',
          "multiline: { start: '^(\\d{4}' }",
          "timestamp: { pattern: '(?<time' }",
          'encoding: klingon',
        ]),
      ),
    ).toEqual([
      'agent.yaml:4:15: sources.app.include[0]: glob "/var/log/[ab.log": unclosed [',
      'agent.yaml:5:19: sources.app.path_pattern: path_pattern "/var/log/{1x}.log": bad capture at 9 (use {name})',
      'agent.yaml:6:25: sources.app.multiline.start: multiline.start is not a valid regular expression: Invalid regular expression: /^(\\d{4}/: Unterminated group',
      'agent.yaml:7:27: sources.app.timestamp.pattern: timestamp.pattern is not a valid regular expression: Invalid regular expression: /(?<time/: Invalid capture group name',
      'agent.yaml:8:15: sources.app.encoding: unknown or unsupported encoding "klingon"; for example utf-8, utf-16le, utf-16be, shift_jis, euc-jp, gbk, gb18030, big5, euc-kr, windows-1252, iso-8859-1, iso-8859-15',
    ]);
    expect(problems(file(['include: ["/x/*.log"]', 'multiline: { negate: true }']))[0]).toBe(
      'agent.yaml:5:16: sources.app.multiline: multiline needs a preset, a start or a continuation pattern',
    );
  });
});

describe('canMatch: can a path template match some path of a glob?', () => {
  const cases: [string, string, boolean][] = [
    ['/var/log/*/*.log', '/var/log/{service}/{module}.log', true],
    ['/var/log/*/*.log.[0-9]', '/var/log/{service}/{module}.log', false],
    ['/var/log/app/*.log', '/var/log/{service}/{module}.log', true],
    ['/var/log/app/*.log', '/var/log/{service}/{module}.txt', false],
    ['/var/log/app/*.log', '/srv/{service}/{module}.log', false],
    ['/var/log/**/*.log', '/var/log/{a}/{b}/{c}/{module}.log', true],
    ['/var/log/*.log', '/var/log/{a}/{module}.log', false],
    ['/var/log/{app,web}/*.log', '/var/log/web/{module}.log', true],
    ['/var/log/{app,web}/*.log', '/var/log/db/{module}.log', false],
    ['/var/log/[abc]*.log', '/var/log/b{rest}.log', true],
    ['/var/log/[abc]*.log', '/var/log/x{rest}.log', false],
    ['/var/log/[!abc]*.log', '/var/log/a{rest}.log', false],
    ['/var/log/?.log', '/var/log/{module}.log', true],
    ['/var/log/?.log', '/var/log/ab.log', false],
    ['/data/**', '/data/{service}/x/{module}.log', true],
    ['/data/a**b/x.log', '/data/{s}/y.log', true], // not read precisely: answered "can match"
  ];
  for (const [glob, template, expected] of cases) {
    test(`${glob} vs ${template}: ${expected}`, () => expect(canMatch(glob, template)).toBe(expected));
  }
});
