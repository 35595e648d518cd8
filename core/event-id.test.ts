import { describe, expect, it } from 'vitest';
import { FileEventIds, fileEventId } from './event-id.js';

describe('file event ids', () => {
  it('are the ids earlier versions gave, so a replay across an upgrade overwrites instead of duplicating', () => {
    // Computed by the implementation before this one (a string per digit).
    const file = '2049:1234567:9f86d081884c7d65';
    const ids = new FileEventIds(file);
    expect(ids.id(0)).toBe('MOCjX9knLqxJjIjPAAAAAAAAA');
    expect(ids.id(1)).toBe('MOCjX9knLqxJjIjPAAAAAAAAB');
    expect(ids.id(63)).toBe('MOCjX9knLqxJjIjPAAAAAAAA_');
    expect(ids.id(64)).toBe('MOCjX9knLqxJjIjPAAAAAAABA');
    expect(ids.id(1050000201)).toBe('MOCjX9knLqxJjIjPAAAA-lbtJ');
    expect(fileEventId('other', Number.MAX_SAFE_INTEGER)).toBe('CeHa3qFjgJIdezHnf________');
  });

  it('gives each id its own string, whatever the next one rewrites', () => {
    const ids = new FileEventIds('f');
    const first = ids.id(5);
    const second = ids.id(6);
    expect(first).not.toBe(second);
    expect(first.slice(-1)).toBe('F');
    expect(second.slice(-1)).toBe('G');
    expect(first).toHaveLength(25);
  });

  it('refuses an offset that is not a non-negative safe integer', () => {
    const ids = new FileEventIds('f');
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => ids.id(bad)).toThrow(/non-negative safe integer/);
  });
});
