import { expect } from 'vitest';
import type { Channel, SourceCheckpoint, Transaction } from '../../core/pipeline.js';
import { eventNumber, makeEvent, seededRandom } from './testkit.js';

/**
 * Model-based check shared by the channel tests: random sequences of put / take / commit /
 * rollback (/ reopen for durable channels) against a model that is just an array. The
 * channel must hand out exactly what the model says, in order, with the newest checkpoint
 * per source; a failing seed replays exactly.
 */
export interface ModelTarget {
  open(): Promise<Channel>;
  /** Closes and reopens on the same storage; absent for channels that do not survive a restart. */
  reopen?: (old: Channel) => Promise<Channel>;
}

export async function runChannelModel(seed: number, steps: number, target: ModelTarget): Promise<void> {
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  let channel = await target.open();
  let pending: number[] = [];
  let txn: { tx: Transaction; ids: number[] } | undefined;
  const checkpoints = new Map<string, SourceCheckpoint>();
  const sizes = new Map<number, number>();
  let nextId = 0;
  let seq = 0;
  const sources = ['a', 'b', 'c'];
  const expectedEvent = (id: number) => makeEvent(id, sizes.get(id));

  for (let step = 0; step < steps; step++) {
    const where = `seed ${seed} step ${step}`;
    const op = pick(100);
    if (op < 35) {
      // Concurrent puts must land in call order.
      const puts: Promise<void>[] = [];
      for (let k = 1 + pick(4); k > 0; k--) {
        const n = pick(6) === 0 ? 0 : 1 + pick(pick(5) === 0 ? 200 : 20);
        const ids = Array.from({ length: n }, () => nextId++);
        for (const id of ids) sizes.set(id, pick(3) === 0 ? 300 : 0);
        let cp: SourceCheckpoint | undefined;
        if (n === 0 || pick(2) === 0) {
          cp = { source: sources[pick(sources.length)]!, seq: ++seq, state: { upTo: nextId, file: 'x'.repeat(pick(40)) } };
        }
        puts.push(channel.put(ids.map(expectedEvent), cp));
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
      expect(tx.events, `${where}: event content`).toEqual(expected.map(expectedEvent));
      txn = { tx, ids: expected };
    } else if (op < 78) {
      if (!txn) continue;
      await txn.tx.commit();
      pending = pending.slice(txn.ids.length);
      txn = undefined;
    } else if (op < 88 || !target.reopen) {
      if (!txn) continue;
      await txn.tx.rollback();
      txn = undefined;
    } else {
      // An open transaction is abandoned by the restart and its events come back first.
      txn = undefined;
      channel = await target.reopen(channel);
    }
    expect(channel.stats().events, `${where}: buffered events`).toBe(pending.length);
    for (const s of sources) expect(channel.lastCheckpoint(s), `${where}: checkpoint of ${s}`).toEqual(checkpoints.get(s));
  }
  if (txn) await txn.tx.rollback();
  while (pending.length > 0) {
    const tx = await channel.take(1000);
    expect(tx.events.map(eventNumber)).toEqual(pending.slice(0, tx.events.length));
    await tx.commit();
    pending = pending.slice(tx.events.length);
  }
  expect(channel.stats()).toMatchObject({ events: 0, bytes: 0 });
  if (target.reopen) {
    channel = await target.reopen(channel);
    expect(channel.stats().events).toBe(0);
    for (const s of sources) expect(channel.lastCheckpoint(s)).toEqual(checkpoints.get(s));
  }
  const aborted = new AbortController();
  aborted.abort();
  expect((await channel.take(10, aborted.signal)).events).toHaveLength(0);
  await channel.close();
}
