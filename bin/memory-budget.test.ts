import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatProblem } from '../config/errors.js';
import { parseConfig } from '../config/load.js';
import { memoryUses } from '../config/memory.js';
import { heapFlags, inFlightAllowance } from '../config/memory-budget.js';
import { checkRole } from '../config/roles.js';
import { tempDir } from '../test/support/index.js';
import { createRegistry } from './components.js';
import { launchPlan } from './launch.js';

const MiB = 1024 * 1024;

const agent = (extra = '', channel = 'channel: { type: disk }') =>
  [
    ...(extra ? [extra] : []),
    'sources:',
    '  app: { type: file, include: [/var/log/app/*.log] }',
    channel,
    'bus: { type: kafka, brokers: k:9092, client: kafkajs }',
  ].join('\n');

const problems = (yaml: string, role: 'agent' | 'collector' | 'run') => {
  try {
    checkRole(parseConfig(yaml, 'a.yaml', createRegistry(), {}), role);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map(formatProblem);
  }
};

describe('memory_limit', () => {
  it('takes a size with a unit, at least 64MiB', () => {
    expect(parseConfig(agent('memory_limit: 96MiB'), 'a.yaml', createRegistry(), {}).memoryLimit).toBe(96 * MiB);
    expect(() => parseConfig(agent('memory_limit: 128'), 'a.yaml', createRegistry(), {})).toThrow(
      /a\.yaml:1:15: memory_limit: expected a size such as "512KiB" or "64MiB", got 128 \(a size needs a unit: did you mean "128B" or "128MiB"\?\)/,
    );
    expect(() => parseConfig(agent('memory_limit: 32MiB'), 'a.yaml', createRegistry(), {})).toThrow(
      /memory_limit: must be at least 64MiB \(Node alone takes about 45MiB\), got 32MiB/,
    );
  });

  it('fits the defaults of an agent in its default budget', () => {
    expect(problems(agent(), 'agent')).toEqual([]);
    const uses = memoryUses(parseConfig(agent(), 'a.yaml', createRegistry(), {}), 'agent').map((u) => u.what);
    expect(uses).toEqual([
      'sources.app: read_buffer_bytes',
      'sources.app: batch (2 in flight)',
      'bus: producer.batch.max_events (2 sends in flight + the next + the client queue)',
      'dead_letter: remembered entries (200,000 keys)',
    ]);
  });

  it('refuses a budget too small for the buffers, naming the largest and the size needed', () => {
    expect(problems(agent('memory_limit: 64MiB', 'channel: { type: memory, max_bytes: 256MiB }'), 'agent')).toEqual([
      'a.yaml:1:1: memory_limit: memory_limit 64MiB is too small for this pipeline: its buffers and batches may hold 292.0MiB (channel: max_bytes 256MiB, bus: producer.batch.max_events (2 sends in flight + the next + the client queue) 13.9MiB, dead_letter: remembered entries (200,000 keys) 12.2MiB, sources.app: batch (2 in flight) 9.7MiB) and Node itself needs about 54MiB; set memory_limit to at least 376MiB, or lower those options',
    ]);
    // The default budget of the role when the file has none.
    expect(problems(agent('', 'channel: { type: memory, max_bytes: 256MiB }'), 'agent')[0]).toMatch(
      /memory_limit 128MiB \(the default of `sluice agent`\) is too small/,
    );
    expect(problems(agent('memory_limit: 512MiB', 'channel: { type: memory, max_bytes: 256MiB }'), 'agent')).toEqual([]);
    // The size it names is enough, though the young generation grows with the budget; a MiB less is not.
    expect(problems(agent('memory_limit: 376MiB', 'channel: { type: memory, max_bytes: 256MiB }'), 'agent')).toEqual([]);
    expect(problems(agent('memory_limit: 375MiB', 'channel: { type: memory, max_bytes: 256MiB }'), 'agent')[0]).toMatch(/at least 376MiB/);
  });

  it('names a size above a budget it refuses, as a larger budget leaves more room', () => {
    // Just over what the default agent budget leaves: rounding the semi-space to whole MiB
    // made 127MiB leave more than 128MiB, and the message asked for a smaller budget.
    const channel = 'channel: { type: memory, max_bytes: 33MiB }';
    const [message] = problems(agent('', channel), 'agent');
    const named = Number(/at least (\d+)MiB/.exec(message ?? '')?.[1]);
    expect(named).toBe(130);
    expect(problems(agent(`memory_limit: ${named}MiB`, channel), 'agent')).toEqual([]);
    expect(problems(agent(`memory_limit: ${named - 1}MiB`, channel), 'agent')[0]).toMatch(/at least 130MiB/);
    for (let mib = 64; mib < 2048; mib++) expect(inFlightAllowance((mib + 1) * MiB)).toBeGreaterThan(inFlightAllowance(mib * MiB));
  });

  it("counts the disk channel's read cache only when it is on", () => {
    const uses = (channel: string) => memoryUses(parseConfig(agent('', channel), 'a.yaml', createRegistry(), {}), 'agent');
    expect(uses('channel: { type: disk, read_cache_bytes: 4MiB }')).toContainEqual({
      what: 'channel: read_cache_bytes (decoded events)',
      bytes: 12 * MiB,
    });
    expect(uses('channel: { type: disk }').map((u) => u.what)).not.toContain('channel: read_cache_bytes (decoded events)');
  });

  it('counts only the half of the bus the role runs', () => {
    const config = parseConfig(agent(), 'a.yaml', createRegistry(), {});
    expect(memoryUses(config, 'collector').map((u) => u.what)).toEqual([
      'bus: consumer.max_bytes, max_bytes_per_partition x partitions_concurrently',
      'dead_letter: remembered entries (200,000 keys)',
    ]);
    // A kafka dead-letter remembers the entries of its file for what the topic refuses; the
    // agent's own is a file whatever the collector's type.
    const kafka = parseConfig(`${agent()}\ndead_letter: { type: kafka }`, 'a.yaml', createRegistry(), {});
    expect(memoryUses(kafka, 'collector').map((u) => u.what)).toEqual([
      'bus: consumer.max_bytes, max_bytes_per_partition x partitions_concurrently',
      'dead_letter: refused_path: remembered entries (200,000 keys)',
    ]);
    expect(memoryUses(kafka, 'agent').map((u) => u.what)).toContain('dead_letter: remembered entries (200,000 keys)');
  });
});

describe('the launcher', () => {
  it('sizes the heap of agent, collector and run from memory_limit, environment substituted', async () => {
    const dir = await tempDir('launch');
    try {
      const file = join(dir.dir, 'a.yaml');
      await writeFile(file, agent('memory_limit: ${AGENT_MEMORY:-256MiB}'));
      expect(launchPlan(['agent', '-c', file], {})).toEqual({ role: 'agent', limit: 256 * MiB, flags: heapFlags(256 * MiB) });
      expect(launchPlan(['--log-level', 'debug', 'agent', `--config=${file}`], { AGENT_MEMORY: '1GiB' })?.limit).toBe(1024 * MiB);
      // Unreadable or invalid: the role's default; the child reports the problem.
      expect(launchPlan(['collector', '-c', join(dir.dir, 'missing.yaml')], {})?.limit).toBe(512 * MiB);
      expect(launchPlan(['run', '-c', file], { AGENT_MEMORY: '12' })?.limit).toBe(128 * MiB);
      // Other commands, and the launched child itself, run in-process.
      expect(launchPlan(['validate', '-c', file], {})).toBeUndefined();
      expect(launchPlan(['agent', '-c', file], { SLUICE_MEMORY_LIMIT: String(256 * MiB) })).toBeUndefined();
    } finally {
      await dir.cleanup();
    }
  });

  it('gives V8 semi-spaces of a 32nd of the budget and an old generation below it', () => {
    expect(heapFlags(128 * MiB)).toEqual(['--max-old-space-size=96', '--max-semi-space-size=4']);
    expect(heapFlags(512 * MiB)).toEqual(['--max-old-space-size=480', '--max-semi-space-size=16']);
    expect(heapFlags(4096 * MiB)).toEqual(['--max-old-space-size=4064', '--max-semi-space-size=16']);
  });
});
