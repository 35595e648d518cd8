import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { FieldValue } from '../core/event.js';
import { compact, type Fields } from './paths.js';

/** compact() on `{}`, every key an own property (`__proto__` too): what the faster one must not differ from. */
function compactReference(fields: Fields): Fields {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

describe('compact', () => {
  it('gives what {} would, to every observer (3000 random field sets, holes, nesting and __proto__ included)', () => {
    let seed = 9;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const keys = ['time', 'level', 'msg', 'user', 'id', 'a.b', '0', '17', '__proto__', 'constructor', 'toString', 'x'];
    const values: (FieldValue | undefined)[] = [undefined, undefined, 'text', '', 0, 2.5, -1, true, null, { nested: 1 }, [1, 'a'], 2 ** 40];
    for (let k = 0; k < 3000; k++) {
      // As parse leaves them: JSON.parse makes "__proto__" an own key.
      const entries = Array.from({ length: random(12) }, () => [keys[random(keys.length)]!, values[random(values.length)]] as const);
      const fields = JSON.parse(`{${entries.map(([key]) => `${JSON.stringify(key)}:0`).join(',')}}`) as Record<
        string,
        FieldValue | undefined
      >;
      for (const [key, v] of entries)
        Object.defineProperty(fields, key, { value: v, writable: true, enumerable: true, configurable: true });
      const out = compact(fields as Fields);
      const ref = compactReference(fields as Fields);
      expect(Object.getPrototypeOf(out)).toBe(Object.getPrototypeOf(ref));
      expect(out.constructor).toBe(ref.constructor);
      expect(Object.keys(out)).toEqual(Object.keys(ref));
      expect(JSON.stringify(out)).toBe(JSON.stringify(ref));
      expect(inspect(out)).toBe(inspect(ref));
      expect(out).toStrictEqual(ref);
    }
  });

  it('keeps a __proto__ key as a key, not as the prototype', () => {
    const out = compact(JSON.parse('{"__proto__": {"x": 1}, "gone": null, "a": 2}'));
    expect(JSON.stringify(out)).toBe('{"__proto__":{"x":1},"gone":null,"a":2}');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect('x' in out).toBe(false);
  });
});
