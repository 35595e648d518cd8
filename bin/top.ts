import { sleep } from '../core/backoff.js';
import { parseDuration } from '../core/units.js';
import { call, errorOf, type ApiTarget } from '../api/client.js';
import { parsePrometheusText } from '../api/prometheus.js';
import type { ProbeAnswer } from '../api/readiness.js';
import { apiTarget, unreachable, type ApiTargetOptions } from './api-target.js';
import { CliFailure } from './cli-failure.js';
import { renderTop, snapshot, type Scrape } from './top-view.js';

/**
 * `sluice top`: a live, full-screen view of a running instance, refreshed every interval
 * (q or Ctrl-C quits), or one snapshot with --once. Rates are measured between two scrapes
 * of /metrics, states come from /ready: the same figures Prometheus sees.
 */
export interface TopOptions extends ApiTargetOptions {
  once?: boolean;
  interval: string;
}

const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';

export async function runTop(opts: TopOptions, env: NodeJS.ProcessEnv): Promise<void> {
  const target = apiTarget(opts, env);
  let intervalMs: number;
  try {
    intervalMs = parseDuration(opts.interval, '--interval');
  } catch (err) {
    throw new CliFailure((err as Error).message, true);
  }
  // Nothing answering is one line and exit 1, before the screen is taken over.
  const about = await info(target).catch(unreachable);
  let before = await scrape(target).catch(unreachable);
  const out = process.stdout;
  // A collector's supervisor answers for its workers (api/group.ts): say how many.
  const role = about.workers && about.role ? `${about.role}, ${about.workers.length} workers` : about.role;
  const header = () => ({ url: target.url.origin, role, now: new Date() });

  if (opts.once || !out.isTTY) {
    for (;;) {
      await sleep(intervalMs);
      const after = await scrape(target).catch(unreachable);
      const ready = await readiness(target).catch(unreachable);
      out.write(`${renderTop(snapshot(before, after, ready), header(), out.columns ?? 160).join('\n')}\n`);
      if (opts.once) return;
      out.write('\n');
      before = after;
    }
  }

  const stop = new AbortController();
  const input = process.stdin;
  const onKey = (key: Buffer) => {
    const k = key.toString();
    if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x1b') stop.abort();
  };
  if (input.isTTY) input.setRawMode(true);
  input.resume();
  input.on('data', onKey);
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  let lines: string[] = ['sluice top: measuring…'];
  const draw = () => out.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
  out.on('resize', draw);
  out.write(ENTER);
  try {
    draw();
    while (!stop.signal.aborted) {
      await sleep(intervalMs, stop.signal);
      if (stop.signal.aborted) break;
      try {
        const after = await scrape(target);
        const ready = await readiness(target);
        lines = renderTop(snapshot(before, after, ready), header(), out.columns ?? 160);
        before = after;
      } catch (err) {
        // The instance went away (restarting?): say so and keep trying.
        lines = [`sluice top — ${target.url.origin} — connection lost: ${(err as Error).message}`, '', 'retrying every interval; q quits'];
      }
      draw();
    }
  } finally {
    out.off('resize', draw);
    input.off('data', onKey);
    if (input.isTTY) input.setRawMode(false);
    input.pause();
    out.write(LEAVE);
  }
}

async function scrape(target: ApiTarget): Promise<Scrape> {
  const answer = await call(target, '/metrics');
  if (answer.status !== 200) throw new CliFailure(`GET /metrics: ${errorOf(answer)}`);
  return { at: Date.now(), families: parsePrometheusText(answer.body) };
}

async function readiness(target: ApiTarget): Promise<ProbeAnswer> {
  const answer = await call(target, '/ready');
  // 503 is an answer too: not ready, with the reasons.
  if (answer.status !== 200 && answer.status !== 503) throw new CliFailure(`GET /ready: ${errorOf(answer)}`);
  return JSON.parse(answer.body) as ProbeAnswer;
}

async function info(target: ApiTarget): Promise<{ role?: string; workers?: unknown[] }> {
  const answer = await call(target, '/');
  if (answer.status !== 200) throw new CliFailure(`GET /: ${errorOf(answer)} (is this the Sluice api?)`);
  return JSON.parse(answer.body) as { role?: string; workers?: unknown[] };
}
