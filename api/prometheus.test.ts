import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText, PrometheusParseError, samples, sum } from './prometheus.js';

describe('Prometheus text format reader', () => {
  it('reads what prom-client writes: counters with escaped labels, histograms, HELP and TYPE', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'x_total', help: 'a "help" with \\ and\nnewline', labelNames: ['a', 'b'], registers: [registry] });
    c.inc({ a: 'quote " backslash \\ newline \n end', b: 'é' }, 3);
    c.inc({ a: 'plain', b: '' }, 0.5);
    const h = new Histogram({ name: 'lat_seconds', help: 'latency', labelNames: ['c'], buckets: [0.1, 1], registers: [registry] });
    h.observe({ c: 'one' }, 0.05);
    h.observe({ c: 'one' }, 0.5);
    h.observe({ c: 'one' }, 5);
    const families = parsePrometheusText(await registry.metrics());
    expect(families.get('x_total')).toMatchObject({ type: 'counter', help: 'a "help" with \\ and\nnewline' });
    expect(samples(families, 'x_total', { a: 'quote " backslash \\ newline \n end' })).toEqual([
      { name: 'x_total', labels: { a: 'quote " backslash \\ newline \n end', b: 'é' }, value: 3 },
    ]);
    expect(sum(families, 'x_total')).toBe(3.5);
    expect(families.get('lat_seconds')!.type).toBe('histogram');
    expect(samples(families, 'lat_seconds_bucket', { c: 'one' }).map((s) => [s.labels.le, s.value])).toEqual([
      ['0.1', 1],
      ['1', 2],
      ['+Inf', 3],
    ]);
    expect(sum(families, 'lat_seconds_count')).toBe(3);
    expect(sum(families, 'lat_seconds_sum')).toBeCloseTo(5.55);
  });

  it('reads special values and timestamps, skips comments', () => {
    const f = parsePrometheusText('# a comment\nup 1 1700000000000\nnan NaN\nnan2 Nan\ninf +Inf\nneg -Inf\nsci 1.5e3\n');
    expect([...f.values()].map((x) => [x.name, x.samples[0]!.value])).toEqual([
      ['up', 1],
      ['nan', Number.NaN],
      ['nan2', Number.NaN],
      ['inf', Number.POSITIVE_INFINITY],
      ['neg', Number.NEGATIVE_INFINITY],
      ['sci', 1500],
    ]);
  });

  it('names the line of what it cannot read', () => {
    expect(() => parsePrometheusText('ok 1\nbad{a="x} 1\n')).toThrow(PrometheusParseError);
    expect(() => parsePrometheusText('ok 1\nbad{a="x} 1\n')).toThrow(/^line 2: /);
    expect(() => parsePrometheusText('x{a="\\q"} 1\n')).toThrow(/invalid escape/);
    expect(() => parsePrometheusText('x one\n')).toThrow(/invalid value/);
  });
});
