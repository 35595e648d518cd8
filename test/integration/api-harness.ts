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
import { CLI } from './bus-harness.js';

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
  return { setup, start };
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

/** The value of one series (0 when absent). */
export function value(families: Map<string, Family>, name: string, labels: Record<string, string>): number {
  let v = 0;
  for (const f of families.values())
    for (const s of f.samples) if (s.name === name && Object.entries(labels).every(([k, x]) => s.labels[k] === x)) v += s.value;
  return v;
}
