// Global setup of the vitest `integration` project: the real Kafka and Elasticsearch are up
// before any test file runs. Tests read the addresses from process.env (KAFKA_BROKERS,
// ELASTICSEARCH_URL; workers inherit this process's environment) or inject('kafkaBrokers').
// HDFS is not started here: the test files that write to it lease it in their beforeAll
// (acquireHdfs), so a machine where HDFS cannot run still runs every other test.
// Teardown stops only what a test session started, and only when no other session still
// uses it, so services found running are left running.
import type { TestProject } from 'vitest/node';
import { acquire, exportAddresses } from './services.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    elasticsearchUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const session = await acquire();
  exportAddresses();
  project.provide('kafkaBrokers', session.kafkaBrokers);
  project.provide('elasticsearchUrl', session.elasticsearchUrl);
  return () => session.release();
}
