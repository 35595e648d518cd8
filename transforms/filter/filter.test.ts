import { describe, expect, it } from 'vitest';
import { metrics } from '../../core/metrics.js';
import { makeEvent } from '../../test/support/index.js';
import { FilterTransform, filterOptions } from './filter.js';

const filter = (o: Record<string, unknown>) => new FilterTransform('flt', filterOptions.parse(o));

async function discarded(reason: string): Promise<number> {
  const m = await metrics.getSingleMetric('sluice_transform_events_discarded_total')!.get();
  return m.values.find((v) => v.labels.component === 'transforms.flt' && v.labels.reason === reason)?.value ?? 0;
}

describe('filter', () => {
  const events = () => [
    makeEvent({ id: 'a', service: 'web', level: 'debug', message: 'GET /healthz 200' }),
    makeEvent({ id: 'b', service: 'web', level: 'info', message: 'GET /cart 200' }),
    makeEvent({ id: 'c', service: 'db', level: 'error', message: 'deadlock', fields: { team: 'storage-core' } }),
    makeEvent({ id: 'd', service: 'db', message: 'no level here' }),
  ];
  const ids = (es: { id: string }[]) => es.map((e) => e.id);

  it('drops by regex and keeps by glob, counting each reason', async () => {
    const before = { drop: await discarded('drop'), keep: await discarded('keep') };
    expect(ids(filter({ drop: { message: '/healthz/' } }).apply(events()))).toEqual(['b', 'c', 'd']);
    expect(ids(filter({ keep: { 'fields.team': 'storage-*' } }).apply(events()))).toEqual(['c']);
    expect((await discarded('drop')) - before.drop).toBe(1);
    expect((await discarded('keep')) - before.keep).toBe(3);
  });

  it('drops below a level, keeping events of no known level', () => {
    expect(ids(filter({ min_level: 'info' }).apply(events()))).toEqual(['b', 'c', 'd']);
    expect(ids(filter({ min_level: 'error' }).apply(events()))).toEqual(['c', 'd']);
  });

  it('combines conditions and scopes them with when', () => {
    expect(ids(filter({ when: { service: 'web' }, min_level: 'info', drop: { message: '*cart*' } }).apply(events()))).toEqual(['c', 'd']);
    expect(ids(filter({ keep: { level: ['error', '!debug'] } }).apply(events()))).toEqual(['c']);
  });

  it('returns the same array when nothing is dropped', () => {
    const batch = events();
    expect(filter({ drop: { service: 'nope' } }).apply(batch)).toBe(batch);
  });

  it('needs something to filter on', () => {
    expect(filterOptions.safeParse({}).error?.issues[0]?.message).toBe('nothing to filter on: give drop, keep and/or min_level');
    expect(filterOptions.safeParse({ drop: { colour: 'red' } }).error?.issues[0]?.message).toMatch(/unknown field "colour"/);
  });
});
