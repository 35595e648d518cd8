import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, vi } from 'vitest';
import { applyCheckpoint } from '../../../core/checkpoint-patch.js';
import type { LogEvent } from '../../../core/event.js';
import { type Logger, silentLogger } from '../../../core/log.js';
import type { ChannelWriter, ComponentContext, SourceCheckpoint } from '../../../core/pipeline.js';
import { tempDir } from '../../../test/support/index.js';
import { fileSourceOptions, type FileSourceInput } from './options.js';
import { FileSource } from './source.js';
import type { Tracker } from './tracker.js';

/** Test support (used by the *.test.ts files here and the docker source's): an in-memory channel, sources with fast timings. */
export class RecordingChannel implements ChannelWriter {
  readonly events: LogEvent[] = [];
  /** The checkpoint the channel holds after each put with one: whole, patches merged as a channel does. */
  readonly checkpoints: SourceCheckpoint[] = [];
  /** The checkpoints as put: whole or patches. */
  readonly sent: SourceCheckpoint[] = [];
  puts = 0;
  /** While set, put() waits for it: a full channel. */
  gate: Promise<void> | undefined;

  constructor(private readonly recovered?: SourceCheckpoint) {}

  async put(events: LogEvent[], checkpoint?: SourceCheckpoint): Promise<void> {
    this.puts++;
    if (await this.gate) await this.gate;
    this.events.push(...events);
    if (!checkpoint) return;
    this.sent.push(structuredClone(checkpoint));
    const merged = applyCheckpoint(this.lastCheckpoint(), structuredClone(checkpoint));
    if (!merged)
      throw new Error(`checkpoint patch ${checkpoint.seq} (of ${checkpoint.base}) does not apply to ${this.lastCheckpoint()?.seq}`);
    this.checkpoints.push(merged);
  }

  lastCheckpoint(): SourceCheckpoint | undefined {
    return this.checkpoints.at(-1) ?? this.recovered;
  }

  messages(): string[] {
    return this.events.map((e) => e.message);
  }
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

export interface SourcesUnderTest {
  /** This test's temporary directory. */
  readonly dir: string;
  /** Starts a source (state in `<dir>/<name>`), stopped after the test if it is still running. */
  start(options: FileSourceInput, ch: RecordingChannel, name?: string, logger?: Logger): Promise<FileSource>;
  /** Keeps a source made otherwise to stop it after the test. */
  track(s: FileSource): FileSource;
  stop(s: FileSource): Promise<void>;
}

/** For a test file: a fresh directory per test, and every source started through it stopped after the test. */
export function sourcesUnderTest(prefix: string): SourcesUnderTest {
  let dir = '';
  let cleanup = async (): Promise<void> => undefined;
  const running: FileSource[] = [];
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir(prefix));
  });
  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop();
    await cleanup();
  });
  const track = (s: FileSource): FileSource => {
    running.push(s);
    return s;
  };
  return {
    get dir() {
      return dir;
    },
    track,
    async start(options, ch, name, logger) {
      const s = track(makeSource(options, dir, name, logger));
      await s.start(ch);
      return s;
    },
    async stop(s) {
      running.splice(running.indexOf(s), 1);
      await s.stop();
    },
  };
}

/** How often a running source looks at `path` (Tracker.check) over `ms` with nothing written: what the poll costs that file. */
export async function looksWhileIdle(source: FileSource, path: string, ms: number): Promise<number> {
  const tracker = (source as unknown as { tracker: Tracker }).tracker;
  const spy = vi.spyOn(tracker, 'check');
  await new Promise((r) => setTimeout(r, ms));
  // The file under that name: one renamed away keeps the name until let go, and is polled on its own.
  const n = spy.mock.calls.filter(([f]) => f.path === path && f.state !== 'detached').length;
  spy.mockRestore();
  return n;
}
