import type { Logger } from '../core/log.js';
import type { ChannelWriter, Source } from '../core/pipeline.js';
import type { ComponentConfig } from '../config/load.js';
import type { Readiness } from '../api/readiness.js';
import type { Taps } from '../api/tap.js';
import { ComponentMeter, meteredWriter } from './instrument.js';

/**
 * The running sources, started and stopped by the runtime rather than by the Agent, so a
 * reload can add, remove or replace one while the channel and the bus run on. A source
 * stopped here has put everything it read and saved its position; the one started in its
 * place (same name, same state directory) resumes from that position: nothing is read
 * twice, nothing skipped.
 */
export interface RunningSource {
  config: ComponentConfig<'source'>;
  source: Source;
  meter: ComponentMeter;
}

export class SourceSet {
  private readonly running = new Map<string, RunningSource>();

  constructor(
    /** Builds the source's instance from its config (the runtime's factory: state directory, logger). */
    private readonly build: (c: ComponentConfig<'source'>) => Source,
    /** Where sources write: the channel (or the transforms before it). */
    private readonly out: ChannelWriter,
    private readonly readiness: Readiness,
    private readonly taps: Taps,
    private readonly logger: Logger,
  ) {}

  static id(name: string): string {
    return `sources.${name}`;
  }

  names(): string[] {
    return [...this.running.keys()];
  }

  /** Builds without starting: a constructor that refuses its options fails a reload before anything changed. */
  create(config: ComponentConfig<'source'>): Source {
    return this.build(config);
  }

  async start(config: ComponentConfig<'source'>, source: Source = this.build(config)): Promise<void> {
    const id = SourceSet.id(config.name);
    const meter = new ComponentMeter({ component: id, kind: 'source', type: config.type });
    const status = this.readiness.add(id, 'source', config.type, 'informative');
    status.starting();
    this.taps.declare(id);
    try {
      await source.start(meteredWriter(this.out, meter, status, this.taps, id));
    } catch (err) {
      status.crashed(err);
      this.taps.undeclare(id);
      throw new Error(`${id}: could not start: ${err instanceof Error ? err.message : String(err)}`);
    }
    status.running();
    this.running.set(config.name, { config, source, meter });
  }

  /** Stops one source; resolves once its last put is in the channel and its position saved. */
  async stop(name: string, forget: boolean): Promise<void> {
    const r = this.running.get(name);
    if (!r) return;
    this.running.delete(name);
    const id = SourceSet.id(name);
    try {
      await r.source.stop();
    } catch (err) {
      this.logger.error({ component: id, err }, 'source failed to stop cleanly');
    }
    this.readiness.get(id)?.stopped();
    if (forget) {
      this.taps.undeclare(id);
      this.readiness.remove(id);
      await r.meter.remove();
    }
  }

  /** Stops every source, in parallel: each saves its own position. */
  async stopAll(): Promise<void> {
    await Promise.all(this.names().map((n) => this.stop(n, false)));
  }
}
