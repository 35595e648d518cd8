/**
 * How long each step of a stop took, for one log line at the end: a stop that outlasts an
 * orchestrator's grace period (Docker's 10 s, Kubernetes' 30 s) then says which step held
 * it — the drain, a send still out, a client letting go, an fsync.
 */
export class StopClock {
  private readonly started = performance.now();
  private last = this.started;
  private readonly steps: Record<string, number> = {};

  /** Counts the time since the previous mark (or the start) to `step`. */
  mark(step: string): void {
    const now = performance.now();
    this.steps[`${step}_ms`] = Math.round(now - this.last);
    this.last = now;
  }

  /** Each step marked so far, and the total. */
  summary(): Record<string, number> {
    return { ...this.steps, total_ms: Math.round(performance.now() - this.started) };
  }
}
