/**
 * What the bus's producer would reach with a boundary that carries a batch per call
 * (batch-boundary/batch-boundary.c, built here against the binding's own librdkafka): the
 * same records, config, placement and headers as the binding phases of `bench bus`, the
 * values of a round copied into one Buffer as the bus's record writer does, delivery
 * reports read back as typed arrays. A measurement for deciding the next step, not a client.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { LIBRDKAFKA_PACKAGE } from '../../bus/kafka/client.js';
import { producerConfig } from '../../bus/kafka/librdkafka/config.js';
import type { KafkaBusOptions } from '../../bus/kafka/options.js';
import { Placement } from '../../bus/kafka/placement.js';
import type { BindingPhase, BindingRecord } from './librdkafka-binding.js';

interface BatchBoundary {
  create(keys: string[], values: string[]): object;
  produce(
    producer: object,
    topic: string,
    values: Buffer,
    ends: Uint32Array,
    partitions: Int32Array,
    pairOf: Uint16Array,
    pairs: Buffer[],
    firstSequence: number,
    from: number,
    to: number,
  ): number;
  poll(producer: object): Int32Array;
}

/** Compiles the addon into `outDir`; the reason when it cannot (no compiler, headers or librdkafka). */
export function buildBatchBoundary(root: string, outDir: string): { path: string } | { reason: string } {
  const require = createRequire(import.meta.url);
  let deps: string;
  try {
    deps = join(dirname(require.resolve(`${LIBRDKAFKA_PACKAGE}/package.json`)), 'build/deps');
  } catch {
    return { reason: `${LIBRDKAFKA_PACKAGE} is not installed` };
  }
  const nodeHeaders = join(dirname(dirname(process.execPath)), 'include/node');
  if (!existsSync(join(nodeHeaders, 'node_api.h'))) return { reason: `no node_api.h under ${nodeHeaders}` };
  if (!existsSync(join(deps, 'include/librdkafka/rdkafka.h'))) return { reason: `no librdkafka headers under ${deps}` };
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, 'batch-boundary.node');
  const cc = spawnSync(
    'cc',
    [
      '-shared',
      '-fPIC',
      '-O2',
      '-o',
      path,
      join(root, 'bench/support/batch-boundary/batch-boundary.c'),
      `-I${nodeHeaders}`,
      `-I${join(deps, 'include')}`,
      `-L${deps}`,
      '-l:librdkafka.so.1',
      `-Wl,-rpath,${deps}`,
    ],
    { encoding: 'utf8' },
  );
  if (cc.status !== 0) return { reason: `cc failed: ${(cc.stderr || String(cc.error)).slice(-500)}` };
  return { path };
}

/** Produces `records` in rounds of `round`, two rounds in flight, and waits for every report. */
export async function batchBoundaryProduce(
  addonPath: string,
  options: KafkaBusOptions,
  topic: string,
  partitions: number,
  records: readonly BindingRecord[],
  round: number,
): Promise<BindingPhase> {
  const addon = createRequire(import.meta.url)(addonPath) as BatchBoundary;
  const config = producerConfig({ options, tls: undefined }, '-bench-batch');
  // The binding's own option; librdkafka reports through the callback the addon sets.
  delete config.dr_cb;
  const producer = addon.create(Object.keys(config), Object.values(config).map(String));
  const placement = new Placement();
  const pairIndex = new Map<string, number>();
  const pairs: Buffer[] = [];
  const partitionOfPair: number[] = [];
  let reported = 0;
  let failed = 0;
  const drain = () => {
    const r = addon.poll(producer);
    for (let j = 1; j < r.length; j += 2) if (r[j] !== 0) failed++;
    reported += r.length / 2;
  };
  const pause = () => new Promise((r) => setTimeout(r, 1));
  const ends = new Uint32Array(round);
  const partitionOf = new Int32Array(round);
  const pairOf = new Uint16Array(round);
  let values = Buffer.allocUnsafe(round * 512);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let from = 0; from < records.length; from += round) {
    const n = Math.min(records.length, from + round) - from;
    let at = 0;
    for (let i = 0; i < n; i++) {
      const r = records[from + i]!;
      const key = `${r.service}/${r.module}`;
      let pair = pairIndex.get(key);
      if (pair === undefined) {
        pair = pairs.length / 2;
        pairIndex.set(key, pair);
        pairs.push(Buffer.from(r.service), Buffer.from(r.module));
        partitionOfPair.push(placement.partitionOf(key, partitions));
      }
      if (at + r.value.length > values.length) {
        const grown = Buffer.allocUnsafe(2 * (at + r.value.length));
        values.copy(grown, 0, 0, at);
        values = grown;
      }
      at += r.value.copy(values, at);
      ends[i] = at;
      partitionOf[i] = partitionOfPair[pair]!;
      pairOf[i] = pair;
    }
    for (let done = 0; done < n; ) {
      done += addon.produce(producer, topic, values, ends, partitionOf, pairOf, pairs, from, done, n);
      if (done < n) {
        await pause();
        drain();
      }
    }
    while (reported < from - round) {
      await pause();
      drain();
    }
  }
  while (reported < records.length) {
    await pause();
    drain();
  }
  const c = process.cpuUsage(c0);
  if (failed > 0) throw new Error(`batch boundary produce: ${failed} records failed`);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: (c.user + c.system) / 1e6 };
}
