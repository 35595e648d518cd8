import { EventEmitter } from 'node:events';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../config/load.js';
import { captureLogger } from '../test/support/index.js';
import { createRegistry } from './components.js';

// The supervisor's restart rules, with fork() faked: how each worker ends is the test's
// (a crash loop, a fork the kernel refuses), which real processes cannot do on cue.

class FakeWorker extends EventEmitter {
  pid: number | undefined;
  connected = true;
  constructor(pid: number | undefined) {
    super();
    this.pid = pid;
  }
  kill(): boolean {
    setImmediate(() => this.emit('exit', 0, null));
    return true;
  }
  send(): boolean {
    return true;
  }
}

/** What each fork() call does with the worker it makes, in call order; the last one repeats. */
let plans: ((w: FakeWorker) => void)[] = [];
const forks: { at: number; worker: FakeWorker }[] = [];

vi.mock('node:child_process', async (original) => ({
  ...(await original<typeof import('node:child_process')>()),
  fork: () => {
    const plan = plans[Math.min(forks.length, plans.length - 1)]!;
    const worker = new FakeWorker(plan === refused ? undefined : 1000 + forks.length);
    forks.push({ at: Date.now(), worker });
    setImmediate(() => plan(worker));
    return worker;
  },
}));

const { superviseWorkers } = await import('./workers.js');

const started = (w: FakeWorker) => w.emit('message', { started: true });
/** Starts, then dies 50 ms later: a worker that crashes on a batch it reads again each time. */
const crashes = (w: FakeWorker) => {
  started(w);
  setTimeout(() => w.emit('exit', 1, null), 50);
};
const refused = (w: FakeWorker) => w.emit('error', Object.assign(new Error('spawn EAGAIN'), { code: 'EAGAIN' }));

const config = parseConfig(
  ['bus:', '  type: kafka', 'sinks:', '  out:', '    type: console', 'api: { enabled: false }', ''].join('\n'),
  'p.yaml',
  createRegistry(),
  {},
);
const about = { name: 'sluice', version: 't', role: 'collector', config: 'p.yaml', pid: 1 };

beforeEach(() => {
  plans = [];
  forks.length = 0;
});

describe('collector worker supervisor', () => {
  it('waits longer and longer before restarting a worker that keeps dying soon after it started', async () => {
    plans = [crashes];
    // The jitter at its least: the waits are half their ceilings, 0.5, 1 and 2 s. (Drawn, the
    // third could be 2 s and the first 1 s, and a loaded machine's pauses then decide.)
    const random = vi.spyOn(Math, 'random').mockReturnValue(0);
    try {
      const { logger } = captureLogger();
      const supervised = await superviseWorkers(1, ['collector'], logger, { config, about });
      await vi.waitFor(() => expect(forks.length).toBeGreaterThanOrEqual(4), { timeout: 20_000, interval: 50 });
      const gaps = forks.slice(1).map((f, i) => f.at - forks[i]!.at);
      // Each wait's ceiling doubles: the third gap is 1.5 s longer than the first.
      expect(gaps[2]!).toBeGreaterThan(gaps[0]! + 750);
      expect(await supervised.stop()).toBe(0);
    } finally {
      random.mockRestore();
    }
  }, 30_000);

  it('takes a fork the kernel refuses as an exit: tried again, and a stop does not wait for it', async () => {
    plans = [started, refused, started];
    const { logger, lines } = captureLogger();
    const supervised = await superviseWorkers(1, ['collector'], logger, { config, about });
    forks[0]!.worker.emit('exit', 1, null);
    await vi.waitFor(() => expect(forks.length).toBe(3), { timeout: 10_000, interval: 50 });
    expect(lines.map((l) => l.msg)).toContain('collector worker could not be started; trying again');
    const stopping = supervised.stop();
    await expect(stopping).resolves.toBeTypeOf('number');
  }, 30_000);
});
