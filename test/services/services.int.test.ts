// The failure-path controls later tests rely on: a broker killed with SIGKILL and started
// again comes back at the same address with everything it acknowledged. It runs on a
// private broker so that killing it cannot disturb other test runs sharing the default one.
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { KafkaService, elasticsearch as sharedElasticsearch, kafka as sharedKafka } from './services.mjs';

describe('services: a private Kafka broker', () => {
  const broker = new KafkaService({ name: `kafka-test-${process.pid}`, port: 0, controllerPort: 0, heap: '256m' });
  const quiet = { log: () => undefined };

  afterAll(async () => {
    await broker.destroy();
  });

  it('survives SIGKILL and a restart with its acknowledged messages, at the same address', async () => {
    await broker.start(quiet);
    const address = broker.brokers;
    const firstPid = broker.pid();
    expect(firstPid).toBeGreaterThan(0);
    expect(address).not.toBe(sharedKafka.brokers);

    const client = new Kafka({ brokers: [address], logLevel: logLevel.NOTHING });
    const topic = `restart-${randomUUID()}`;
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    const producer = client.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: Array.from({ length: 20 }, (_, i) => ({ value: `m${i}` })) });
    await producer.disconnect();
    await admin.disconnect();

    await broker.kill();
    expect(broker.running()).toBe(false);
    expect(broker.pid()).toBeUndefined();

    await broker.start(quiet);
    expect(broker.brokers).toBe(address);
    expect(broker.pid()).not.toBe(firstPid);

    const after = client.admin();
    await after.connect();
    try {
      // The broker flushes lazily, so what survives a SIGKILL is what reached the page
      // cache, which the OS kept: all 20.
      expect(await after.fetchTopicOffsets(topic)).toEqual([expect.objectContaining({ partition: 0, low: '0', high: '20' })]);
    } finally {
      await after.disconnect();
    }

    await broker.stop();
    expect(broker.running()).toBe(false);
  });

  it('refuses to start a broker on a port something else holds, naming the port', async () => {
    const holder = createServer();
    const port = await new Promise<number>((resolve) =>
      holder.listen(0, '127.0.0.1', () => resolve((holder.address() as AddressInfo).port)),
    );
    const squatter = new KafkaService({ name: `kafka-squat-${process.pid}`, port, controllerPort: 0 });
    try {
      await expect(squatter.start(quiet)).rejects.toThrow(`port ${port} on 127.0.0.1 is taken by a process test/services did not start`);
      expect(squatter.running()).toBe(false);
    } finally {
      holder.close();
      await squatter.destroy();
    }
  });
});

describe('services: a private instance another process uses', () => {
  it('is not started, stopped or killed from here, and the error says whose it is', async () => {
    const name = `kafka-owned-${process.pid}`;
    const taken = new KafkaService({ name, port: 0, controllerPort: 0 });
    // The owner file as another live test run leaves it: the parent process stands in for it.
    mkdirSync(join(taken.dir, 'run'), { recursive: true });
    writeFileSync(join(taken.dir, 'run', 'owner'), `${process.ppid}\n`);
    try {
      const message = `instance "${name}": process ${process.ppid} is using it`;
      await expect(taken.start({ log: () => undefined })).rejects.toThrow(`cannot start Kafka ${message}`);
      await expect(taken.stop()).rejects.toThrow(`cannot stop Kafka ${message}`);
      await expect(taken.kill()).rejects.toThrow(`cannot kill Kafka ${message}`);
      expect(taken.running()).toBe(false);
    } finally {
      rmSync(taken.dir, { recursive: true, force: true });
    }
  });
});

describe('services: the shared instances seen from a test file', () => {
  it('are the ones the global setup provided, and ours to control when it started them', () => {
    expect(sharedKafka.brokers).toBe(inject('kafkaBrokers'));
    expect(sharedElasticsearch.url).toBe(inject('elasticsearchUrl'));
    // KAFKA_BROKERS reaches test workers through the environment; without its SLUICE_MANAGED_
    // twin the worker would take our own broker for an external one it cannot kill.
    expect(sharedKafka.managed).toBe(process.env.SLUICE_MANAGED_KAFKA_BROKERS !== undefined);
    expect(sharedElasticsearch.managed).toBe(process.env.SLUICE_MANAGED_ELASTICSEARCH_URL !== undefined);
    if (sharedKafka.managed) expect(sharedKafka.pid()).toBeGreaterThan(0);
    if (sharedElasticsearch.managed) expect(sharedElasticsearch.pid()).toBeGreaterThan(0);
  });
});
