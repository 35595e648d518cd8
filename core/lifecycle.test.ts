import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { captureLogger } from '../test/support/index.js';
import { REPEAT_WINDOW_MS, stopOnSignals } from './lifecycle.js';

/** A process stand-in: signals are emitted by the test, exits are recorded. */
function fakeProcess() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  const clock = { ms: 0 };
  return {
    target: {
      on: (s: 'SIGINT' | 'SIGTERM', l: (s: NodeJS.Signals) => void) => emitter.on(s, l),
      exit: (code: number) => void exits.push(code),
      now: () => clock.ms,
    },
    signal: (s: NodeJS.Signals) => emitter.emit(s, s),
    exits,
    clock,
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('stopOnSignals', () => {
  it('stops a pipeline signalled while it was starting as soon as it is up, and exits 0', async () => {
    const { logger, lines } = captureLogger();
    const p = fakeProcess();
    const signals = stopOnSignals(logger, p.target);
    p.signal('SIGTERM');
    await settle();
    expect(p.exits).toEqual([]);
    let stopped = 0;
    signals.started(async () => void stopped++);
    await settle();
    expect(stopped).toBe(1);
    expect(p.exits).toEqual([0]);
    expect(lines.filter((l) => l.msg === 'stopping (send the signal again to exit at once)')).toMatchObject([
      { signal: 'SIGTERM', starting: true },
    ]);
  });

  it('stops a running pipeline once; a second signal exits at once with 130', async () => {
    const { logger, lines } = captureLogger();
    const p = fakeProcess();
    const signals = stopOnSignals(logger, p.target);
    let stopped = 0;
    signals.started(() => {
      stopped++;
      return new Promise<void>(() => {}); // draining, never done
    });
    p.signal('SIGINT');
    p.clock.ms += REPEAT_WINDOW_MS;
    p.signal('SIGTERM');
    await settle();
    expect(stopped).toBe(1);
    expect(p.exits).toEqual([130]);
    expect(lines.map((l) => l.msg)).toEqual([
      'stopping (send the signal again to exit at once)',
      'second signal: exiting now; buffered data stays on disk for the next start',
    ]);
  });

  it('takes a signal repeated within the window as the same stop (systemd signals the launcher and the pipeline process both)', async () => {
    const { logger, lines } = captureLogger();
    const p = fakeProcess();
    const signals = stopOnSignals(logger, p.target);
    let finish: () => void = () => {};
    let stopped = 0;
    signals.started(() => {
      stopped++;
      return new Promise<void>((r) => (finish = r));
    });
    p.signal('SIGTERM');
    p.clock.ms += 3;
    p.signal('SIGTERM');
    p.clock.ms += REPEAT_WINDOW_MS - 10;
    p.signal('SIGINT');
    await settle();
    expect(stopped).toBe(1);
    expect(p.exits).toEqual([]);
    finish();
    await settle();
    expect(p.exits).toEqual([0]);
    expect(lines.map((l) => [l.msg, l.after_ms])).toEqual([
      ['stopping (send the signal again to exit at once)', undefined],
      ['signal repeated at once: taken as the same stop', 3],
      ['signal repeated at once: taken as the same stop', REPEAT_WINDOW_MS - 7],
    ]);
  });

  it('exits 1 with the reason when stopping fails', async () => {
    const { logger, lines } = captureLogger();
    const p = fakeProcess();
    stopOnSignals(logger, p.target).started(async () => {
      throw new Error('sink flush failed');
    });
    p.signal('SIGTERM');
    await settle();
    expect(p.exits).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({ msg: 'error while stopping', err: 'sink flush failed' });
  });
});
