/**
 * Kafka's own Java producer (ProducerPerformance, from the services' Kafka) on the same
 * broker: the bar the agent and bus benchmarks measure Sluice's producers against.
 */
import { spawnSync } from 'node:child_process';

export interface JavaProducerRun {
  /** The classpath of Kafka's jars (`<kafka>/libs/*`). */
  kafkaLibs: string;
  brokers: string;
  topic: string;
  records: number;
  recordBytes: number;
  compression: 'none' | 'gzip';
  timeoutMs: number;
}

/** MiB/s of the whole run: acks=all, idempotent, batches up to 256 KiB per partition, linger 5 ms. */
export function javaProducerMibPerSec(run: JavaProducerRun): number {
  const r = spawnSync(
    'java',
    [
      '-Xmx512m',
      '-cp',
      run.kafkaLibs,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      run.topic,
      '--num-records',
      String(run.records),
      '--record-size',
      String(run.recordBytes),
      '--throughput',
      '-1',
      // Batches like Sluice's requests; the client defaults (16 KiB, linger 0) measure
      // per-request overhead, not the broker.
      '--producer-props',
      `bootstrap.servers=${run.brokers}`,
      'acks=all',
      'enable.idempotence=true',
      `compression.type=${run.compression}`,
      'batch.size=262144',
      'linger.ms=5',
    ],
    { encoding: 'utf8', timeout: run.timeoutMs },
  );
  // "N records sent, R records/sec (X MB/sec), ..." every 5 s, then for the whole run (the
  // last one), where MB is 2^20 bytes.
  const m = [...(r.stdout ?? '').matchAll(/records sent, [\d.]+ records\/sec \(([\d.]+) MB\/sec\)/g)].at(-1);
  if (!m) throw new Error(`ProducerPerformance gave no result: ${(r.stderr || r.stdout || String(r.error)).slice(-1000)}`);
  return Number(m[1]);
}
