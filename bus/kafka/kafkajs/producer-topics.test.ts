import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppendFile } from '../../../core/append-file.js';
import { captureLogger, makeEvent, type TempDir, tempDir } from '../../../test/support/index.js';
import type { ClientSetup } from '../client.js';
import { kafkaBusOptions } from '../options.js';
import { TOPIC_DECISIONS_FILE } from '../topic-names.js';

// A fake kafkajs client, to see which producers a send uses and what it sends.

const sent: string[] = [];
let producers = 0;

const fakeKafka = {
  producer: () => {
    producers++;
    return {
      connect: async () => undefined,
      disconnect: async () => undefined,
      sendBatch: async ({ topicMessages }: { topicMessages: { topic: string; messages: unknown[] }[] }) => {
        for (const t of topicMessages) for (const _ of t.messages) sent.push(t.topic);
      },
    };
  },
  admin: () => ({ connect: async () => undefined, disconnect: async () => undefined, listTopics: async () => [] }),
};

vi.mock('./config.js', async (original) => ({
  ...(await original<typeof import('./config.js')>()),
  createKafka: () => fakeKafka,
}));

const { KafkajsProducer } = await import('./producer.js');

let tmp: TempDir;
beforeEach(async () => {
  tmp = await tempDir('kafkajs-topics');
  sent.length = 0;
  producers = 0;
});
afterEach(async () => {
  vi.restoreAllMocks();
  await tmp.cleanup();
});

describe('kafkajs producer: topic decisions it cannot write', () => {
  it('sends all the same, on the same producer, and a later send writes them', async () => {
    const options = kafkaBusOptions.parse({
      client: 'kafkajs',
      topic: 'logs.{service}',
      topic_max_distinct: 1,
      producer: { create_topics: false, compression: 'none' },
    });
    const setup: ClientSetup = { options, tls: undefined, logger: captureLogger().logger, component: 'bus', dataDir: tmp.dir };
    const producer = new KafkajsProducer(setup, undefined);
    await producer.open();
    const full = vi
      .spyOn(AppendFile.prototype, 'append')
      .mockRejectedValueOnce(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    await producer.send(['a', 'x'].map((service, i) => makeEvent({ id: `e${i}`, service })));
    expect(sent).toEqual(['logs.a', 'logs._other']);
    await producer.send([makeEvent({ id: 'e2', service: 'a' })]);
    expect(sent).toEqual(['logs.a', 'logs._other', 'logs.a']);
    expect(full).toHaveBeenCalledTimes(2);
    expect(producers).toBe(1);
    expect(await readFile(join(tmp.dir, TOPIC_DECISIONS_FILE), 'utf8')).toBe(
      `${JSON.stringify({ template: 'logs.{service}', admitted: ['logs.a'], overflowed: ['logs.x'] })}\n`,
    );
    await producer.close();
  });
});
