import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import type { ChannelWriter } from '../../../core/pipeline.js';
import { DemoSource, demoSourceOptions } from './demo-source.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const unusedChannel = {} as ChannelWriter;
const T0 = Date.parse('2024-05-01T12:00:00Z');

function linesUnder(root: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const service of readdirSync(root))
    for (const name of readdirSync(join(root, service)))
      out[`${service}/${name}`] = readFileSync(join(root, service, name), 'utf8')
        .split('\n')
        .slice(0, -1);
  return out;
}

async function run(sub: string, options: object, seconds: number): Promise<DemoSource> {
  // interval at its maximum keeps the timer out of the way: the test drives writeDue itself.
  const source = new DemoSource(
    demoSourceOptions.parse({ dir: join(dir, sub), seed: 7, interval: '10s', ...options }),
    { name: 'demo', logger: silentLogger() },
    () => T0,
  );
  await source.start(unusedChannel);
  for (let s = 1; s <= seconds; s++) await source.writeDue(T0 + s * 1000);
  await source.stop();
  return source;
}

describe('demo source', () => {
  it('writes access, Java (with stack traces) and JSON logs per service and module, at the configured rate', async () => {
    const source = await run('a', { rate: 200, rotate_bytes: 0 }, 10);
    const files = linesUnder(join(dir, 'a'));
    expect(Object.keys(files).sort()).toEqual(['billing/api.log', 'billing/invoicing.log', 'shop/checkout.log', 'shop/web.log']);
    const total = Object.values(files).reduce((n, l) => n + l.length, 0);
    expect(total).toBe(source.written);
    // 200 lines/s for 10 s; an event is never split, so the last one may run a stack trace (at most 9 lines) over.
    expect(total).toBeGreaterThanOrEqual(2000);
    expect(total).toBeLessThanOrEqual(2008);
    for (const line of files['shop/web.log']!)
      expect(line).toMatch(
        /^\d+\.\d+\.\d+\.\d+ - - \[\d{4}-\d{2}-\d{2}T[\d:.]+\+00:00\] "(GET|POST) \S+ HTTP\/1\.1" \d{3} \d+ "-" ".+" \d\.\d{3}$/,
      );
    for (const line of files['billing/api.log']!)
      expect(JSON.parse(line)).toMatchObject({ logger: 'billing.api', level: expect.any(String), ts: expect.any(String) });
    const java = [...files['shop/checkout.log']!, ...files['billing/invoicing.log']!];
    const starts = java.filter((l) => /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} (INFO |WARN |ERROR) \[/.test(l));
    const traces = java.filter((l) => /^(\tat |Caused by: |\t\.\.\. \d+ more$|[a-z.]+\.[A-Za-z]+(Exception|Error): )/.test(l));
    expect(starts.length + traces.length).toBe(java.length);
    expect(traces.length).toBeGreaterThan(0);
  });

  it('rotates by rename + create, keeping the configured number of rotated files, losing no line', async () => {
    const source = await run('r', { rate: 2000, rotate_bytes: '16KiB', keep_rotated: 50 }, 10);
    expect(source.rotations).toBeGreaterThan(10);
    const files = linesUnder(join(dir, 'r'));
    expect(Object.keys(files)).toContain('shop/web.log.1');
    expect(Object.values(files).reduce((n, l) => n + l.length, 0)).toBe(source.written);

    const few = await run('k', { rate: 2000, rotate_bytes: '16KiB', keep_rotated: 2 }, 10);
    expect(few.rotations).toBeGreaterThan(10);
    expect(readdirSync(join(dir, 'k/shop')).sort()).toEqual([
      'checkout.log',
      'checkout.log.1',
      'checkout.log.2',
      'web.log',
      'web.log.1',
      'web.log.2',
    ]);
  });

  it('writes the same lines for the same seed and times', async () => {
    const times = [T0 + 1000, T0 + 2500];
    const outputs: Record<string, string[]>[] = [];
    for (const sub of ['x', 'y']) {
      const source = new DemoSource(
        demoSourceOptions.parse({ dir: join(dir, sub), seed: 42, rate: 100, interval: '10s' }),
        { name: 'demo', logger: silentLogger() },
        () => T0,
      );
      await source.start(unusedChannel);
      for (const t of times) await source.writeDue(t);
      await source.stop();
      outputs.push(linesUnder(join(dir, sub)));
    }
    expect(outputs[0]).toEqual(outputs[1]);
    expect(Object.values(outputs[0]!).reduce((n, l) => n + l.length, 0)).toBeGreaterThanOrEqual(250);
  });
});
