// `sluice agent` runs its pipeline in a child sized by memory_limit (bin/launch.ts): the
// launcher must be invisible to whoever supervises it, signals and exit codes alike.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor } from '../support/index.js';
import { alive, childrenOf, REPO, start, stopAll, unreachableCollector, waitForLog } from './harness.js';

afterAll(stopAll);

const MiB = 1024 * 1024;

/** The agent's pipeline process, the launcher's one child. */
function childOf(pid: number): number {
  return childrenOf(pid)[0]!;
}

function vmFlags(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((a) => a.startsWith('--max-'));
}

/**
 * An agent tailing `dir/*.log` into a disk channel, its config written to `dir/agent.yaml`.
 * Kafka need not answer: an agent starts and buffers while it is down.
 */
function agentConfig(dir: string, extra: string[] = []): string {
  const config = join(dir, 'agent.yaml');
  writeFileSync(
    config,
    [
      ...extra,
      `data_dir: ${join(dir, 'data')}`,
      'sources:',
      `  app: { type: file, include: ["${join(dir, '*.log')}"] }`,
      'channel: { type: disk }',
      'bus: { type: kafka, client: kafkajs, brokers: 127.0.0.1:1 }',
      'api: { enabled: false }',
    ].join('\n'),
  );
  return config;
}

describe('sluice agent launcher', () => {
  it('sizes the heap from memory_limit, forwards SIGTERM with the exit code, and a SIGKILL of the launcher takes the agent with it', async () => {
    const dir = await tempDir('launcher');
    try {
      const config = agentConfig(dir.dir, ['memory_limit: 112MiB']);
      const first = start(['agent', '-c', config]);
      await waitForLog(first, 'sluice started', 60_000);
      const child = childOf(first.child.pid!);
      expect(vmFlags(child)).toEqual(['--max-old-space-size=80', '--max-semi-space-size=3']);
      // On the bundle the build makes (rolldown.config.ts), not on the separate modules.
      expect(readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0')).toContain(join(REPO, 'dist/bundle/sluice.js'));
      expect(readFileSync(`/proc/${child}/environ`, 'utf8').split('\0')).toContain(`SLUICE_MEMORY_LIMIT=${112 * MiB}`);

      first.child.kill('SIGKILL');
      await first.exited;
      await waitFor('the agent to die with its launcher', () => !alive(child), 10_000);
      // Its channel is free at once for the next agent.
      const second = start(['agent', '-c', config]);
      await waitForLog(second, 'sluice started', 60_000);
      const secondChild = childOf(second.child.pid!);
      expect(await second.stop('SIGTERM')).toBe(0);
      await waitFor('the agent to exit with its launcher', () => !alive(secondChild), 10_000);
    } finally {
      await dir.cleanup();
    }
  }, 180_000);

  it('stops cleanly when a SIGTERM reaches the launcher and the pipeline process both, as systemd sends it to every process of a unit', async () => {
    const dir = await tempDir('launcher-group');
    try {
      const config = agentConfig(dir.dir);
      const agent = start(['agent', '-c', config]);
      await waitForLog(agent, 'sluice started', 60_000);
      const child = childOf(agent.child.pid!);
      process.kill(child, 'SIGTERM');
      expect(await agent.stop('SIGTERM')).toBe(0);
      // The forwarded copy finds the agent stopping (logged as repeated) or already gone.
      const logs = agent.logs().map((l) => String(l.msg));
      expect(logs.filter((m) => m === 'stopping (send the signal again to exit at once)')).toHaveLength(1);
      expect(logs.filter((m) => m.startsWith('second signal'))).toEqual([]);
    } finally {
      await dir.cleanup();
    }
  }, 120_000);

  it('takes the pipeline process with it when the launcher is SIGKILLed while that process still loads', async () => {
    const dir = await tempDir('launcher-early-kill');
    try {
      const agent = start(['agent', '-c', agentConfig(dir.dir)]);
      let child = 0;
      await waitFor('the pipeline process', () => {
        try {
          child = childOf(agent.child.pid!);
          return child > 0;
        } catch {
          return false;
        }
      });
      agent.child.kill('SIGKILL');
      await agent.exited;
      await waitFor('the pipeline process to die with its launcher', () => !alive(child), 15_000);
      expect(agent.logs().map((l) => l.msg)).not.toContain('sluice started');
    } finally {
      await dir.cleanup();
    }
  }, 60_000);

  it('survives a SIGHUP (systemctl reload) while it starts and while it drains: a reload then, a clean stop after', async () => {
    const dir = await tempDir('launcher-hup');
    try {
      // Kafka is down: the lines stay in the channel, and the stop drains for drain_timeout.
      writeFileSync(join(dir.dir, 'app.log'), 'one\ntwo\n');
      const config = agentConfig(dir.dir, ['shutdown: { drain_timeout: 3s }']);
      const agent = start(['agent', '-c', config]);
      // As soon as the pipeline process listens for SIGHUP at all (SigCgt bit 1), long before it runs.
      let child = 0;
      await waitFor(
        'the pipeline process catching SIGHUP',
        () => {
          try {
            child = childOf(agent.child.pid!);
            const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${child}/status`, 'utf8'))?.[1];
            return caught !== undefined && (BigInt(`0x${caught}`) & 1n) === 1n;
          } catch {
            return false;
          }
        },
        30_000,
      );
      const startedBefore = agent.logs().some((l) => l.msg === 'sluice started');
      process.kill(child, 'SIGHUP');
      await waitForLog(agent, 'sluice started', 60_000);
      if (!startedBefore)
        expect(agent.logs().map((l) => l.msg)).toContain('a reload was asked for while the pipeline started: reloading the config now');
      await waitForLog(agent, 'config reload: nothing changed', 30_000);
      // Stopping: the forwarder waits for Kafka up to drain_timeout; a SIGHUP then is ignored.
      const stopped = agent.stop('SIGTERM');
      await waitForLog(agent, 'stopping (send the signal again to exit at once)', 10_000);
      process.kill(child, 'SIGHUP');
      expect(await stopped).toBe(0);
    } finally {
      await dir.cleanup();
    }
  }, 120_000);

  it('stops a collector signalled while its workers start once they are up: exit 0 and no worker left behind', async () => {
    const dir = await tempDir('launcher-workers');
    try {
      const config = unreachableCollector(dir.dir);
      const collector = start(['collector', '-c', config, '--workers', '2']);
      // A worker logs its client choice while it builds its bus, before it reports started.
      await waitForLog(collector, 'kafka client chosen', 60_000);
      const workers = childrenOf(childOf(collector.child.pid!));
      expect(workers).toHaveLength(2);
      expect(await collector.stop('SIGTERM')).toBe(0);
      const stopping = collector.logs().find((l) => l.msg === 'stopping (send the signal again to exit at once)' && l.worker === undefined);
      // Whether the signal came before the supervisor saw every worker start depends on timing; the outcome must not.
      console.log(`signalled while starting: ${stopping?.starting}`);
      for (const pid of workers) await waitFor(`worker ${pid} to exit`, () => !alive(pid), 10_000);
    } finally {
      await dir.cleanup();
    }
  }, 120_000);
});
