import { describe, expect, it } from 'vitest';
import { makeEvent, wallClock } from '../../test/support/index.js';
import { ZonedClock } from './clock.js';
import { EventTemplate } from './render.js';

const event = (timestamp: number) => makeEvent({ timestamp });

describe('ZonedClock', () => {
  // Reference: Intl, formatted per timestamp (what the cache must agree with everywhere, DST changes included).
  const clocks = new Map<string, ReturnType<typeof wallClock>>();
  const reference = (tz: string, ms: number) => {
    let clock = clocks.get(tz);
    if (!clock) clocks.set(tz, (clock = wallClock(tz)));
    const p = clock(ms);
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  };

  for (const tz of ['UTC', 'Asia/Kolkata', 'America/Los_Angeles', 'Europe/Berlin', 'America/St_Johns', 'Australia/Lord_Howe']) {
    it(`formats like Intl in ${tz}, across DST changes, every 4 minutes around them`, () => {
      const t = new EventTemplate('%Y-%m-%d %H:%M:%S', { timeZone: tz });
      const starts = [
        Date.UTC(2024, 2, 9, 0),
        Date.UTC(2024, 2, 30, 20),
        Date.UTC(2024, 3, 6, 10),
        Date.UTC(2024, 9, 5, 10),
        Date.UTC(2024, 10, 2, 20),
      ];
      let checked = 0;
      for (const start of starts) {
        for (let ms = start; ms < start + 2 * 86_400_000; ms += 239_999) {
          expect(t.render(event(ms))).toBe(reference(tz, ms));
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(3000);
    });
  }

  it('rejects an unknown time zone', () => {
    expect(() => new ZonedClock('Mars/Olympus')).toThrow(/unknown time zone "Mars\/Olympus"/);
  });
});
