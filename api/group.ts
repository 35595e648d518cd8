import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../core/log.js';
import type { ComponentReport, ComponentState, ProbeAnswer } from './readiness.js';
import type { ApiDeps, ReloadOutcome } from './server.js';
import { type TapOutput, type TapRequest, TapRequestError, type TapService, type TapSubscription } from './tap.js';
import type { WorkerLink, WorkerMetrics } from './worker-ipc.js';

/**
 * One API for a collector's workers (`sluice collector --workers N`): the supervisor serves
 * it and asks every worker over IPC (api/worker-ipc.ts), so a scraper, a probe, `sluice top`
 * and `sluice tap` see the group as one collector:
 *
 * - /metrics: the workers' series merged by prom-client's aggregator: counters and
 *   histograms summed, gauges by the rule each declares (core/metrics.ts), plus the
 *   supervisor's own `sluice_collector_workers{state}` and `sluice_collector_worker_restarts_total`;
 * - /ready and /health: one list of components, each merged over the workers (the worst
 *   state, with every worker's state beside it); a worker starting, restarting or not
 *   answering is a reason not to be ready;
 * - /reload: every worker reloads; the answer is theirs when they agree;
 * - /tap: the workers' streams merged, within the asked rate and limit.
 */
export type MemberState = 'starting' | 'running' | 'restarting';

export interface GroupMember {
  index: number;
  state: MemberState;
  pid?: number;
  /** Set while the process runs; it answers once `state` is running. */
  link?: WorkerLink;
  restarts: number;
}

export interface WorkerGroup {
  members(): readonly GroupMember[];
}

/** Worst first: a merged component takes the state of its worst worker. */
const SEVERITY: Record<ComponentState, number> = { crashed: 4, failing: 3, stopped: 2, starting: 1, running: 0 };

export function groupApi(group: WorkerGroup, about: Record<string, unknown>, logger: Logger, now: () => number = Date.now): ApiDeps {
  const startedAt = now();
  const uptime = () => Math.round((now() - startedAt) / 1000);
  const running = () => group.members().filter((m) => m.state === 'running' && m.link);

  const own = new Registry();
  const workers = new Gauge({
    name: 'sluice_collector_workers',
    help: 'Collector worker processes, by state',
    labelNames: ['state'],
    registers: [own],
  });
  const restarts = new Counter({
    name: 'sluice_collector_worker_restarts_total',
    help: 'Workers the supervisor restarted after they exited',
    registers: [own],
  });
  let restartsSeen = 0;
  const counts = new WorkerCounts();

  const probe = async (op: 'health' | 'readiness'): Promise<ProbeAnswer> => {
    const members = group.members();
    const answers = await Promise.all(
      members.map(async (m) => {
        if (m.state !== 'running' || !m.link) return { member: m, missing: `worker ${m.index} is ${m.state}`, supervised: true };
        try {
          return { member: m, answer: await m.link.call(op) };
        } catch (err) {
          return { member: m, missing: (err as Error).message };
        }
      }),
    );
    return mergeProbes(op, answers, uptime());
  };

  const taps: TapService & { open: Set<TapSubscription> } = {
    open: new Set(),
    async subscribe(request, out) {
      const sub = await groupTap(running(), request, out);
      taps.open.add(sub);
      return {
        close: () => {
          taps.open.delete(sub);
          sub.close();
        },
        drained: () => sub.drained(),
      };
    },
    closeAll() {
      for (const sub of taps.open) sub.close();
      taps.open.clear();
    },
  };

  return {
    about: {
      ...about,
      get workers() {
        return group.members().map((m) => ({ worker: m.index, pid: m.pid, state: m.state, restarts: m.restarts }));
      },
    },
    probes: { health: () => probe('health'), readiness: () => probe('readiness') },
    taps,
    async metrics() {
      const members = group.members();
      const answers = await Promise.all(
        running().map(async (m) => {
          try {
            return { member: m, metrics: await m.link!.call('metrics') };
          } catch (err) {
            logger.warn({ worker: m.index, err: (err as Error).message }, "a worker's metrics are its last answer in this scrape");
            return undefined;
          }
        }),
      );
      for (const a of answers) if (a) await counts.update(a.member, a.metrics);
      workers.reset();
      for (const state of ['starting', 'running', 'restarting'] as const)
        workers.set({ state }, members.filter((m) => m.state === state).length);
      const restarted = members.reduce((n, m) => n + m.restarts, 0);
      restarts.inc(restarted - restartsSeen);
      restartsSeen = restarted;
      const merged = Registry.merge([AggregatorRegistry.aggregate(counts.all()), own]);
      return { contentType: merged.contentType, body: await merged.metrics() };
    },
    async reload() {
      const members = running();
      if (members.length === 0)
        return { result: 'failed', changes: [], problems: [], error: 'no collector worker is running to reload' } as ReloadOutcome;
      const outcomes = await Promise.all(
        members.map(async (m) => {
          try {
            return { index: m.index, outcome: await m.link!.call('reload') };
          } catch (err) {
            return {
              index: m.index,
              outcome: { result: 'failed', changes: [], problems: [], error: (err as Error).message } as ReloadOutcome,
            };
          }
        }),
      );
      return mergeReloads(outcomes);
    },
  };
}

/**
 * What the merged series are made of: each worker's last answer, and the counts of the
 * processes that exited. A counter of the group must never go down, or Prometheus takes it
 * for a reset and rate() shows the surviving workers' whole totals as a spike: so a worker
 * that does not answer one scrape counts with its last answer, and when a worker's process
 * is replaced, what its predecessor counted (counters, histograms) stays in the sums.
 * The increments of an exited process since its last scrape are lost with it.
 */
class WorkerCounts {
  private readonly latest = new Map<number, { pid: number | undefined; metrics: WorkerMetrics }>();
  /** Counters and histograms of exited processes, summed into one set (bounded by the series, not the restarts). */
  private retired: WorkerMetrics = [];

  async update(member: GroupMember, metrics: WorkerMetrics): Promise<void> {
    const previous = this.latest.get(member.index);
    if (previous && previous.pid !== member.pid) {
      // The type is the string 'gauge' at run time; prom-client's typings say an enum it does not export.
      const kept = previous.metrics.filter((m) => (m.type as unknown as string) !== 'gauge');
      this.retired = (await AggregatorRegistry.aggregate([this.retired, kept]).getMetricsAsJSON()) as WorkerMetrics;
    }
    this.latest.set(member.index, { pid: member.pid, metrics });
  }

  all(): WorkerMetrics[] {
    return [...[...this.latest.values()].map((l) => l.metrics), this.retired];
  }
}

type ProbeInput = {
  member: GroupMember;
  answer?: ProbeAnswer;
  /** Why there is no answer. */
  missing?: string;
  /** The worker is starting or being restarted: the supervisor is on it. */
  supervised?: boolean;
};

export function mergeProbes(op: 'health' | 'readiness', inputs: ProbeInput[], uptime: number): ProbeAnswer {
  const reasons: string[] = [];
  const byName = new Map<string, { merged: ComponentReport; states: Record<string, ComponentState> }>();
  for (const { member, answer, missing, supervised } of inputs) {
    if (!answer) {
      // A worker starting or being restarted is not a reason to restart the group (the
      // supervisor is on it), but one that does not answer is stuck.
      if (op === 'readiness' || !supervised) reasons.push(missing!);
      continue;
    }
    for (const r of answer.reasons) reasons.push(`worker ${member.index}: ${r}`);
    for (const c of answer.components) {
      const seen = byName.get(c.component);
      if (!seen) {
        byName.set(c.component, { merged: withWorker(c, member.index), states: { [member.index]: c.state } });
        continue;
      }
      seen.states[member.index] = c.state;
      const m = seen.merged;
      const failures = (m.failures ?? 0) + (c.failures ?? 0);
      if (SEVERITY[c.state] > SEVERITY[m.state]) seen.merged = { ...withWorker(c, member.index), ready: m.ready && c.ready };
      else seen.merged.ready = m.ready && c.ready;
      if (failures > 0) seen.merged.failures = failures;
    }
  }
  const components = [...byName.values()].map(({ merged, states }) => ({ ...merged, workers: states }));
  const status = reasons.length === 0 ? 'ok' : op === 'readiness' ? 'not ready' : 'unhealthy';
  return { status, reasons, uptime_seconds: uptime, components };
}

function withWorker(c: ComponentReport, worker: number): ComponentReport {
  return c.error === undefined ? { ...c } : { ...c, error: `worker ${worker}: ${c.error}` };
}

export function mergeReloads(outcomes: { index: number; outcome: ReloadOutcome }[]): ReloadOutcome {
  const unique = <T>(xs: T[]) => [...new Set(xs)];
  const changes = unique(outcomes.flatMap((o) => o.outcome.changes));
  const problems = unique(outcomes.flatMap((o) => o.outcome.problems));
  // A worker restarted after the file changed already runs it: `unchanged` beside `applied` agrees.
  let results = unique(outcomes.map((o) => o.outcome.result));
  if (results.length === 2 && results.includes('applied') && results.includes('unchanged')) results = ['applied'];
  if (results.length === 1) {
    const errors = outcomes.filter((o) => o.outcome.error).map((o) => `worker ${o.index}: ${o.outcome.error}`);
    return { result: results[0]!, changes, problems, ...(errors.length ? { error: errors.join('; ') } : {}) };
  }
  // Workers read the same file, so they disagree only when one could not apply what the
  // others did (a sink that did not open in one process): say who runs what.
  const each = outcomes.map((o) => `worker ${o.index} ${o.outcome.result}${o.outcome.error ? `: ${o.outcome.error}` : ''}`);
  return { result: 'failed', changes, problems, error: `the workers did not all apply the reload: ${each.join('; ')}` };
}

/**
 * A tap over every running worker: each is asked for its share of the rate, the lines are
 * interleaved as they come, and the stream ends at the limit or when every worker's ended.
 * A reader that falls behind is each link's business: it stops acknowledging the lines of
 * its worker (whose credit then runs out) until the reader drained.
 */
async function groupTap(members: GroupMember[], request: TapRequest, out: TapOutput): Promise<TapSubscription> {
  if (members.length === 0) {
    out.end();
    return { close() {}, drained() {} };
  }
  const limit = request.limit ?? Number.POSITIVE_INFINITY;
  const share: TapRequest = { ...request, rate: Math.max(1, Math.ceil(request.rate / members.length)) };
  let sent = 0;
  let open = members.length;
  let ended = false;
  const links: Awaited<ReturnType<WorkerLink['tap']>>[] = [];
  const finish = () => {
    if (ended) return;
    ended = true;
    for (const l of links) l.close();
    out.end();
  };
  const each: TapOutput = {
    write(line) {
      if (ended) return false;
      // An event line ends with the event's closing brace; a notice (skipped, dropped) with a count.
      if (line.endsWith('}}\n')) sent++;
      const written = out.write(line);
      if (sent >= limit) finish();
      return written;
    },
    end() {
      if (--open === 0) finish();
    },
  };
  const opened = await Promise.allSettled(members.map((m) => m.link!.tap(share, each)));
  for (const o of opened) if (o.status === 'fulfilled') links.push(o.value);
  const refused = opened.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as Error);
  // A name no tap point matches is the same answer from every worker; a worker that went
  // away meanwhile only leaves its share out.
  const unknownName = refused.find((e) => e instanceof TapRequestError);
  if (unknownName || links.length === 0) {
    for (const l of links) l.close();
    throw unknownName ?? refused[0];
  }
  for (const _ of refused) each.end();
  return {
    close: () => {
      ended = true;
      for (const l of links) l.close();
    },
    drained: () => {
      for (const l of links) l.drained();
    },
  };
}
