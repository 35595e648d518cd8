import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../event.js';
import { compileTemplate, kafkaBusOptions, topicRenderer, topicSubscription } from './kafka-options.js';

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
    expect(topic(event({ service: '..', fields: {} }))).toBe('logs.__.none');
    expect(topic(event({ service: '' }))).toBe('logs.none.none');
  });

  it('keeps long topic names within 249 characters, distinct per value', () => {
    const topic = topicRenderer('logs.{service}');
    const a = topic(event({ service: 'x'.repeat(300) }));
    const b = topic(event({ service: `${'x'.repeat(299)}y` }));
    expect(a).toHaveLength(249);
    expect(b).toHaveLength(249);
    expect(a).not.toBe(b);
  });

  it('renders keys without sanitizing', () => {
    expect(compileTemplate('{service}/{module}')(event({ module: 'a b' }))).toBe('pay/a b');
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
