import { describe, expect, it } from 'vitest';
import { Readiness } from './readiness.js';

describe('readiness model', () => {
  let now = 1_000_000;
  const clock = () => now;

  it('is not ready while starting, then ready with every component listed', () => {
    const r = new Readiness(30_000, clock);
    const channel = r.add('channel', 'channel', 'disk', 'must-run');
    r.add('sources.app', 'source', 'file', 'informative').running();
    expect(r.readiness()).toMatchObject({ status: 'not ready', reasons: ['the pipeline is starting', 'channel is starting'] });
    channel.running();
    r.pipelineRunning();
    const answer = r.readiness();
    expect(answer.status).toBe('ok');
    expect(answer.components.map((c) => [c.component, c.state, c.ready])).toEqual([
      ['channel', 'running', true],
      ['sources.app', 'running', true],
    ]);
  });

  it('a failing sink keeps it ready for ready_failing_after, then says which sink and why', () => {
    const r = new Readiness(30_000, clock);
    r.pipelineRunning();
    const sink = r.add('sinks.es', 'sink', 'elasticsearch', 'grace');
    sink.running();
    sink.failed(new Error('connect ECONNREFUSED'));
    now += 20_000;
    sink.failed(new Error('connect ECONNREFUSED'));
    expect(r.readiness().status).toBe('ok');
    now += 11_000;
    expect(r.readiness()).toMatchObject({ status: 'not ready', reasons: ['sinks.es failing for 31s: connect ECONNREFUSED'] });
    expect(r.readiness().components[0]).toMatchObject({ state: 'failing', failures: 2, error: 'connect ECONNREFUSED', ready: false });
    sink.ok();
    expect(r.readiness().status).toBe('ok');
  });

  it('the bus must run: not ready as soon as it fails, ready again when it is back', () => {
    const r = new Readiness(30_000, clock);
    r.pipelineRunning();
    const bus = r.add('bus', 'bus', 'kafka', 'must-run');
    bus.ok();
    expect(r.readiness().status).toBe('ok');
    bus.failed(new Error('kafka unreachable'));
    expect(r.readiness().reasons).toEqual(['bus failing for 0s: kafka unreachable']);
    bus.ok();
    expect(r.readiness().status).toBe('ok');
  });

  it('health is ok unless a component crashed; stopping is not ready but still healthy', () => {
    const r = new Readiness(30_000, clock);
    r.pipelineRunning();
    const src = r.add('sources.app', 'source', 'file', 'informative');
    src.running();
    r.pipelineStopping();
    expect(r.health().status).toBe('ok');
    expect(r.readiness().reasons).toEqual(['the pipeline is stopping']);
    src.crashed(new Error('checkpoint belongs to another source'));
    expect(r.health()).toMatchObject({ status: 'unhealthy', reasons: ['sources.app crashed: checkpoint belongs to another source'] });
  });

  it('keeps a component registered again under the same id and kind (a reload that keeps it)', () => {
    const r = new Readiness(30_000, clock);
    const a = r.add('sinks.out', 'sink', 'file', 'grace');
    expect(r.add('sinks.out', 'sink', 'file', 'grace')).toBe(a);
    expect(r.add('sinks.out', 'sink', 'console', 'grace')).not.toBe(a);
  });
});
