/**
 * The state of every component, as /health, /ready and `sluice top` show it. The runtime
 * reports transitions (started, a write failed, a write succeeded, stopped); this model
 * turns them into one answer per probe, and always says why, component by component —
 * what Vector's single health flag does not.
 *
 * Readiness (/ready): the config is loaded and the pipeline started, the channel is open,
 * the bus is connected, and no sink (nor the bus send) has been failing for longer than
 * `api.ready_failing_after`. A sink that fails once and recovers within that time does
 * not flap the pod out of its Service.
 *
 * Liveness (/health): the process answers and no component has stopped unexpectedly
 * (`crashed`): restarting the process is then the fix, which is what a liveness probe does.
 */
export type ComponentState = 'starting' | 'running' | 'failing' | 'stopped' | 'crashed';

/** How a component's failures count for readiness. */
export type ReadinessRule =
  /** Not ready as soon as it is not running (the channel, the bus connection). */
  | 'must-run'
  /** Not ready once it has been failing for longer than ready_failing_after (sinks, the bus send). */
  | 'grace'
  /** Shown, never blocks readiness (sources, the router). */
  | 'informative';

export interface ComponentReport {
  component: string;
  kind: string;
  type: string;
  state: ComponentState;
  /** When the component entered this state (ISO 8601). */
  since: string;
  /** Whether this component lets the process be ready. */
  ready: boolean;
  /** The last error while failing or crashed. */
  error?: string;
  /** Failures since it last succeeded. */
  failures?: number;
}

export interface ProbeAnswer {
  status: 'ok' | 'not ready' | 'unhealthy';
  /** One line per reason it is not ready / not healthy; empty when it is. */
  reasons: string[];
  uptime_seconds: number;
  components: ComponentReport[];
}

export class ComponentStatus {
  state: ComponentState = 'starting';
  since: number;
  error: string | undefined;
  failures = 0;
  /** Start of the current run of failures (kept across 'failing' updates). */
  failingSince: number | undefined;

  constructor(
    readonly component: string,
    readonly kind: string,
    readonly type: string,
    readonly rule: ReadinessRule,
    private readonly now: () => number,
  ) {
    this.since = now();
  }

  private enter(state: ComponentState): void {
    if (this.state === state) return;
    this.state = state;
    this.since = this.now();
  }

  starting(): void {
    this.enter('starting');
    this.error = undefined;
    this.failures = 0;
    this.failingSince = undefined;
  }

  running(): void {
    this.enter('running');
    this.error = undefined;
    this.failures = 0;
    this.failingSince = undefined;
  }

  /** An operation failed; cheap to call on every retry. */
  failed(err: unknown): void {
    if (this.state === 'stopped' || this.state === 'crashed') return;
    this.failures++;
    this.error = err instanceof Error ? err.message : String(err);
    this.failingSince ??= this.now();
    this.enter('failing');
  }

  /** An operation succeeded: back to running if it was failing. Cheap on the hot path. */
  ok(): void {
    if (this.state !== 'running') this.running();
  }

  stopped(): void {
    this.enter('stopped');
  }

  crashed(err: unknown): void {
    this.error = err instanceof Error ? err.message : String(err);
    this.enter('crashed');
  }
}

export class Readiness {
  private readonly components = new Map<string, ComponentStatus>();
  private readonly started: number;
  /** Set once the pipeline is built and started from a loaded config. */
  private pipeline: 'starting' | 'running' | 'stopping' = 'starting';

  constructor(
    private readonly readyFailingAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  /** Registers a component (or returns the one already there under that id, for a reload that keeps it). */
  add(component: string, kind: string, type: string, rule: ReadinessRule): ComponentStatus {
    const existing = this.components.get(component);
    if (existing && existing.kind === kind && existing.type === type && existing.rule === rule) return existing;
    const status = new ComponentStatus(component, kind, type, rule, this.now);
    this.components.set(component, status);
    return status;
  }

  remove(component: string): void {
    this.components.delete(component);
  }

  get(component: string): ComponentStatus | undefined {
    return this.components.get(component);
  }

  pipelineRunning(): void {
    this.pipeline = 'running';
  }

  pipelineStopping(): void {
    this.pipeline = 'stopping';
  }

  private report(s: ComponentStatus, now: number): ComponentReport {
    const r: ComponentReport = {
      component: s.component,
      kind: s.kind,
      type: s.type,
      state: s.state,
      since: new Date(s.since).toISOString(),
      ready: this.componentReady(s, now),
    };
    if (s.error !== undefined && (s.state === 'failing' || s.state === 'crashed')) r.error = s.error;
    if (s.failures > 0) r.failures = s.failures;
    return r;
  }

  private componentReady(s: ComponentStatus, now: number): boolean {
    if (s.state === 'crashed') return false;
    switch (s.rule) {
      case 'must-run':
        return s.state === 'running';
      case 'grace':
        return s.state !== 'stopped' && !(s.state === 'failing' && now - (s.failingSince ?? now) > this.readyFailingAfterMs);
      case 'informative':
        return true;
    }
  }

  readiness(): ProbeAnswer {
    const now = this.now();
    const components = [...this.components.values()].map((s) => this.report(s, now));
    const reasons: string[] = [];
    if (this.pipeline === 'starting') reasons.push('the pipeline is starting');
    if (this.pipeline === 'stopping') reasons.push('the pipeline is stopping');
    for (const c of components) {
      if (c.ready) continue;
      const s = this.components.get(c.component)!;
      if (s.state === 'failing')
        reasons.push(`${c.component} failing for ${Math.round((now - (s.failingSince ?? now)) / 1000)}s: ${c.error ?? 'unknown error'}`);
      else reasons.push(`${c.component} is ${c.state}${c.error ? `: ${c.error}` : ''}`);
    }
    return { status: reasons.length === 0 ? 'ok' : 'not ready', reasons, uptime_seconds: this.uptime(now), components };
  }

  health(): ProbeAnswer {
    const now = this.now();
    const components = [...this.components.values()].map((s) => this.report(s, now));
    const reasons = components.filter((c) => c.state === 'crashed').map((c) => `${c.component} crashed: ${c.error ?? 'unknown error'}`);
    return { status: reasons.length === 0 ? 'ok' : 'unhealthy', reasons, uptime_seconds: this.uptime(now), components };
  }

  private uptime(now: number): number {
    return Math.round((now - this.started) / 1000);
  }
}
