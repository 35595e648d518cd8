import { expect } from 'vitest';
import type { Channel, SourceCheckpoint, Transaction } from '../../core/pipeline.js';
import { eventNumber, makeEvent, seededRandom } from './testkit.js';

/**
 * Model-based check shared by the channel tests: random sequences of put / take / commit /
 * rollback (/ reopen for durable channels) against a model that is just an array. The
 * taker keeps up to four transactions open, as the pipelined forwarder does: it commits
 * them in order (an out-of-order commit must be refused and change nothing), rolls back
 * any of them (the later ones go with it), commits one while the next take runs, and rolls
 * back while a take waits. The channel must hand out exactly what the model says, in
 * order, with the newest checkpoint per source — whole, also where sources put patches of
 * it (SourceCheckpoint.patch); a failing seed replays exactly.
 */
export interface ModelTarget {
  open(): Promise<Channel>;
  /** Closes and reopens on the same storage; absent for channels that do not survive a restart. */
  reopen?: (old: Channel) => Promise<Channel>;
}

/** A source's state in the model: what its whole checkpoint carries. */
interface ModelState {
  upTo: number;
  file: string;
  tags: Record<string, number>;
}

/** The RFC 7386 patch from `a` to `b`, written out for this shape (not derived by the code under test). */
function patchOf(a: ModelState, b: ModelState): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  if (a.upTo !== b.upTo) patch.upTo = b.upTo;
  if (a.file !== b.file) patch.file = b.file;
  const tags: Record<string, number | null> = {};
  for (const k of Object.keys(a.tags)) if (!(k in b.tags)) tags[k] = null;
  for (const [k, v] of Object.entries(b.tags)) if (a.tags[k] !== v) tags[k] = v;
  if (Object.keys(tags).length > 0) patch.tags = tags;
  return patch;
}

interface Open {
  tx: Transaction;
  ids: number[];
}

const MAX_OPEN = 4;

export async function runChannelModel(seed: number, steps: number, target: ModelTarget): Promise<void> {
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  let channel = await target.open();
  let pending: number[] = [];
  let open: Open[] = [];
  let superseded: Open[] = [];
  const checkpoints = new Map<string, SourceCheckpoint>();
  const sizes = new Map<number, number>();
  let nextId = 0;
  let seq = 0;
  const sources = ['a', 'b', 'c'];
  const expectedEvent = (id: number) => makeEvent(id, sizes.get(id));
  const taken = () => open.reduce((n, o) => n + o.ids.length, 0);
  const pickMax = () => 1 + pick(pick(4) === 0 ? 500 : 30);

  const puts = async () => {
    // Concurrent puts must land in call order.
    const all: Promise<void>[] = [];
    for (let k = 1 + pick(4); k > 0; k--) {
      const n = pick(6) === 0 ? 0 : 1 + pick(pick(5) === 0 ? 200 : 20);
      const ids = Array.from({ length: n }, () => nextId++);
      for (const id of ids) sizes.set(id, pick(3) === 0 ? 300 : 0);
      let cp: SourceCheckpoint | undefined;
      if (n === 0 || pick(2) === 0) {
        const source = sources[pick(sources.length)]!;
        const tags: Record<string, number> = {};
        for (const t of ['x', 'y', 'z']) if (pick(2) === 0) tags[t] = pick(3);
        const state: ModelState = { upTo: nextId, file: 'x'.repeat(pick(40)), tags };
        const prev = checkpoints.get(source);
        const whole = { source, seq: ++seq, state };
        // A patch against the checkpoint the channel holds for the source, as the file source puts them.
        cp = prev && pick(3) > 0 ? { source, seq, patch: true, base: prev.seq, state: patchOf(prev.state as ModelState, state) } : whole;
        checkpoints.set(source, whole);
      }
      all.push(channel.put(ids.map(expectedEvent), cp));
      pending.push(...ids);
    }
    await Promise.all(all);
  };

  /** What a take of `max` must return now. */
  const expectTake = (tx: Transaction, max: number, where: string): Open => {
    const from = taken();
    const expected = pending.slice(from, from + Math.min(max, pending.length - from));
    expect(tx.events.map(eventNumber), `${where}: take(${max})`).toEqual(expected);
    expect(tx.events, `${where}: event content`).toEqual(expected.map(expectedEvent));
    return { tx, ids: expected };
  };

  const rollback = async (i: number) => {
    await open[i]!.tx.rollback();
    superseded.push(...open.slice(i + 1));
    open = open.slice(0, i);
  };

  for (let step = 0; step < steps; step++) {
    const where = `seed ${seed} step ${step}`;
    const op = pick(100);
    const available = pending.length - taken();
    if (op < 30) {
      await puts();
    } else if (op < 50) {
      if (open.length >= MAX_OPEN || available === 0) continue;
      const max = pickMax();
      open.push(expectTake(await channel.take(max), max, where));
    } else if (op < 64) {
      if (open.length === 0) continue;
      await open[0]!.tx.commit();
      pending = pending.slice(open[0]!.ids.length);
      open.shift();
    } else if (op < 70) {
      // The forwarder's overlap: the oldest commits while the next take collects.
      if (open.length === 0 || open.length >= MAX_OPEN || available === 0) continue;
      const max = pickMax();
      const from = taken();
      const [, tx] = await Promise.all([open[0]!.tx.commit(), channel.take(max)]);
      const expected = pending.slice(from, from + Math.min(max, available));
      expect(tx.events.map(eventNumber), `${where}: take during commit`).toEqual(expected);
      pending = pending.slice(open[0]!.ids.length);
      open.shift();
      open.push({ tx, ids: expected });
    } else if (op < 74) {
      if (open.length < 2) continue;
      const i = 1 + pick(open.length - 1);
      await expect(open[i]!.tx.commit(), `${where}: out-of-order commit`).rejects.toThrow(/commit in the order they were taken/);
    } else if (op < 77) {
      if (superseded.length === 0) continue;
      const s = superseded[pick(superseded.length)]!;
      await expect(s.tx.commit(), `${where}: commit of a superseded transaction`).rejects.toThrow(/an earlier transaction was rolled back/);
      await s.tx.rollback();
    } else if (op < 86) {
      if (open.length === 0) continue;
      await rollback(pick(open.length));
    } else if (op < 90) {
      // A rollback wakes a take that waits for events: it gets the rolled-back ones first.
      if (open.length === 0 || available > 0) continue;
      const max = pickMax();
      const ac = new AbortController();
      const waiting = channel.take(max, ac.signal);
      await rollback(pick(open.length));
      open.push(expectTake(await waiting, max, `${where}: take woken by a rollback`));
    } else if (!target.reopen) {
      if (open.length === 0) continue;
      await rollback(pick(open.length));
    } else {
      // Open transactions are abandoned by the restart and their events come back first.
      for (const o of open) superseded.push(o);
      open = [];
      channel = await target.reopen(channel);
      superseded = [];
    }
    expect(channel.stats().events, `${where}: buffered events`).toBe(pending.length);
    for (const s of sources) expect(channel.lastCheckpoint(s), `${where}: checkpoint of ${s}`).toEqual(checkpoints.get(s));
  }
  if (open.length > 0) await rollback(0);
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
