import { errorOf, stream } from '../api/client.js';
import { apiTarget, unreachable, type ApiTargetOptions } from './api-target.js';
import { CliFailure } from './cli-failure.js';
import { escapeControl, escapeJsonControl } from './terminal-text.js';

/**
 * `sluice tap [COMPONENT…]`: prints events as they leave the named components of a running
 * instance, sampled by the server when they come faster than --rate per component, until
 * --limit events or Ctrl-C. `--format json` prints what the API sends (one object per line:
 * the component and the event in the wire format, how many sampling skipped, or how many
 * this reader missed while it was behind); `text` prints time, component and message.
 */
export interface TapOptions extends ApiTargetOptions {
  limit?: string;
  rate: string;
  format: 'json' | 'text';
}

interface TapLine {
  tap?: { components: string[]; rate: number; limit: number | null };
  component?: string;
  skipped?: number;
  dropped?: number;
  event?: { timestamp: number; message: string; service: string; module: string; level?: string };
}

export async function runTap(
  components: string[],
  opts: TapOptions,
  env: NodeJS.ProcessEnv,
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  note: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<void> {
  const target = apiTarget(opts, env);
  const query = new URLSearchParams();
  for (const c of components) query.append('component', c);
  for (const [name, value] of [
    ['limit', opts.limit],
    ['rate', opts.rate],
  ] as const) {
    if (value === undefined) continue;
    if (!/^[1-9]\d{0,8}$/.test(value))
      throw new CliFailure(`--${name}: expected a positive whole number, got ${JSON.stringify(value)}`, true);
    query.set(name, value);
  }
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  const answer = await stream(
    target,
    `/tap?${query}`,
    (line) => {
      const t = JSON.parse(line) as TapLine;
      if (opts.format === 'json') {
        if (t.tap) note(tapping(t.tap));
        else write(escapeJsonControl(line));
        return;
      }
      if (t.tap) note(tapping(t.tap));
      else if (t.skipped !== undefined) note(`… ${t.component}: ${t.skipped} events not shown (sampled)`);
      else if (t.dropped !== undefined) note(`… ${t.dropped} events not shown (this reader fell behind)`);
      else if (t.event) {
        const e = t.event;
        write(
          escapeControl(
            `${new Date(e.timestamp).toISOString()} ${t.component} ${e.service}/${e.module}${e.level ? ` ${e.level}` : ''} ${e.message}`,
          ),
        );
      }
    },
    stop.signal,
  ).catch(unreachable);
  if (answer.status !== 200) throw new CliFailure(errorOf(answer), answer.status === 400);
}

function tapping(t: NonNullable<TapLine['tap']>): string {
  const what = t.components.includes('*') ? 'every tap point' : t.components.join(', ');
  return `tapping ${what} (at most ${t.rate} events/s each${t.limit ? `, ${t.limit} in all` : ''})`;
}
