import { describe, expect, it } from 'vitest';
import { secretValues } from '../../core/options/secret.js';
import { ConfigError, formatProblem } from '../../config/errors.js';
import { parseConfig } from '../../config/load.js';
import type { LogEvent } from '../../core/event.js';
import { Registry } from '../../core/registry.js';
import { kafkaBusSpec } from './index.js';
import { makeEvent } from '../../test/support/index.js';
import { kafkaBusOptions, keyRenderer, recordPlacement, type TopicPattern, topicSubscription } from './options.js';

const event = (over: Partial<LogEvent>): LogEvent => makeEvent({ service: 'pay', module: 'api', host: 'h1', ...over });

describe('kafka bus options', () => {
  it('has defaults for everything', () => {
    const o = kafkaBusOptions.parse({});
    expect(o.brokers).toEqual(['localhost:9092']);
    expect(o.topic).toBe('logs');
    expect(o.topic_max_distinct).toBe(100);
    expect(o.client).toBe('auto');
    expect(o.tls).toBeUndefined();
    expect(o.producer.key).toBeUndefined();
    expect(o.producer).toMatchObject({
      compression: 'gzip',
      headers: true,
      batch: { max_events: 2000, max_bytes: 900 * 1024, timeout: 5 },
      partitions: 6,
    });
    expect(o.consumer).toMatchObject({ group_id: 'sluice-collectors', start_at: 'beginning' });
    expect(kafkaBusOptions.parse({ brokers: 'a:1, b:2' }).brokers).toEqual(['a:1', 'b:2']);
  });

  it('places records by {service}/{module} without a key, by their key when one is set, by partition_by when given', () => {
    const placed = (producer: Record<string, string>) => recordPlacement(kafkaBusOptions.parse({ producer }).producer);
    expect(placed({})).toEqual({ key: undefined, partitionBy: '{service}/{module}' });
    expect(placed({ key: '{host}' })).toEqual({ key: '{host}', partitionBy: '{host}' });
    expect(placed({ partition_by: '{host}' })).toEqual({ key: undefined, partitionBy: '{host}' });
    expect(placed({ key: '{service}', partition_by: '{host}' })).toEqual({ key: '{service}', partitionBy: '{host}' });
    const bad = kafkaBusOptions.safeParse({ producer: { partition_by: '{nope}' } });
    expect(bad.error?.issues.map((i) => [i.path.join('.'), i.message.includes('unknown field "nope"')])).toEqual([
      ['producer.partition_by', true],
    ]);
  });

  it('renders keys without sanitizing, % as text', () => {
    expect(keyRenderer('{service}/{module}%')(event({ module: 'a b' }))).toBe('pay/a b%');
  });

  it('subscribes to a fixed topic, or to every topic a template can produce: a regular expression for librdkafka, a linear test for Sluice', () => {
    expect(topicSubscription('logs')).toBe('logs');
    const pattern = topicSubscription('logs.{service}') as TopicPattern;
    expect(pattern.regex).toBe('^logs\\.[a-zA-Z0-9._-]+$');
    const names = ['logs.pay', 'logs._other', 'logs.a.b', 'logs.', 'logsXpay', 'other.pay', 'logs.a b'];
    expect(names.filter(pattern.matches)).toEqual(['logs.pay', 'logs._other', 'logs.a.b']);
    expect(names.filter((n) => new RegExp(pattern.regex).test(n))).toEqual(['logs.pay', 'logs._other', 'logs.a.b']);
  });
});

describe('kafka bus options in a config file', () => {
  const registry = new Registry().register(kafkaBusSpec);
  const problems = (bus: string[]): string[] => {
    try {
      parseConfig(['bus:', '  type: kafka', ...bus.map((l) => `  ${l}`), ''].join('\n'), 'p.yaml', registry, {});
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map(formatProblem);
      throw err;
    }
    return [];
  };

  it('takes the shared vocabulary: tls block, batch block, durations with units, start_at', () => {
    expect(
      problems([
        'client: kafkajs',
        'tls: { ca_file: /etc/ca.pem, verify: false }',
        'producer: { batch: { max_events: 500, max_bytes: 256KiB, timeout: 10ms }, request_timeout: 5s }',
        'consumer: { start_at: end, max_wait: 100ms }',
      ]),
    ).toEqual([]);
  });

  it('rejects the old spellings, naming the new one', () => {
    expect(
      problems([
        'tls: { enabled: true, reject_unauthorized: false }',
        'producer: { batch_events: 10, batch_bytes: 1MiB, linger: 5ms }',
        'consumer: { from_beginning: true }',
      ]),
    ).toEqual([
      'p.yaml:3:10: bus.tls.enabled: enabled was renamed: use the tls block itself (present: on; remove it for off)',
      'p.yaml:3:25: bus.tls.reject_unauthorized: reject_unauthorized was renamed: use verify',
      'p.yaml:4:15: bus.producer.batch_events: batch_events was renamed: use batch.max_events',
      'p.yaml:4:33: bus.producer.batch_bytes: batch_bytes was renamed: use batch.max_bytes',
      'p.yaml:4:52: bus.producer.linger: linger was renamed: use batch.timeout',
      'p.yaml:5:15: bus.consumer.from_beginning: from_beginning was renamed: use start_at (beginning or end)',
    ]);
  });

  it('wants units on durations and sizes, and lz4 only with librdkafka', () => {
    expect(problems(['producer: { batch: { timeout: 5 } }'])).toEqual([
      'p.yaml:3:33: bus.producer.batch.timeout: expected a duration such as "500ms", "5s" or "7d", got 5 (a duration needs a unit: did you mean "5s" or "5ms"?)',
    ]);
    expect(problems(['producer: { compression: lz4 }'])).toEqual([
      'p.yaml:3:28: bus.producer.compression: compression "lz4" is built into librdkafka only: set client: librdkafka, or use gzip',
    ]);
    expect(problems(['client: librdkafka', 'producer: { compression: lz4 }'])).toEqual([]);
  });

  it('refuses a topic whose fixed text leaves no room to shorten its values with a hash', () => {
    const fixed = 'x'.repeat(235);
    expect(problems([`topic: ${fixed}.{service}`])).toEqual([
      `p.yaml:3:10: bus.topic: topic "${fixed}.{service}" leaves 13 of Kafka's 249 characters to its values, and a name too long is shortened by cutting them to a character each and adding a 13-character hash (14): shorten its fixed text`,
    ]);
    expect(problems([`topic: ${fixed}.{service}{module}`])).toHaveLength(1);
    expect(problems([`topic: ${fixed}{service}`])).toEqual([]);
    expect(problems([`topic: ${'x'.repeat(249)}`])).toEqual([]);
  });
});

describe('kafka bus secrets', () => {
  it('hides the SASL password from errors and logs', () => {
    const o = kafkaBusOptions.parse({ brokers: 'k:9092', sasl: { mechanism: 'plain', username: 'u', password: 'p4ssw0rd-hidden' } });
    expect(secretValues(kafkaBusOptions, o)).toEqual(['p4ssw0rd-hidden']);
  });
});
