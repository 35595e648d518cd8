import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { SourceCheckpoint, Transaction } from '../../../core/pipeline.js';
import { silentLogger } from '../../../core/log.js';
import { eventNumber, makeEvent, seededRandom, tempDir } from '../testkit.js';
import { DiskChannel, type DiskChannelConfig } from './disk-channel.js';

/**
 * Random sequences of put / take / commit / rollback / reopen against a model that is just
 * an array: the channel must hand out exactly what the model says, in order, after any
 * reopen, with the newest checkpoint per source. Small segments make rotation and
 * deletion happen constantly; the read cache is on, off and tiny to cover both read paths.
 */
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function runModel(seed: number, steps: number): Promise<void> {
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const dir = await tempDir('model');
  dirs.push(dir);
  const config: DiskChannelConfig = {
    path: dir,
    maxBytes: 64 * 1024 * 1024,
    segmentBytes: [4096, 9000, 32768][pick(3)]!,
    fsync: pick(4) === 0 ? 5 : 'always',
    readCacheBytes: [0, 3000, 1 << 20][pick(3)]!,
    retryBackoffMaxMs: 100,
  };
  let channel = new DiskChannel(config, 'model', silentLogger());
  await channel.open();

  let pending: number[] = []; // put, not committed, in order
  let txn: { tx: Transaction; ids: number[] } | undefined;
  const checkpoints = new Map<string, SourceCheckpoint>();
  let nextId = 0;
  let seq = 0;
  const sources = ['a', 'b', 'c'];

  const verify = (where: string) => {
    expect(channel.stats().events, `${where}: buffered events`).toBe(pending.length);
    for (const s of sources) expect(channel.lastCheckpoint(s), `${where}: checkpoint of ${s}`).toEqual(checkpoints.get(s));
  };

  for (let step = 0; step < steps; step++) {
    const where = `seed ${seed} step ${step}`;
    const op = pick(100);
    if (op < 35) {
      // A few concurrent puts: they must land in call order (group commit keeps order).
      const puts: Promise<void>[] = [];
      for (let k = 1 + pick(4); k > 0; k--) {
        const n = pick(6) === 0 ? 0 : 1 + pick(pick(5) === 0 ? 200 : 20);
        const ids = Array.from({ length: n }, () => nextId++);
        const events = ids.map((id) => makeEvent(id, pick(3) === 0 ? 300 : 0));
        let cp: SourceCheckpoint | undefined;
        if (n === 0 || pick(2) === 0) {
          cp = { source: sources[pick(sources.length)]!, seq: ++seq, state: { upTo: nextId, file: 'x'.repeat(pick(40)) } };
        }
        puts.push(channel.put(events, cp));
        pending.push(...ids);
        if (cp) checkpoints.set(cp.source, cp);
      }
      await Promise.all(puts);
    } else if (op < 60) {
      const available = pending.length - (txn?.ids.length ?? 0);
      if (txn || available === 0) continue;
      const max = 1 + pick(pick(4) === 0 ? 500 : 30);
      const tx = await channel.take(max);
      const expected = pending.slice(0, Math.min(max, available));
      expect(tx.events.map(eventNumber), `${where}: take(${max})`).toEqual(expected);
      expect(tx.events, `${where}: event content`).toEqual(expected.map((id) => makeEvent(id, tx.events[expected.indexOf(id)]!.message.length > 100 ? 300 : 0)));
      txn = { tx, ids: expected };
    } else if (op < 78) {
      if (!txn) continue;
      await txn.tx.commit();
      pending = pending.slice(txn.ids.length);
      txn = undefined;
    } else if (op < 88) {
      if (!txn) continue;
      await txn.tx.rollback();
      txn = undefined;
    } else {
      // Reopen: an open transaction is abandoned and its events come back first.
      await channel.close();
      txn = undefined;
      channel = new DiskChannel(config, 'model', silentLogger());
      await channel.open();
    }
    verify(where);
  }
  if (txn) await txn.tx.rollback();
  while (pending.length > 0) {
    const tx = await channel.take(1000);
    expect(tx.events.map(eventNumber)).toEqual(pending.slice(0, tx.events.length));
    await tx.commit();
    pending = pending.slice(tx.events.length);
  }
  expect(channel.stats()).toMatchObject({ events: 0, bytes: 0 });
  await channel.close();
  channel = new DiskChannel(config, 'model', silentLogger());
  await channel.open();
  expect(channel.stats().events).toBe(0);
  for (const s of sources) expect(channel.lastCheckpoint(s)).toEqual(checkpoints.get(s));
  const aborted = new AbortController();
  aborted.abort();
  expect((await channel.take(10, aborted.signal)).events).toHaveLength(0);
  await channel.close();
}

describe('disk channel against a model', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}`, () => runModel(seed, 400));
  }
});
