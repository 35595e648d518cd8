import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../event.js';
import { silentLogger } from '../log.js';
import { kafkaBusOptions, keyRenderer, topicRenderer, topicSubscription } from './kafka-options.js';

const event = (over: Partial<LogEvent>): LogEvent => ({
  id: 'i',
  timestamp: 0,
  message: 'm',
  service: 'pay',
  module: 'api',
  host: 'h1',
  source: { kind: 'file' },
  fields: {},
  ...over,
});

describe('kafka bus options', () => {
  it('has defaults for everything', () => {
    const o = kafkaBusOptions.parse({});
    expect(o.brokers).toEqual(['localhost:9092']);
    expect(o.topic).toBe('logs');
    expect(o.topic_max_distinct).toBe(100);
    expect(o.producer).toMatchObject({
      key: '{service}/{module}',
      compression: 'gzip',
      headers: true,
      batch_events: 2000,
      linger: 5,
      partitions: 6,
    });
    expect(o.consumer).toMatchObject({ group_id: 'sluice-collectors', from_beginning: true });
    expect(kafkaBusOptions.parse({ brokers: 'a:1, b:2' }).brokers).toEqual(['a:1', 'b:2']);
  });

  it("renders topics from event values, each value sanitized to Kafka's characters", () => {
    const topic = topicRenderer('logs.{service}.{fields.team}');
    expect(topic(event({ fields: { team: 'core' } }))).toBe('logs.pay.core');
    expect(topic(event({ service: 'a/b c', fields: { team: 'ü' } }))).toBe('logs.a_b_c._');
    expect(topic(event({ service: '..', fields: {} }))).toBe('logs.__.unknown');
    expect(topic(event({ service: '' }))).toBe('logs.unknown.unknown');
    expect(topicRenderer('logs.{fields.team:-shared}')(event({}))).toBe('logs.shared');
  });

  it('makes at most topic_max_distinct topics, the rest going to the _other topic the consumers subscribe to', () => {
    const topic = topicRenderer('logs.{service}', { maxDistinct: 2, component: 'bus', logger: silentLogger() });
    const names = ['a', 'b', 'c', 'a', 'd'].map((service) => topic(event({ service })));
    expect(names).toEqual(['logs.a', 'logs.b', 'logs._other', 'logs.a', 'logs._other']);
    expect((topicSubscription('logs.{service}') as RegExp).test('logs._other')).toBe(true);
  });

  it('keeps long topic names within 249 characters, distinct per value', () => {
    const topic = topicRenderer('logs.{service}');
    const a = topic(event({ service: 'x'.repeat(300) }));
    const b = topic(event({ service: `${'x'.repeat(299)}y` }));
    expect(a).toHaveLength(249);
    expect(b).toHaveLength(249);
    expect(a).not.toBe(b);
  });

  it('renders keys without sanitizing, % as text', () => {
    expect(keyRenderer('{service}/{module}%')(event({ module: 'a b' }))).toBe('pay/a b%');
  });

  it('subscribes to a fixed topic, or to every topic a template can produce', () => {
    expect(topicSubscription('logs')).toBe('logs');
    const re = topicSubscription('logs.{service}') as RegExp;
    expect(re.test('logs.pay')).toBe(true);
    expect(re.test('logs.')).toBe(false);
    expect(re.test('logsXpay')).toBe(false);
    expect(re.test('other.pay')).toBe(false);
  });
});
