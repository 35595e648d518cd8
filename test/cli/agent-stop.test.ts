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

describe('sluice agent on SIGTERM', () => {
  it('exits 0 within its drain timeout while Kafka is down and a source waits for room in a full channel', async () => {
    const { dir, cleanup } = await tempDir('agent-stop');
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
    proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    try {
      await waitFor(
        'the channel to fill while Kafka is down',
        () => log.includes('"msg":"channel full; puts wait and sources pause"'),
        30_000,
        () => log.slice(-2000),
      );
      proc.kill('SIGTERM');
      const code = await Promise.race([
        exited,
        new Promise<string>((r) => setTimeout(() => r('still running 30 s after SIGTERM'), 30_000)),
      ]);
      expect(code, log.slice(-3000)).toBe(0);
      expect(log).toContain('"msg":"drain timeout: events stay in the channel and are sent on the next start"');
    } finally {
      proc.kill('SIGKILL');
    }
  });
});
