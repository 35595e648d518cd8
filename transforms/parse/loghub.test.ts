// Real logs from the Loghub collection (../shared/data/loghub, beside the project in
// development and CI; absent from a user's clone, where this file skips). Every line of
// each sample parses with the grok pattern for its format, and the level detected from
// the raw line agrees with the level the parse extracts, line for line.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { levelInText } from '../level/detect.js';
import { PARSE_ERROR_FIELD } from '../transform.js';
import { parseOptions } from './options.js';
import { ParseTransform } from './parse.js';

const dir = join(import.meta.dirname, '../../../shared/data/loghub');

const samples: [string, string, Record<string, number>][] = [
  ['Apache', '^%{HTTPD_ERRORLOG}$', { info: 1405, error: 595 }],
  ['Hadoop', '^%{LOG4J}$', { info: 1040, warn: 808, error: 150, fatal: 2 }],
  ['OpenSSH', '^%{SYSLOGLINE}$', {}],
  [
    'Zookeeper',
    '^%{TIMESTAMP_ISO8601:time} - %{LOGLEVEL:level} +\\[%{DATA:thread}\\] - %{GREEDYDATA:msg}$',
    { info: 669, warn: 1318, error: 13 },
  ],
  ['Spark', '^(?<time>\\d\\d/\\d\\d/\\d\\d %{TIME}) %{LOGLEVEL:level} %{JAVACLASS:logger}: %{GREEDYDATA:msg}$', { info: 2000 }],
  [
    'OpenStack',
    '^%{NOTSPACE:file} %{TIMESTAMP_ISO8601:time} %{POSINT:pid:int} %{LOGLEVEL:level} %{JAVACLASS:logger} %{GREEDYDATA:msg}$',
    { info: 1969, warn: 31 },
  ],
];

describe.skipIf(!existsSync(dir))('Loghub samples', () => {
  it.each(samples)('%s: every line parses; detected levels match the parsed ones', (name, pattern, levels) => {
    // The samples carry CRLF endings and stray CRs, as real files do.
    const lines = readFileSync(join(dir, `${name}_2k.log`), 'utf8')
      .split('\n')
      .map((l) => l.replace(/\r$/, ''))
      .filter((l) => l !== '');
    expect(lines).toHaveLength(2000);
    const events: LogEvent[] = lines.map((message, i) => ({
      id: String(i),
      timestamp: 0,
      message,
      service: name,
      module: 'm',
      host: 'h',
      source: { kind: 'file' },
      fields: {},
    }));
    new ParseTransform('p', parseOptions.parse({ format: 'grok', pattern })).apply(events);
    expect(events.filter((e) => e.fields[PARSE_ERROR_FIELD] !== undefined).map((e) => e.message)).toEqual([]);
    const parsed: Record<string, number> = {};
    for (const e of events) if (e.level) parsed[e.level] = (parsed[e.level] ?? 0) + 1;
    expect(parsed).toEqual(levels);
    expect(events.map((e) => levelInText(e.message))).toEqual(events.map((e) => e.level));
  });
});
