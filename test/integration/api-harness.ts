// What the api-*.int.test.ts files share: the built CLI started as users start it (YAML
// config, its API on a free port read from its own "api listening" log line), and the
// API read the way Prometheus and an orchestrator read it.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { call, type ApiTarget } from '../../api/client.js';
import { parsePrometheusText, type Family } from '../../api/prometheus.js';
import type { ProbeAnswer } from '../../api/readiness.js';
import { waitFor } from '../support/index.js';
import { agentYaml, appendEvents, CLI, collectorYaml } from './bus-harness.js';

export const TOKEN = 'api-test-token-0123456789abcdef';

export class Instance {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private code: number | null | undefined;

  constructor(
    args: string[],
    readonly stdoutFile: string,
    readonly stderrFile: string,
    env: NodeJS.ProcessEnv,
  ) {
    const out = openSync(stdoutFile, 'a');
    const err = openSync(stderrFile, 'a');
    this.child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', out, err],
      env: { PATH: process.env.PATH, SLUICE_API_TOKEN: TOKEN, ...env },
    });
    closeSync(out);
    closeSync(err);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve((this.code = code))));
  }

  get running(): boolean {
    return this.code === undefined;
  }

  log(): string {
    return existsSync(this.stderrFile) ? readFileSync(this.stderrFile, 'utf8') : '';
  }

  output(): string {
    return existsSync(this.stdoutFile) ? readFileSync(this.stdoutFile, 'utf8') : '';
  }

  /** The API's address, from the "api listening" line the instance logs (its port is picked at start). */
  async api(): Promise<ApiTarget> {
    let url: string | undefined;
    await waitFor(
      'the api to listen',
      () => {
        for (const line of this.log().split('\n')) {
          if (!line.includes('"api listening"')) continue;
          url = (JSON.parse(line) as { url: string }).url;
          return true;
        }
        if (!this.running) throw new Error(`sluice exited with ${this.code}: ${this.log().slice(-2000)}`);
        return false;
      },
      60_000,
    );
    return { url: new URL(url!), token: TOKEN };
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  /** SIGTERM and the exit code of a clean stop. */
  stop(): Promise<number | null> {
    return this.kill('SIGTERM');
  }
}

/** A test file's scratch space and the instances to kill after each test. */
export function apiWorkspace(prefix: string) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const running: Instance[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.kill()));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const setup = (name: string) => {
    const dir = join(root, name);
    mkdirSync(join(dir, 'logs'), { recursive: true });
    return { dir, logs: join(dir, 'logs') };
  };
  /** A collector runs `workers` processes (one unless asked: the tests of the group's api ask). */
  const start = (
    role: 'agent' | 'collector' | 'run',
    dir: string,
    name: string,
    yaml: string,
    env: NodeJS.ProcessEnv = {},
    workers = 1,
  ) => {
    const config = join(dir, `${name}.yaml`);
    writeFileSync(config, yaml);
    const args = role === 'collector' ? [role, '-c', config, '--workers', String(workers)] : [role, '-c', config];
    const p = new Instance(args, join(dir, `${name}.out`), join(dir, `${name}.err`), env);
    running.push(p);
    return p;
  };
  /**
   * An agent with `events` lines in its one file, shipping them over the shared broker (a
   * topic of 2 partitions) to a collector of `workers` processes with a console sink.
   */
  const kafkaPair = (name: string, events: number, workers = 1) => {
    const { dir, logs } = setup(name);
    const topic = `sluice-api-${name}-${process.pid}-${Date.now()}`;
    appendEvents(join(logs, 'a.log'), 0, events);
    const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
    const agent = start(
      'agent',
      dir,
      'agent',
      agentYaml({ dataDir: join(dir, 'agent'), logGlob: join(logs, '*.log'), brokers, topic, producer: { partitions: 2 } }),
    );
    const yaml = collectorYaml({ dataDir: join(dir, 'collector'), brokers, topic, group: `${topic}-g` });
    const collector = start('collector', dir, 'collector', yaml, {}, workers);
    return { dir, logs, agent, collector };
  };
  return { setup, start, kafkaPair };
}

/** Until the collectors' group has consumed both partitions of the topic to the end. */
export async function lagDrained(api: ApiTarget): Promise<void> {
  await waitFor('the consumer lag at 0 on both partitions', async () => {
    const lag = (await scrape(api)).families.get('sluice_bus_consumer_lag_records');
    return lag !== undefined && lag.samples.length === 2 && lag.samples.every((s) => s.value === 0);
  });
}

export async function scrape(target: ApiTarget): Promise<{ text: string; families: Map<string, Family> }> {
  const answer = await call(target, '/metrics');
  if (answer.status !== 200) throw new Error(`GET /metrics: ${answer.status} ${answer.body}`);
  return { text: answer.body, families: parsePrometheusText(answer.body) };
}

export async function ready(target: ApiTarget): Promise<{ status: number; body: ProbeAnswer }> {
  const answer = await call(target, '/ready');
  return { status: answer.status, body: JSON.parse(answer.body) as ProbeAnswer };
}

/**
 * `sluice tap POINT --limit N` as a user runs it: once it says it is tapping, `act` makes
 * events flow; returns the lines it printed, parsed, after it exited 0 at the limit.
 */
export async function tapWhile<E>(
  api: ApiTarget,
  point: string,
  limit: number,
  act: () => void,
): Promise<{ component: string; event: E }[]> {
  const tap = spawn(process.execPath, [CLI, 'tap', point, '--limit', String(limit), '--format', 'json', '--api', api.url.origin], {
    env: { PATH: process.env.PATH, SLUICE_API_TOKEN: TOKEN },
  });
  let out = '';
  let err = '';
  tap.stdout.on('data', (b: Buffer) => (out += b.toString()));
  tap.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exit = new Promise<number | null>((resolve) => tap.once('exit', resolve));
  await waitFor(`the tap of ${point} to start`, () => err.includes(`tapping ${point}`));
  act();
  const code = await exit;
  if (code !== 0) throw new Error(`sluice tap exited with ${code}: ${err}`);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { component: string; event: E });
}

/** The value of one series (0 when absent). */
export function value(families: Map<string, Family>, name: string, labels: Record<string, string>): number {
  let v = 0;
  for (const f of families.values())
    for (const s of f.samples) if (s.name === name && Object.entries(labels).every(([k, x]) => s.labels[k] === x)) v += s.value;
  return v;
}
