import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../core/event.js';
import { makeEvents } from '../test/support/index.js';
import { TapRequestError, Taps } from './tap.js';

function collector() {
  const lines: Record<string, unknown>[] = [];
  let ended = false;
  let accept = true;
  return {
    lines,
    get ended() {
      return ended;
    },
    block(v: boolean) {
      accept = !v;
    },
    out: {
      write: (line: string) => {
        lines.push(JSON.parse(line));
        return accept;
      },
      end: () => {
        ended = true;
      },
    },
  };
}

/** The events of a batch, counting how many of them are read (a subscriber that reads each pays per event). */
function readsCounted(list: LogEvent[]): { events: readonly LogEvent[]; reads: () => number } {
  let reads = 0;
  const events = new Proxy(list, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { events, reads: () => reads };
}

describe('taps', () => {
  it('costs nothing while nobody listens, and listens only to what was asked', () => {
    const taps = new Taps();
    taps.declare('sources.a');
    taps.declare('sources.b');
    taps.declare('routes.errors');
    expect(taps.listening('sources.a')).toBe(false);
    const c = collector();
    taps.subscribe({ components: ['sources.*'], rate: 100 }, c.out);
    expect(['sources.a', 'sources.b', 'routes.errors'].map((p) => taps.listening(p))).toEqual([true, true, false]);
    taps.publish('sources.a', makeEvents(2));
    taps.publish('routes.errors', makeEvents(2));
    expect(c.lines.map((l) => [l.component, (l.event as { id: string }).id])).toEqual([
      ['sources.a', 'e0'],
      ['sources.a', 'e1'],
    ]);
  });

  it('matches globs piece by piece: a pattern of many stars that matches nothing is answered at once', () => {
    const taps = new Taps();
    for (const p of ['sources.app', 'sinks.search.bulk', 'routes.errors']) taps.declare(p);
    // As a regular expression (.*.*.*…!) this backtracked exponentially, on the pipeline's thread.
    expect(() => taps.subscribe({ components: [`${'*'.repeat(40)}!`], rate: 1 }, collector().out)).toThrow(TapRequestError);
    const c = collector();
    taps.subscribe({ components: ['s*.*a*'], rate: 1 }, c.out);
    expect(['sources.app', 'sinks.search.bulk', 'routes.errors'].map((p) => taps.listening(p))).toEqual([true, true, false]);
  });

  it('refuses a name that matches no tap point, listing them', () => {
    const taps = new Taps();
    taps.declare('sources.app');
    expect(() => taps.subscribe({ components: ['sources.ap'], rate: 1 }, collector().out)).toThrow(TapRequestError);
    expect(() => taps.subscribe({ components: ['sources.ap'], rate: 1 }, collector().out)).toThrow('tap points: sources.app');
  });

  it('samples by a token bucket per component and says how many it skipped', () => {
    let now = 0;
    const taps = new Taps(() => now);
    taps.declare('sources.a');
    const c = collector();
    taps.subscribe({ components: [], rate: 10 }, c.out);
    taps.publish('sources.a', makeEvents(25));
    expect(c.lines).toHaveLength(10);
    now += 500; // half a second: 5 more
    taps.publish('sources.a', makeEvents(25, {}, 'x'));
    expect(c.lines[10]).toEqual({ component: 'sources.a', skipped: 15 });
    expect(c.lines.slice(11).map((l) => (l.event as { id: string }).id)).toEqual(['x0', 'x1', 'x2', 'x3', 'x4']);
  });

  it('ends the stream at the limit and stops listening', () => {
    const taps = new Taps();
    taps.declare('sources.a');
    const c = collector();
    taps.subscribe({ components: ['sources.a'], rate: 100, limit: 3 }, c.out);
    taps.publish('sources.a', makeEvents(10));
    expect(c.lines).toHaveLength(3);
    expect(c.ended).toBe(true);
    expect(taps.listening('sources.a')).toBe(false);
  });

  it('a reader that is behind costs one addition per batch, and is told how many it missed as soon as it caught up', () => {
    const taps = new Taps();
    taps.declare('sources.a');
    const c = collector();
    const sub = taps.subscribe({ components: ['sources.a'], rate: 10_000 }, c.out);
    c.block(true);
    taps.publish('sources.a', makeEvents(5));
    expect(c.lines).toEqual([expect.objectContaining({ component: 'sources.a', event: expect.objectContaining({ id: 'e0' }) })]);
    const batch = readsCounted(makeEvents(1000, {}, 'b'));
    taps.publish('sources.a', batch.events);
    expect(batch.reads()).toBe(0);
    expect(c.lines).toHaveLength(1);
    c.block(false);
    sub.drained();
    // Told at once, not with the next event: a component gone quiet still says what was missed.
    expect(c.lines.slice(1)).toEqual([{ dropped: 1004 }]);
    taps.publish('sources.a', makeEvents(1, {}, 'y'));
    expect(c.lines.slice(2)).toEqual([expect.objectContaining({ component: 'sources.a', event: expect.objectContaining({ id: 'y0' }) })]);
    sub.drained();
    expect(c.lines).toHaveLength(3);
  });

  it('an output without room refuses a line: its event counts as dropped, and a refused notice keeps its count whole', () => {
    let now = 0;
    const taps = new Taps(() => now);
    taps.declare('sources.a');
    const lines: Record<string, unknown>[] = [];
    let room = 2;
    const sub = taps.subscribe(
      { components: [], rate: 3 },
      {
        write: (line) => {
          if (room === 0) return 'refused';
          room--;
          lines.push(JSON.parse(line));
          return true;
        },
        end: () => {},
      },
    );
    // Two events fit; the third is refused (not sent, no token spent): it and the rest are dropped.
    taps.publish('sources.a', makeEvents(5));
    expect(lines.map((l) => (l.event as { id: string }).id)).toEqual(['e0', 'e1']);
    taps.publish('sources.a', makeEvents(4, {}, 'b'));
    // Caught up without room for the notice: it waits with its count.
    sub.drained();
    expect(lines).toHaveLength(2);
    taps.publish('sources.a', makeEvents(1, {}, 'c'));
    room = 1;
    sub.drained();
    expect(lines[2]).toEqual({ dropped: 8 });
    // One token left: d0 goes, 3 are skipped.
    room = 10;
    taps.publish('sources.a', makeEvents(4, {}, 'd'));
    // A second later the notice of those is refused: the batch is dropped, the skipped count kept.
    now += 1000;
    room = 0;
    taps.publish('sources.a', makeEvents(5, {}, 'e'));
    room = 10;
    sub.drained();
    taps.publish('sources.a', makeEvents(1, {}, 'f'));
    expect(lines.slice(3)).toEqual([
      expect.objectContaining({ event: expect.objectContaining({ id: 'd0' }) }),
      { dropped: 5 },
      { component: 'sources.a', skipped: 3 },
      expect.objectContaining({ event: expect.objectContaining({ id: 'f0' }) }),
    ]);
  });

  it('reads no event of a batch beyond the sampling budget', () => {
    const taps = new Taps(() => 0);
    taps.declare('sources.a');
    const c = collector();
    taps.subscribe({ components: [], rate: 10 }, c.out);
    const batch = readsCounted(makeEvents(1000));
    taps.publish('sources.a', batch.events);
    expect(batch.reads()).toBe(10);
    taps.publish('sources.a', batch.events);
    expect(batch.reads()).toBe(10);
    expect(c.lines).toHaveLength(10);
  });

  it('a tap point declared later (a reload added a source) is heard by a glob', () => {
    const taps = new Taps();
    taps.declare('sources.a');
    const c = collector();
    taps.subscribe({ components: ['sources.*'], rate: 100 }, c.out);
    taps.declare('sources.new');
    expect(taps.listening('sources.new')).toBe(true);
  });
});
