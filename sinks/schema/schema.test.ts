import { describe, expect, it } from 'vitest';
import { encodeEventString } from '../../core/wire.js';
import { makeEvent } from '../../test/support/index.js';
import { fileSinkOptions } from '../file/options.js';
import { ecsDocument, jsonLineEncoder, otelDocument, severityNumber } from './schema.js';

const event = makeEvent({
  id: 'x1',
  timestamp: Date.UTC(2024, 2, 1, 12),
  message: 'GET / 500',
  service: 'web',
  module: 'access',
  host: 'h1',
  level: 'error',
  source: { kind: 'file', path: '/var/log/web/access.log', offset: 42 },
  fields: { status: 500, 'log.parse_error': 'p: nope', empty: {} },
});

describe('document schemas', () => {
  it('ECS: the well-known places, the rest under labels, nothing unknown written', () => {
    expect(ecsDocument(event)).toEqual({
      '@timestamp': '2024-03-01T12:00:00.000Z',
      message: 'GET / 500',
      ecs: { version: '8.11.0' },
      event: { id: 'x1', dataset: 'web.access', module: 'access' },
      service: { name: 'web' },
      host: { name: 'h1' },
      log: { level: 'error', file: { path: '/var/log/web/access.log' }, offset: 42 },
      input: { type: 'file' },
      error: { message: 'p: nope' },
      labels: { status: 500, empty: {} },
    });
  });

  it('OTel: body, severity, attributes and resource', () => {
    expect(otelDocument(event)).toEqual({
      '@timestamp': '2024-03-01T12:00:00.000Z',
      body: { text: 'GET / 500' },
      severity_text: 'ERROR',
      severity_number: 17,
      attributes: {
        status: 500,
        empty: {},
        'log.record.uid': 'x1',
        'sluice.module': 'access',
        'log.file.path': '/var/log/web/access.log',
        'log.parse_error': 'p: nope',
      },
      resource: { attributes: { 'service.name': 'web', 'host.name': 'h1' } },
      scope: { name: 'sluice' },
    });
    expect([undefined, 'trace', 'debug', 'info', 'warn', 'fatal', 'audit'].map(severityNumber)).toEqual([0, 1, 5, 9, 13, 21, 0]);
  });

  it('file sink JSON lines: sluice is the wire format; a schema needs encoding json', () => {
    expect(jsonLineEncoder('sluice')(event)).toBe(encodeEventString(event));
    expect(JSON.parse(jsonLineEncoder('ecs')(event))).toEqual(ecsDocument(event));
    expect(fileSinkOptions.safeParse({ schema: 'ecs' }).error?.issues.map((i) => i.message)).toEqual([
      'schema ecs shapes JSON lines: it needs encoding: json',
    ]);
  });
});
