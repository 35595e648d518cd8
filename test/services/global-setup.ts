// Global setup of the vitest `integration` project: the real Kafka, Elasticsearch and HDFS are up
// before any test file runs. Tests read the addresses from process.env (KAFKA_BROKERS,
// ELASTICSEARCH_URL, WEBHDFS_URL; workers inherit this process's environment) or inject('kafkaBrokers').
// Teardown stops only what a test session started, and only when no other session still
// uses it, so services found running are left running.
import type { TestProject } from 'vitest/node';
import { acquire, exportAddresses } from './services.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    elasticsearchUrl: string;
    webhdfsUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const session = await acquire();
  exportAddresses();
  project.provide('kafkaBrokers', session.kafkaBrokers);
  project.provide('elasticsearchUrl', session.elasticsearchUrl);
  project.provide('webhdfsUrl', session.webhdfsUrl);
  return () => session.release();
}
