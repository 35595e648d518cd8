import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEvent } from '../../../core/event.js';
import { type Logger, silentLogger } from '../../../core/log.js';
import type { ChannelWriter, ComponentContext, SourceCheckpoint } from '../../../core/pipeline.js';
import { fileSourceOptions, type FileSourceInput } from './options.js';
import { FileSource } from './source.js';

/** Test support (used by the *.test.ts files here): an in-memory channel and polling helpers. */
export class RecordingChannel implements ChannelWriter {
  readonly events: LogEvent[] = [];
  readonly checkpoints: SourceCheckpoint[] = [];
  puts = 0;
  /** While set, put() waits for it: a full channel. */
  gate: Promise<void> | undefined;

  constructor(private readonly recovered?: SourceCheckpoint) {}

  async put(events: LogEvent[], checkpoint?: SourceCheckpoint): Promise<void> {
    this.puts++;
    if (await this.gate) await this.gate;
    this.events.push(...events);
    if (checkpoint) this.checkpoints.push(structuredClone(checkpoint));
  }

  lastCheckpoint(): SourceCheckpoint | undefined {
    return this.checkpoints.at(-1) ?? this.recovered;
  }

  messages(): string[] {
    return this.events.map((e) => e.message);
  }
}

export async function tempDir(prefix = 'sluice-file-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A source whose state lives in `<dir>/<name>/` (created), as the runtime gives each component its dataDir. */
export function makeSource(options: FileSourceInput, dir: string, name = 'files', logger: Logger = silentLogger()): FileSource {
  const dataDir = join(dir, name);
  mkdirSync(dataDir, { recursive: true });
  const ctx: ComponentContext = { name, logger, dataDir, host: 'test-host' };
  // Fast timings for tests; each test may override them.
  return new FileSource(
    fileSourceOptions.parse({
      poll_interval: '20ms',
      rescan_interval: '100ms',
      rotate_wait: '200ms',
      checkpoint_interval: '50ms',
      ...options,
    }),
    ctx,
  );
}

/** Polls `cond` until it holds; fails with `what` after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
