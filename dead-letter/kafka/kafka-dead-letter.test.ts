import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.js';
import type { Bus, BusRecord, BusRecordWriter } from '../../core/pipeline.js';
import { makeEvent } from '../../test/support/index.js';
import { kafkaDeadLetterSpec } from './index.js';

// The topic writer against the real broker is exercised by the collector's integration
// tests; here, a narrow fake of the bus's record writer checks what is handed to it.
function fakeBus(fail?: Error): { bus: Bus; written: { topic: string; records: BusRecord[] }[]; closed: string[] } {
  const written: { topic: string; records: BusRecord[] }[] = [];
  const closed: string[] = [];
  const bus: Bus = {
    producer: () => {
      throw new Error('not used');
    },
    consumer: () => {
      throw new Error('not used');
    },
    recordWriter: (topic): BusRecordWriter => ({
      async write(records) {
        if (fail) throw fail;
        written.push({ topic, records: [...records] });
      },
      async close() {
        closed.push(topic);
      },
    }),
  };
  return { bus, written, closed };
}

const ctx = { name: 'dead-letter', dataDir: '/nonexistent', host: 'h', logger: silentLogger() };

describe('kafka dead-letter', () => {
  it('produces one record per entry to its topic: the original key (or service/module), the entry as value, the reason as header', async () => {
    await kafkaDeadLetterSpec.load?.();
    const { bus, written, closed } = fakeBus();
    const options = kafkaDeadLetterSpec.options.parse({});
    expect(options).toEqual({ topic: 'sluice-dead-letter' });
    const dl = kafkaDeadLetterSpec.create(options, { ...ctx, bus });
    await dl.open();
    await dl.write([
      { reason: 'not a Sluice event', topic: 'logs', partition: 0, offset: '3', key: Buffer.from('k'), value: Buffer.from('{') },
      { reason: 'no route', event: makeEvent({ service: 'shop', module: 'api' }) },
    ]);
    await dl.close();
    expect(written).toHaveLength(1);
    expect(written[0]!.topic).toBe('sluice-dead-letter');
    expect(written[0]!.records.map((r) => [String(r.key), JSON.parse(String(r.value)).reason, r.headers])).toEqual([
      ['k', 'not a Sluice event', { reason: 'not a Sluice event' }],
      ['shop/api', 'no route', { reason: 'no route' }],
    ]);
    expect(closed).toEqual(['sluice-dead-letter']);
  });

  it('fails the write, naming the dead-letter, when the topic does not take the records', async () => {
    await kafkaDeadLetterSpec.load?.();
    const { bus } = fakeBus(new Error('write to topic dl failed: broker down'));
    const dl = kafkaDeadLetterSpec.create(kafkaDeadLetterSpec.options.parse({ topic: 'dl' }), { ...ctx, bus });
    await expect(dl.write([{ reason: 'no route', event: makeEvent() }])).rejects.toThrow(
      'dead-letter write to topic dl failed: broker down',
    );
  });

  it('needs a bus with topics', async () => {
    await kafkaDeadLetterSpec.load?.();
    expect(() => kafkaDeadLetterSpec.create(kafkaDeadLetterSpec.options.parse({}), ctx)).toThrow(
      'dead_letter type kafka needs the kafka bus (bus: {type: kafka, ...})',
    );
  });

  it('checks the topic name and rejects options of the file type', () => {
    expect(kafkaDeadLetterSpec.options.safeParse({ topic: 'a/b' }).success).toBe(false);
    expect(kafkaDeadLetterSpec.options.safeParse({ path: '/x' }).success).toBe(false);
    expect(kafkaDeadLetterSpec.options.parse({ agent_path: '/a.jsonl' })).toEqual({ topic: 'sluice-dead-letter', agent_path: '/a.jsonl' });
  });
});
