// A collector started on a group far behind says so: the backlog measured on the real
// broker (newest minus committed offsets), then caught up with what the group committed,
// with its api off (the probe that measures the group runs for the log and metrics too).
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { encodeEvent } from '../../core/wire.js';
import { AUTO_CLIENT, collectorYaml, lossAndDuplicates, outputs, tally, waitFor, workspace } from './bus-harness.js';

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const { setup, start } = workspace('sluice-progress-');

interface ProgressLine {
  msg: string;
  total_records?: number;
  done_records?: number;
  partitions?: number;
}

function progressLines(log: string): ProgressLine[] {
  return log
    .split('\n')
    .filter((l) => l.includes('"msg":"consumer group'))
    .map((l) => JSON.parse(l) as ProgressLine);
}

describe('collector backlog progress', () => {
  it('logs a group far behind with its size, then caught up with what it committed', async () => {
    const { dir, topic, group } = setup('progress');
    const total = 30_000;
    const after = 5_000;
    const kafka = new kafkajs.Kafka({ brokers: [brokers], logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 1 }], waitForLeaders: true });
      await producer.connect();
      for (let from = 0; from < total; from += 5_000) {
        const messages = [];
        for (let n = from; n < from + 5_000; n++)
          messages.push({
            value: encodeEvent({
              id: `id-${n}`,
              timestamp: Date.now(),
              message: `ev-${n} x`,
              service: 's',
              module: 'm',
              host: 'h',
              source: { kind: 'test' },
              fields: {},
            }),
          });
        await producer.send({ topic, acks: -1, messages });
      }
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }

    const yaml = collectorYaml({
      client: AUTO_CLIENT,
      dataDir: join(dir, 'c'),
      brokers,
      topic,
      group,
      consumer: { progress_after: after },
      // The progress log is for every collector, not only those with an api.
      api: { enabled: false },
    });
    const collector = start('collector', dir, 'collector', yaml);
    const out = outputs.bind(null, dir, 'collector.out');
    await waitFor(
      'the group caught up',
      () => progressLines(collector.log()).some((l) => l.msg === 'consumer group caught up'),
      90_000,
      () => `${tally(out()).counts.size} events so far\n${collector.log().slice(-3000)}`,
    );
    expect(await collector.stop()).toBe(0);
    expect(lossAndDuplicates(tally(out()), total)).toEqual({ missing: [], duplicates: 0, unexpected: 0 });

    const lines = progressLines(collector.log());
    const behind = lines.find((l) => l.msg === 'consumer group behind')!;
    const caughtUp = lines.find((l) => l.msg === 'consumer group caught up')!;
    // Measured before or while the group joined: at most the whole topic, at least the threshold.
    expect(behind).toMatchObject({ partitions: 4 });
    expect(behind.total_records).toBeGreaterThanOrEqual(after);
    expect(behind.total_records).toBeLessThanOrEqual(total);
    // Caught up once under a tenth of progress_after: what was committed since covers all but that.
    expect(caughtUp.done_records).toBeLessThanOrEqual(behind.total_records!);
    expect(caughtUp.done_records).toBeGreaterThan(behind.total_records! - after / 10);
    expect(lines.indexOf(behind)).toBeLessThan(lines.indexOf(caughtUp));
    expect(collector.log()).not.toMatch(/"level":(50|60)/);
  });
});
