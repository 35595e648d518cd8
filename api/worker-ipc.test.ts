import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../core/event.js';
import { makeEvent } from '../test/support/index.js';
import { Readiness } from './readiness.js';
import { Taps } from './tap.js';
import {
  type ApiAnswer,
  type ApiRequest,
  type IpcPort,
  serveApiOverIpc,
  TAP_ACK_BYTES,
  TAP_CREDIT_BYTES,
  WorkerLink,
} from './worker-ipc.js';

/** One end of an IPC channel whose other end is the test: what is sent is kept, what the test says arrives at once. */
function port<Out>() {
  const in_ = new EventEmitter();
  const sent: Out[] = [];
  const end: IpcPort = {
    connected: true,
    send: (m) => {
      sent.push(structuredClone(m) as Out);
      return true;
    },
    on: (e, l) => in_.on(e, l),
    off: (e, l) => in_.off(e, l),
  };
  return { end, sent, say: (m: unknown) => in_.emit('message', m) };
}

const tick = () => new Promise((r) => setImmediate(r));

/** Events whose tap lines all have the same length. */
function events(n: number, from = 0, message = 'x'.repeat(1000)): LogEvent[] {
  return Array.from({ length: n }, (_, i) => makeEvent({ id: `e${String(from + i).padStart(6, '0')}`, message }));
}

/** A worker serving one tap on `sources.app` to a supervisor that is the test. */
async function workerWithTap() {
  const supervisor = port<ApiAnswer>();
  const taps = new Taps();
  taps.declare('sources.app');
  serveApiOverIpc(
    {
      probes: new Readiness(30_000),
      taps,
      metrics: async () => [],
      reload: async () => ({ result: 'unchanged', changes: [], problems: [] }),
    },
    supervisor.end,
  );
  supervisor.say({ api: 'tap', id: 1, request: { components: ['sources.app'], rate: 10_000 } } satisfies ApiRequest);
  await tick();
  expect(supervisor.sent).toEqual([{ api: 'answer', id: 1, value: true }]);
  supervisor.sent.length = 0;
  let acked = 0;
  const lines = () => supervisor.sent.filter((m) => m.api === 'tap-line').map((m) => m.line);
  const bytes = (ls: string[]) => ls.reduce((n, l) => n + Buffer.byteLength(l), 0);
  return {
    taps,
    lines,
    eventLines: () => lines().filter((l) => l.includes('"event"')),
    outstanding: () => bytes(lines()) - acked,
    sentBytes: () => bytes(lines()),
    ack: (n: number) => {
      acked += n;
      supervisor.say({ api: 'tap-ack', id: 1, bytes: n } satisfies ApiRequest);
    },
  };
}

describe('a tap over IPC, on credit', () => {
  it('a worker the supervisor does not acknowledge stops at the credit and counts the rest as dropped, exactly', async () => {
    const w = await workerWithTap();
    for (let b = 0; b < 50; b++) w.taps.publish('sources.app', events(20, b * 20));
    const one = Buffer.byteLength(w.eventLines()[0]!);
    // Every line is as long: the credit holds a whole number of them, and not one more.
    expect(w.eventLines()).toHaveLength(Math.floor(TAP_CREDIT_BYTES / one));
    expect(w.outstanding()).toBe(Math.floor(TAP_CREDIT_BYTES / one) * one);
    expect(w.outstanding()).toBeLessThanOrEqual(TAP_CREDIT_BYTES);
    const sent = w.eventLines().length;
    // More batches change nothing but the count.
    w.taps.publish('sources.app', events(100, 1000));
    expect(w.eventLines()).toHaveLength(sent);
    // The acknowledgement restores sending: first the count of what was missed, at once.
    w.ack(w.outstanding());
    expect(w.lines().at(-1)).toBe(`{"dropped":${1100 - sent}}\n`);
    w.taps.publish('sources.app', events(3, 2000));
    expect(w.lines().slice(-3)).toEqual([
      expect.stringContaining('"id":"e002000"'),
      expect.stringContaining('"id":"e002001"'),
      expect.stringContaining('"id":"e002002"'),
    ]);
  });

  it('never has more than the credit outstanding, however the acknowledgements come', async () => {
    const w = await workerWithTap();
    let most = 0;
    let published = 0;
    for (let round = 0; round < 20; round++) {
      for (let b = 0; b < 5; b++) {
        w.taps.publish('sources.app', events(20, published));
        published += 20;
        most = Math.max(most, w.outstanding());
      }
      // The supervisor hands on a part of what it got, as a reader reads it.
      w.ack(Math.min(w.outstanding(), TAP_ACK_BYTES));
    }
    expect(most).toBeLessThanOrEqual(TAP_CREDIT_BYTES);
    expect(most).toBeGreaterThan(TAP_CREDIT_BYTES - 2 * 1024);
    w.ack(w.outstanding());
    // Every event published was sent or counted in a `dropped`, none twice.
    const dropped = w
      .lines()
      .filter((l) => l.startsWith('{"dropped"'))
      .reduce((n, l) => n + (JSON.parse(l) as { dropped: number }).dropped, 0);
    expect(w.eventLines().length + dropped).toBe(published);
    expect(dropped).toBeGreaterThan(0);
  });

  it('sends a line larger than the credit while little is outstanding, rather than refuse it for ever', async () => {
    const w = await workerWithTap();
    const big = 'y'.repeat(TAP_CREDIT_BYTES + 1000);
    w.taps.publish('sources.app', events(1, 0, big));
    expect(w.eventLines()).toHaveLength(1);
    // With that outstanding, the next waits for the acknowledgement, and is counted.
    w.taps.publish('sources.app', events(1, 1, big));
    expect(w.eventLines()).toHaveLength(1);
    w.ack(w.outstanding());
    expect(w.lines().at(-1)).toBe('{"dropped":1}\n');
  });

  it('the supervisor acknowledges what it hands on in batches, and nothing a behind reader has not read until it drained', async () => {
    const worker = port<ApiRequest>();
    const link = new WorkerLink(0, worker.end);
    let keepsUp = true;
    const got: string[] = [];
    const opening = link.tap(
      { components: [], rate: 100 },
      {
        write: (l) => {
          got.push(l);
          return keepsUp;
        },
        end: () => {},
      },
    );
    worker.say({ api: 'answer', id: 1, value: true });
    const tap = await opening;
    const acks = () => worker.sent.filter((m) => m.api === 'tap-ack');
    const line = `${'z'.repeat(999)}\n`;
    for (let i = 0; i < 200; i++) worker.say({ api: 'tap-line', id: 1, line });
    expect(got).toHaveLength(200);
    // One acknowledgement per 64 KiB handed on (66 lines of 1000 bytes), not one per line.
    const per = Math.ceil(TAP_ACK_BYTES / 1000) * 1000;
    expect(acks()).toEqual([
      { api: 'tap-ack', id: 1, bytes: per },
      { api: 'tap-ack', id: 1, bytes: per },
      { api: 'tap-ack', id: 1, bytes: per },
    ]);
    // The reader is behind: nothing more is acknowledged, however much arrives.
    keepsUp = false;
    for (let i = 0; i < 100; i++) worker.say({ api: 'tap-line', id: 1, line });
    expect(acks()).toHaveLength(3);
    // It drained: all it was handed, at once.
    keepsUp = true;
    tap.drained();
    expect(acks().at(-1)).toEqual({ api: 'tap-ack', id: 1, bytes: 200 * 1000 - 3 * per + 100 * 1000 });
    tap.drained();
    expect(acks()).toHaveLength(4);
  });
});
