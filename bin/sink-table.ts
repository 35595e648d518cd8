import type { Logger } from '../core/log.js';
import type { Sink } from '../core/pipeline.js';
import type { ComponentConfig } from '../config/load.js';
import type { RoutesConfig } from '../config/routing.js';
import type { Collector, NamedSink } from '../collector/collector.js';
import type { Readiness } from '../api/readiness.js';
import type { Taps } from '../api/tap.js';
import type { MeteredConsumer } from './consumer-gate.js';
import { ComponentMeter } from './instrument.js';
import type { ComponentDiff } from './reload-plan.js';
import { MeteredRouter } from './routes.js';
import { makeSinkSlot, SinkSlot } from './sink-slot.js';

/**
 * The collector side's sinks and router, as the runtime keeps them across reloads.
 *
 * A reload first builds the new and changed sinks and opens the new ones (`prepare`: a
 * sink that cannot be built or opened fails the reload with nothing changed). `commit`
 * then replaces the changed ones one by one — each closed before its successor opens on
 * the same destination, the previous options restored if the new ones do not open — and
 * only once they all took swaps the new sinks and routes in between two batches. Batches
 * routed before the swap may still be writing, or retrying, to a sink the reload removed:
 * that sink stays reachable by them and is closed once they are all written and acknowledged.
 */
export interface PreparedSinks {
  /** Throws when a changed sink cannot open with its new options: then nothing is changed. */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export class SinkTable {
  private readonly slots = new Map<string, SinkSlot>();
  private readonly retiring = new Set<SinkSlot>();
  private routerMeter = new ComponentMeter({ component: 'routes', kind: 'router', type: 'rules' });
  private router: MeteredRouter | undefined;
  private attached: { collector: Collector; consumer: MeteredConsumer } | undefined;

  constructor(
    private readonly build: (c: ComponentConfig<'sink'>) => Sink,
    private readonly readiness: Readiness,
    private readonly taps: Taps,
    private readonly logger: Logger,
  ) {
    readiness.add('routes', 'router', 'rules', 'informative').running();
  }

  /** The sinks of the config the pipeline starts with (opened by the collector's start). */
  init(configs: ComponentConfig<'sink'>[], routes: RoutesConfig | undefined): { sinks: NamedSink[]; router: MeteredRouter } {
    for (const c of configs) this.slots.set(c.name, makeSinkSlot(c, this.build(c), this.readiness));
    this.router = this.makeRouter(routes);
    return { sinks: this.named(), router: this.router };
  }

  attach(collector: Collector, consumer: MeteredConsumer): void {
    this.attached = { collector, consumer };
  }

  private named(): NamedSink[] {
    // Retiring first: a sink removed and added again under its name is the new one for new batches.
    return [
      ...[...this.retiring].map((slot) => ({ name: slot.name, sink: slot, retiring: true })),
      ...[...this.slots.values()].map((slot) => ({ name: slot.name, sink: slot })),
    ];
  }

  private makeRouter(routes: RoutesConfig | undefined): MeteredRouter {
    for (const point of this.router?.tapPoints ?? []) this.taps.undeclare(point);
    const router = new MeteredRouter(routes, [...this.slots.keys()], this.routerMeter, this.taps);
    for (const point of router.tapPoints) this.taps.declare(point);
    return router;
  }

  /** Builds what the reload adds or changes and opens the added ones; throws (having closed what it opened) when one fails. */
  async prepare(diff: ComponentDiff<'sink'>, routes: RoutesConfig | undefined, routesChanged: boolean): Promise<PreparedSinks> {
    // A sink added under the name of one still retiring (removed by an earlier reload) opens
    // on its destination only once the old one is closed: two instances must never overlap.
    // Its batches do not write to it again (Collector.reconfigure): what is in flight settles.
    const added = new Set(diff.added.map((c) => c.name));
    for (const slot of this.retiring) {
      if (!added.has(slot.name)) continue;
      await slot.drain();
      await slot.close();
    }
    const changed = diff.changed.map((config) => ({ config, sink: this.build(config) }));
    const built = diff.added.map((config) => ({ config, sink: this.build(config) }));
    const opened: Sink[] = [];
    try {
      for (const a of built) {
        await a.sink.open();
        opened.push(a.sink);
      }
    } catch (err) {
      await Promise.allSettled(opened.map((s) => s.close()));
      const failed = built[opened.length]!.config.name;
      throw new Error(`${SinkSlot.id(failed)}: could not open: ${err instanceof Error ? err.message : String(err)}`);
    }
    const abort = async () => {
      await Promise.allSettled(opened.map((s) => s.close()));
    };
    return {
      abort,
      commit: async () => {
        const replaced: { slot: SinkSlot; was: ComponentConfig<'sink'> }[] = [];
        try {
          for (const { config, sink } of changed) {
            const slot = this.slots.get(config.name)!;
            const was = slot.config;
            await slot.replace(sink, config, () => this.build(was), this.readiness, this.logger);
            replaced.push({ slot, was });
          }
        } catch (err) {
          // All or nothing: the sinks already replaced go back to their previous options.
          for (const { slot, was } of replaced.reverse()) {
            const now = slot.config;
            await slot
              .replace(this.build(was), was, () => this.build(now), this.readiness, this.logger)
              .catch((back: unknown) =>
                this.logger.error({ component: SinkSlot.id(slot.name), err: back }, 'sink could not go back to its previous options'),
              );
          }
          await abort();
          throw err;
        }
        this.swap(diff, built, routes, routesChanged);
      },
    };
  }

  private swap(
    diff: ComponentDiff<'sink'>,
    added: { config: ComponentConfig<'sink'>; sink: Sink }[],
    routes: RoutesConfig | undefined,
    routesChanged: boolean,
  ): void {
    const { collector, consumer } = this.attached!;
    for (const { config, sink } of added) {
      const slot = makeSinkSlot(config, sink, this.readiness);
      slot.adoptOpened();
      this.slots.set(config.name, slot);
    }
    const removed: SinkSlot[] = [];
    for (const name of diff.removed) {
      removed.push(this.slots.get(name)!);
      this.slots.delete(name);
    }
    if (routesChanged || diff.added.length > 0 || diff.removed.length > 0) this.router = this.makeRouter(routes);
    if (removed.length === 0) {
      collector.reconfigure(this.named(), this.router!);
      return;
    }
    const generation = consumer.nextGeneration();
    void consumer.settled(generation).then(async () => {
      for (const slot of removed) {
        this.retiring.delete(slot);
        try {
          await slot.close();
        } catch (err) {
          this.logger.error({ component: SinkSlot.id(slot.name), err }, 'removed sink failed to close cleanly');
        }
        if (!this.slots.has(slot.name)) {
          this.readiness.remove(SinkSlot.id(slot.name));
          await slot.meter.remove();
        }
      }
      collector.reconfigure(this.named(), this.router!);
      this.logger.info({ sinks: removed.map((s) => s.name) }, 'removed sinks closed');
    });
    for (const slot of removed) this.retiring.add(slot);
    collector.reconfigure(this.named(), this.router!);
  }
}
