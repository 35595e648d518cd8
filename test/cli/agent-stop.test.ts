import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../support/index.js';

const cli = join(import.meta.dirname, '../../dist/bin/sluice.js');
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

/** A port nothing listens on: Kafka "down", connections refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** An agent tailing a file of 20,000 lines into a 1 MiB disk channel, its Kafka unreachable. */
async function agentWithKafkaDown(
  name: string,
): Promise<{ proc: ReturnType<typeof spawn>; log: () => string; exited: Promise<number | null> }> {
  const { dir, cleanup } = await tempDir(name);
  cleanups.push(cleanup);
  mkdirSync(join(dir, 'logs'));
  writeFileSync(join(dir, 'logs', 'app.log'), `${Array.from({ length: 20_000 }, (_, i) => `${i} ${'x'.repeat(150)}`).join('\n')}\n`);
  const config = join(dir, 'agent.yaml');
  writeFileSync(
    config,
    [
      `data_dir: ${dir}/data`,
      'api:',
      '  address: 127.0.0.1:0',
      'sources:',
      '  app:',
      '    type: file',
      `    include: ["${dir}/logs/*.log"]`,
      '    start_at: beginning',
      '    batch:',
      '      max_events: 500',
      'channel:',
      '  type: disk',
      '  max_bytes: 1MiB',
      '  segment_bytes: 256KiB',
      'bus:',
      '  type: kafka',
      `  brokers: ["127.0.0.1:${await closedPort()}"]`,
      'shutdown:',
      '  drain_timeout: 1s',
      '',
    ].join('\n'),
  );
  const proc = spawn(process.execPath, [cli, 'agent', '-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, log: () => log, exited };
}

describe('sluice agent on SIGTERM', () => {
  it('exits 0 within its drain timeout while Kafka is down and a source waits for room in a full channel', async () => {
    const { proc, log, exited } = await agentWithKafkaDown('agent-stop');
    try {
      await waitFor(
        'the channel to fill while Kafka is down',
        () => log().includes('"msg":"channel full; puts wait and sources pause"'),
        30_000,
        () => log().slice(-2000),
      );
      proc.kill('SIGTERM');
      // Drain (1 s), the sends' grace (1 s), and at most a connect's metadata wait (5 s),
      // which process exit waits for: it used to be request_timeout, 30 s.
      const code = await Promise.race([
        exited,
        new Promise<string>((r) => setTimeout(() => r('still running 15 s after SIGTERM'), 15_000)),
      ]);
      expect(code, log().slice(-3000)).toBe(0);
      expect(log()).toContain('"msg":"drain timeout: events stay in the channel and are sent on the next start"');
    } finally {
      proc.kill('SIGKILL');
    }
  });

  it('keeps running after its first connects to Kafka fail, then stops with exit 0', async () => {
    const { proc, log, exited } = await agentWithKafkaDown('agent-connect-fails');
    try {
      // librdkafka's connect gives up after 5 s; the binding has then disconnected the client
      // itself, and disconnecting it again threw out of the callback: exit 1.
      await waitFor(
        'a connect to fail',
        () => log().includes('"msg":"bus down"'),
        30_000,
        () => log().slice(-2000),
      );
      await new Promise((r) => setTimeout(r, 1000));
      expect(proc.exitCode, log().slice(-3000)).toBeNull();
      proc.kill('SIGTERM');
      expect(await exited, log().slice(-3000)).toBe(0);
    } finally {
      proc.kill('SIGKILL');
    }
  });
});
