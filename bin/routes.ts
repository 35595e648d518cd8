import type { LogEvent } from '../core/event.js';
import { Router, type Routed, type Routes } from '../collector/router/router.js';
import type { Taps } from '../api/tap.js';
import type { ComponentMeter } from './instrument.js';

/**
 * The router with its metrics (received: events routed; sent: copies handed to sinks, so
 * fan-out counts each copy) and its tap points, one per route:
 *
 *   routes.<rule name>  (routes.#2 for an unnamed second rule)
 *   routes.default      events no rule took, going to the default sinks
 *   routes.unrouted     events no rule took and no default: the dead-letter
 *
 * Which rule took an event is worked out only while someone taps a route, and only for
 * the events of that batch: the router itself does not keep it.
 */
export class MeteredRouter extends Router {
  private readonly ruleTaps: { point: string; single: Router; continue: boolean }[];
  readonly tapPoints: string[];
  private readonly hasDefault: boolean;

  constructor(
    routes: Routes | undefined,
    sinkNames: readonly string[],
    private readonly meter: ComponentMeter,
    private readonly taps: Taps,
  ) {
    super(routes, sinkNames);
    this.ruleTaps = (routes?.rules ?? []).map((rule, i) => ({
      point: `routes.${rule.name ?? `#${i + 1}`}`,
      single: new Router({ rules: [{ ...rule, continue: false }] }, sinkNames),
      continue: rule.continue,
    }));
    this.hasDefault = routes === undefined || routes.default !== undefined;
    this.tapPoints = [...this.ruleTaps.map((r) => r.point), this.hasDefault ? 'routes.default' : 'routes.unrouted'];
  }

  override route(events: readonly LogEvent[]): Routed {
    const routed = super.route(events);
    this.meter.received(events);
    for (const list of routed.bySink.values()) this.meter.sent(list);
    if (this.tapPoints.some((p) => this.taps.listening(p))) this.publish(events);
    return routed;
  }

  private publish(events: readonly LogEvent[]): void {
    const byPoint = new Map<string, LogEvent[]>();
    const add = (point: string, e: LogEvent) => {
      let list = byPoint.get(point);
      if (!list) byPoint.set(point, (list = []));
      list.push(e);
    };
    for (const event of events) {
      let taken = false;
      for (const rule of this.ruleTaps) {
        if (rule.single.route([event]).unrouted.length > 0) continue;
        add(rule.point, event);
        taken = true;
        if (!rule.continue) break;
      }
      if (!taken) add(this.hasDefault ? 'routes.default' : 'routes.unrouted', event);
    }
    for (const [point, list] of byPoint) this.taps.publish(point, list);
  }
}
