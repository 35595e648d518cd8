import { EventEmitter } from 'node:events';
import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.js';
import { makeEvent, makeEvents } from '../test/support/index.js';
import { type GroupMember, groupApi, mergeReloads } from './group.js';
import { parsePrometheusText } from './prometheus.js';
import { Readiness } from './readiness.js';
import type { ReloadOutcome } from './server.js';
import { TapRequestError, Taps } from './tap.js';
import { type IpcPort, serveApiOverIpc, WorkerLink, WorkerUnavailable } from './worker-ipc.js';

/** Both ends of an IPC channel in one process: messages arrive later and as copies, as over a real one. */
function channel(): [IpcPort, IpcPort, { cut(): void }] {
  const a = new EventEmitter();
  const b = new EventEmitter();
  let cut = false;
  const end = (from: EventEmitter, to: EventEmitter): IpcPort => ({
    // A cut channel is a worker that stopped answering, not a closed one.
    connected: true,
    send: (m) => {
      const copy = structuredClone(m);
      if (!cut) setImmediate(() => to.emit('message', copy));
      return true;
    },
    on: (e, l) => from.on(e, l),
    off: (e, l) => from.off(e, l),
  });
  return [end(a, b), end(b, a), { cut: () => (cut = true) }];
}

/** A worker: its own readiness, taps and metrics, served over IPC as bin/operate.ts serves them. */
function worker(index: number, reload: () => Promise<ReloadOutcome> = async () => ({ result: 'unchanged', changes: [], problems: [] })) {
  const readiness = new Readiness(30_000);
  const taps = new Taps();
  taps.declare('routes.default');
  const registry = new Registry();
  const sent = new Counter({ name: 'sent_total', help: 'h', labelNames: ['component'], registers: [registry] });
  const lag = new Gauge({ name: 'lag', help: 'h', registers: [registry], aggregator: 'max' });
  const [supervisorEnd, workerEnd, link] = channel();
  const stop = serveApiOverIpc({ probes: readiness, taps, metrics: () => registry.getMetricsAsJSON(), reload }, workerEnd);
  const member: GroupMember = { index, state: 'running', pid: 1000 + index, restarts: 0, link: new WorkerLink(index, supervisorEnd, 200) };
  return { readiness, taps, sent, lag, member, stop, link };
}

function lines() {
  const got: string[] = [];
  let ended = false;
  let accept = true;
  return {
    got,
    get ended() {
      return ended;
    },
    block: (v: boolean) => (accept = !v),
    out: {
      write: (l: string) => {
        got.push(l);
        return accept;
      },
      end: () => {
        ended = true;
      },
    },
  };
}

describe('the api of a collector group', () => {
  it('sums counters, applies a gauge aggregator, and counts its workers by state', async () => {
    const w = [worker(0), worker(1)];
    w[0]!.sent.inc({ component: 'sinks.out' }, 30);
    w[1]!.sent.inc({ component: 'sinks.out' }, 12);
    w[0]!.lag.set(5);
    w[1]!.lag.set(7);
    const starting = { index: 2, state: 'starting', restarts: 1 } as GroupMember;
    const api = groupApi({ members: () => [w[0]!.member, w[1]!.member, starting] }, { role: 'collector' }, silentLogger());
    const families = parsePrometheusText((await api.metrics()).body);
    expect(families.get('sent_total')!.samples).toEqual([expect.objectContaining({ labels: { component: 'sinks.out' }, value: 42 })]);
    expect(families.get('lag')!.samples[0]!.value).toBe(7);
    expect(families.get('sluice_collector_workers')!.samples.map((s) => [s.labels.state, s.value])).toEqual([
      ['starting', 1],
      ['running', 2],
      ['restarting', 0],
    ]);
    expect(families.get('sluice_collector_worker_restarts_total')!.samples[0]!.value).toBe(1);
  });

  it('never lets a counter of the group go down: a restarted worker adds to what its predecessor counted, a silent one counts its last answer', async () => {
    const w = [worker(0), worker(1)];
    const members = [w[0]!.member, w[1]!.member];
    const api = groupApi({ members: () => members }, {}, silentLogger());
    const sent = async () => parsePrometheusText((await api.metrics()).body).get('sent_total')!.samples[0]!.value;
    w[0]!.sent.inc({ component: 'sinks.out' }, 30);
    w[1]!.sent.inc({ component: 'sinks.out' }, 12);
    expect(await sent()).toBe(42);
    // Worker 1 stops answering: its last answer still counts.
    w[1]!.link.cut();
    w[0]!.sent.inc({ component: 'sinks.out' }, 1);
    expect(await sent()).toBe(43);
    // Its process is replaced: the new one counts from 0, on top of the old one's 12.
    const again = worker(1);
    again.member.pid = 2001;
    again.member.restarts = 1;
    members[1] = again.member;
    again.sent.inc({ component: 'sinks.out' }, 3);
    expect(await sent()).toBe(46);
    again.sent.inc({ component: 'sinks.out' }, 1);
    expect(await sent()).toBe(47);
  });

  it('merges components by name, worst state first, and says which worker is not ready', async () => {
    const w = [worker(0), worker(1)];
    for (const x of w) {
      x.readiness.add('sinks.es', 'sink', 'elasticsearch', 'grace').running();
      x.readiness.add('bus', 'bus', 'kafka', 'must-run').running();
      x.readiness.pipelineRunning();
    }
    w[1]!.readiness.get('bus')!.failed(new Error('kafka unreachable'));
    const restarting = { index: 2, state: 'restarting', restarts: 1 } as GroupMember;
    const api = groupApi({ members: () => [w[0]!.member, w[1]!.member, restarting] }, {}, silentLogger());
    const ready = await api.probes.readiness();
    expect(ready.status).toBe('not ready');
    expect(ready.reasons).toEqual(['worker 1: bus failing for 0s: kafka unreachable', 'worker 2 is restarting']);
    expect(ready.components).toEqual([
      expect.objectContaining({ component: 'sinks.es', state: 'running', ready: true, workers: { 0: 'running', 1: 'running' } }),
      expect.objectContaining({
        component: 'bus',
        state: 'failing',
        ready: false,
        error: 'worker 1: kafka unreachable',
        failures: 1,
        workers: { 0: 'running', 1: 'failing' },
      }),
    ]);
    // Health: a worker being restarted is the supervisor's business, not a reason to restart the group.
    expect(await api.probes.health()).toMatchObject({ status: 'ok', reasons: [] });
    w[0]!.readiness.get('sinks.es')!.crashed(new Error('cannot open'));
    expect(await api.probes.health()).toMatchObject({ status: 'unhealthy', reasons: ['worker 0: sinks.es crashed: cannot open'] });
  });

  it('a worker that does not answer is a reason, after the timeout, in both probes', async () => {
    const w = [worker(0), worker(1)];
    for (const x of w) x.readiness.pipelineRunning();
    w[1]!.link.cut();
    const api = groupApi({ members: () => [w[0]!.member, w[1]!.member] }, {}, silentLogger());
    expect(await api.probes.readiness()).toMatchObject({ status: 'not ready', reasons: ['worker 1 did not answer within 0.2s'] });
    expect(await api.probes.health()).toMatchObject({ status: 'unhealthy', reasons: ['worker 1 did not answer within 0.2s'] });
    // Its metrics are left out of the scrape, not the scrape failed.
    w[0]!.sent.inc({ component: 'x' }, 3);
    expect(parsePrometheusText((await api.metrics()).body).get('sent_total')!.samples[0]!.value).toBe(3);
  });

  it('a worker that exits fails what waits on it and ends its open taps, once', async () => {
    const w = worker(0);
    const open = lines();
    await w.member.link!.tap({ components: [], rate: 10 }, open.out);
    w.link.cut();
    const pending = w.member.link!.call('readiness');
    const opening = lines();
    const tap = w.member.link!.tap({ components: [], rate: 10 }, opening.out);
    w.member.link!.exited('exited on SIGKILL');
    await expect(pending).rejects.toThrow(new WorkerUnavailable('worker 0 exited on SIGKILL'));
    await expect(w.member.link!.call('metrics')).rejects.toThrow('worker 0 exited on SIGKILL');
    expect(open.ended).toBe(true);
    // A tap still opening fails instead: ending it too would count its worker out twice.
    await expect(tap).rejects.toThrow('worker 0 exited on SIGKILL');
    expect(opening.ended).toBe(false);
  });

  it('taps every worker within the rate and limit, ends at the limit, and stops a worker at its credit while the reader is behind', async () => {
    const w = [worker(0), worker(1)];
    const api = groupApi({ members: () => [w[0]!.member, w[1]!.member] }, {}, silentLogger());
    const c = lines();
    const sub = await api.taps.subscribe({ components: ['routes.*'], rate: 10, limit: 8 }, c.out);
    // Each worker got half the rate: 5 events a second.
    w[0]!.taps.publish('routes.default', makeEvents(8));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(c.got.filter((l) => l.includes('"event"'))).toHaveLength(5);
    expect(c.ended).toBe(false);
    // The reader is behind: its lines are not acknowledged, so worker 1 sends what its credit
    // holds (two lines of 100 KiB), then skips and counts.
    c.block(true);
    const big = Array.from({ length: 4 }, (_, i) => makeEvent({ id: `big${i}`, message: 'x'.repeat(100 * 1024) }));
    w[1]!.taps.publish('routes.default', big);
    await new Promise((r) => setTimeout(r, 10));
    expect(c.got.filter((l) => l.includes('"event"'))).toHaveLength(7);
    c.block(false);
    sub.drained();
    await new Promise((r) => setTimeout(r, 10));
    // Worker 1 says how many it missed as soon as the reader caught up.
    expect(c.got.at(-1)).toBe('{"dropped":2}\n');
    w[1]!.taps.publish('routes.default', makeEvents(1));
    await new Promise((r) => setTimeout(r, 10));
    // Then the 8th event, and the end.
    expect(c.got.slice(-2)).toEqual(['{"dropped":2}\n', expect.stringContaining('"event"')]);
    expect(c.ended).toBe(true);
    await new Promise((r) => setTimeout(r, 10));
    expect(w[0]!.taps.listening('routes.default')).toBe(false);
    expect(w[1]!.taps.listening('routes.default')).toBe(false);
  });

  it('a tap on a name no worker has is their 400, with the tap points', async () => {
    const w = [worker(0), worker(1)];
    const api = groupApi({ members: () => [w[0]!.member, w[1]!.member] }, {}, silentLogger());
    const c = lines();
    const refused = api.taps.subscribe({ components: ['sinks.nope'], rate: 10 }, c.out);
    await expect(refused).rejects.toBeInstanceOf(TapRequestError);
    await expect(refused).rejects.toMatchObject({ tapPoints: ['routes.default'] });
  });

  it('reloads every worker and answers with theirs when they agree, failed when they do not', async () => {
    const applied: ReloadOutcome = { result: 'applied', changes: ['sinks.es changed'], problems: [] };
    const w = [worker(0, async () => applied), worker(1, async () => applied)];
    const api = groupApi({ members: () => [w[0]!.member, w[1]!.member] }, {}, silentLogger());
    expect(await api.reload()).toEqual(applied);
    // A worker restarted after the file changed already runs it.
    expect(
      mergeReloads([
        { index: 0, outcome: applied },
        { index: 1, outcome: { result: 'unchanged', changes: [], problems: [] } },
      ]),
    ).toEqual(applied);
    expect(
      mergeReloads([
        { index: 0, outcome: applied },
        { index: 1, outcome: { result: 'failed', changes: [], problems: [], error: 'sinks.es: cannot open' } },
      ]),
    ).toEqual({
      result: 'failed',
      changes: ['sinks.es changed'],
      problems: [],
      error: 'the workers did not all apply the reload: worker 0 applied; worker 1 failed: sinks.es: cannot open',
    });
  });
});
