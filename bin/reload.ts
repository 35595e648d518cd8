import type { Logger, LogLevel } from '../core/log.js';
import { counter, gauge } from '../core/metrics.js';
import type { Source } from '../core/pipeline.js';
import { ConfigError, formatProblem } from '../config/errors.js';
import type { PipelineConfig } from '../config/load.js';
import type { Role } from '../config/roles.js';
import type { ReloadOutcome } from '../api/server.js';
import type { LiveTransforms } from '../transforms/index.js';
import { planReload } from './reload-plan.js';
import type { SinkTable } from './sink-table.js';
import type { SourceSet } from './source-set.js';

/**
 * Hot reload, on SIGHUP and POST /reload: the file is read and validated as fully as at
 * start; what changed is worked out (bin/reload-plan.ts); new components are built — and
 * new sinks opened — before anything running is touched, so a file that is invalid, or a
 * change that needs a restart, or a sink that cannot open leaves the running pipeline
 * exactly as it was, and says why. Then the changes are applied between batches: sources
 * stop (their last batch in the channel, their position saved) and start, sinks and routes
 * are swapped in the collector, transform chains on both halves (transforms/runtime.ts). The channel, the bus, the Kafka offsets and the checkpoints
 * are never touched, so nothing buffered is lost and nothing is read twice.
 *
 * Reloads run one at a time; one asked for while another runs waits for it, then reads the
 * file as it is then (Fluent Bit drops a SIGHUP that arrives during a reload).
 */
const reloads = counter('sluice_config_reloads_total', 'Config reloads, by result (applied, unchanged, invalid, restart_needed, failed)', [
  'result',
]);
const lastSuccessful = gauge(
  'sluice_config_last_reload_successful',
  '1 when the last reload was applied (or had nothing to change), else 0',
  [],
  { aggregator: 'min' },
);
const lastSuccessTime = gauge(
  'sluice_config_last_reload_success_timestamp_seconds',
  'When the config was last loaded successfully (at start, or by a reload that applied or had nothing to change)',
  [],
  { aggregator: 'min' },
);

export interface LivePipeline {
  role: Role;
  /** The config running now; replaced by each applied reload. */
  config: PipelineConfig;
  /** The root logger: its level is the log level of every component's logger. */
  logger: Logger;
  /** The agent side's sources (agent, run). */
  sources?: SourceSet;
  /** The collector side's sinks and routes (collector, run). */
  sinks?: SinkTable;
  /** The transform chains of both halves the role runs. */
  transforms?: LiveTransforms;
}

export class Reloader {
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly live: LivePipeline,
    /** Reads and validates the config file again (for this role). */
    private readonly load: () => Promise<PipelineConfig>,
  ) {
    for (const result of ['applied', 'unchanged', 'invalid', 'restart_needed', 'failed']) reloads.inc({ result }, 0);
    lastSuccessful.set(1);
    lastSuccessTime.set(Date.now() / 1000);
  }

  /** No reload starts after this (the pipeline is stopping); resolves when the one running is done. */
  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
  }

  reload(trigger: 'signal' | 'api'): Promise<ReloadOutcome> {
    const run = this.chain.then(() => this.run(trigger));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async run(trigger: 'signal' | 'api'): Promise<ReloadOutcome> {
    const logger = this.live.logger.child({ component: 'reload' });
    let outcome: ReloadOutcome;
    try {
      outcome = this.closed ? refusedWhileStopping() : await this.attempt();
    } catch (err) {
      outcome = { result: 'failed', changes: [], problems: [], error: errorText(err) };
    }
    reloads.inc({ result: outcome.result });
    const good = outcome.result === 'applied' || outcome.result === 'unchanged';
    lastSuccessful.set(good ? 1 : 0);
    if (good) lastSuccessTime.set(Date.now() / 1000);
    const fields = { trigger, result: outcome.result, file: this.live.config.file };
    if (outcome.result === 'applied') logger.info({ ...fields, changes: outcome.changes }, 'config reloaded');
    else if (outcome.result === 'unchanged') logger.info(fields, 'config reload: nothing changed');
    else
      logger.error(
        { ...fields, problems: outcome.problems, changes: outcome.changes, err: outcome.error },
        'config reload refused; the running pipeline is unchanged',
      );
    return outcome;
  }

  private async attempt(): Promise<ReloadOutcome> {
    const live = this.live;
    let next: PipelineConfig;
    try {
      next = await this.load();
    } catch (err) {
      if (err instanceof ConfigError) return { result: 'invalid', changes: [], problems: err.problems.map(formatProblem) };
      throw err;
    }
    const plan = planReload(live.config, next, live.role);
    if (plan.restartNeeded.length > 0) return { result: 'restart_needed', changes: plan.changes, problems: plan.restartNeeded };
    if (plan.changes.length === 0) return { result: 'unchanged', changes: [], problems: [] };

    // Build everything new before touching anything: a constructor refusing its options is
    // a config problem, found while the old pipeline runs on untouched.
    const built = new Map<string, Source>();
    try {
      for (const c of [...plan.sources.added, ...plan.sources.changed]) built.set(c.name, live.sources!.create(c));
    } catch (err) {
      return { result: 'invalid', changes: plan.changes, problems: [errorText(err)] };
    }
    let preparedTransforms: ReturnType<LiveTransforms['prepare']> | undefined;
    if (live.transforms && plan.transforms.any) {
      try {
        const rebuild = new Set([...plan.transforms.added, ...plan.transforms.changed].map((c) => c.name));
        preparedTransforms = live.transforms.prepare(next.transforms, rebuild);
      } catch (err) {
        return { result: 'invalid', changes: plan.changes, problems: [errorText(err)] };
      }
    }
    let preparedSinks: Awaited<ReturnType<SinkTable['prepare']>> | undefined;
    if (live.sinks && (plan.sinks.added.length + plan.sinks.changed.length + plan.sinks.removed.length > 0 || plan.routes)) {
      try {
        preparedSinks = await live.sinks.prepare(plan.sinks, next.routes, plan.routes);
      } catch (err) {
        return { result: 'failed', changes: plan.changes, problems: [], error: errorText(err) };
      }
    }

    // Apply. Sinks and routes first, then transforms (between two batches): a source added
    // by this reload may produce events the new transforms and routes expect.
    try {
      await preparedSinks?.commit();
    } catch (err) {
      return { result: 'failed', changes: plan.changes, problems: [], error: errorText(err) };
    }
    await preparedTransforms?.commit();
    const running: PipelineConfig = { ...next, sources: [...next.sources] };
    const failures: string[] = [];
    const sources = live.sources;
    if (sources) {
      for (const name of plan.sources.removed) await sources.stop(name, true);
      for (const c of plan.sources.changed) {
        // Another type under the same name is another component: its series go with it.
        const was = live.config.sources.find((s) => s.name === c.name);
        await sources.stop(c.name, was?.type !== c.type);
      }
      for (const c of [...plan.sources.changed, ...plan.sources.added]) {
        try {
          await sources.start(c, built.get(c.name));
        } catch (err) {
          failures.push(errorText(err));
          // Not running: left out of the running config, so the next reload tries it again.
          running.sources = running.sources.filter((s) => s.name !== c.name);
        }
      }
    }
    if (plan.logLevel) live.logger.level = next.log.level as LogLevel;
    live.config = running;
    if (failures.length > 0)
      return { result: 'failed', changes: plan.changes, problems: [], error: `${failures.join('; ')} (the other changes were applied)` };
    return { result: 'applied', changes: plan.changes, problems: [] };
  }
}

function refusedWhileStopping(): ReloadOutcome {
  return { result: 'failed', changes: [], problems: [], error: 'Sluice is stopping: no reload now' };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
