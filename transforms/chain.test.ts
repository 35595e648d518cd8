import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../core/event.js';
import { metrics } from '../core/metrics.js';
import { captureLogger, makeEvent } from '../test/support/index.js';
import { TransformChain } from './chain.js';
import type { Transform } from './transform.js';

const step = (name: string, fn: (events: LogEvent[]) => LogEvent[]): Transform => ({ name, at: undefined, apply: fn });

async function count(metric: string, component: string): Promise<number> {
  const m = await metrics.getSingleMetric(metric)!.get();
  return m.values.find((v) => v.labels.component === component)?.value ?? 0;
}

describe('TransformChain', () => {
  it('detects levels first, then runs the steps in order, counting what each received and sent', async () => {
    const { logger } = captureLogger();
    const seen: string[] = [];
    const chain = new TransformChain(
      [
        step('c1', (es) => {
          seen.push(`c1:${es.map((e) => e.level).join(',')}`);
          return es.filter((e) => e.level !== 'debug');
        }),
        step('c2', (es) => {
          for (const e of es) e.fields.tagged = true;
          return es;
        }),
      ],
      { detectLevel: true, logger },
    );
    const out = chain.apply([
      makeEvent({ id: 'a', message: 'ERROR x' }),
      makeEvent({ id: 'b', message: 'DEBUG y' }),
      makeEvent({ id: 'c' }),
    ]);
    expect(seen).toEqual(['c1:error,debug,']);
    expect(out.map((e) => [e.id, e.fields.tagged])).toEqual([
      ['a', true],
      ['c', true],
    ]);
    expect(await count('sluice_transform_events_received_total', 'transforms.c1')).toBe(3);
    expect(await count('sluice_transform_events_sent_total', 'transforms.c1')).toBe(2);
    expect(await count('sluice_transform_events_received_total', 'transforms.c2')).toBe(2);
  });

  it('passes a batch on when a step throws, logging and counting the failure', async () => {
    const { logger, lines } = captureLogger();
    const chain = new TransformChain(
      [
        step('boom', () => {
          throw new Error('bug');
        }),
      ],
      { detectLevel: false, logger },
    );
    const batch = [makeEvent(), makeEvent({ id: 'e2' })];
    expect(chain.apply(batch)).toBe(batch);
    expect(lines).toEqual([expect.objectContaining({ msg: 'transform failed on a batch; passing it on', transform: 'boom', events: 2 })]);
    expect(await count('sluice_transform_failures_total', 'transforms.boom')).toBe(1);
  });
});
