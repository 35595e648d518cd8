import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../../../core/log.js';
import { counter } from '../../../core/metrics.js';
import type { ChannelWriter, ComponentContext, Source } from '../../../core/pipeline.js';
import type { ComponentSpec } from '../../../core/registry.js';
import { byteSize, duration } from '../../../core/units.js';
import { DEMO_STREAMS, demoEvent, Random, type DemoStream } from './generate.js';

export const demoSourceOptions = z
  .strictObject({
    dir: z
      .string()
      .min(1)
      .default('./var/demo')
      .describe('Directory the demo log files are written under, as <dir>/<service>/<module>.log (relative to the working directory)'),
    rate: z.number().min(0).max(1_000_000).default(50).describe('Lines per second over all files (a stack trace counts each of its lines)'),
    rotate_bytes: byteSize()
      .default(1024 * 1024)
      .describe('A file reaching this size is rotated like logrotate: renamed to .1 (older ones shifted) and created anew; 0 = never'),
    keep_rotated: z.number().int().min(0).max(100).default(3).describe('Rotated files kept (.1 to .N); older ones are deleted'),
    seed: z.number().int().optional().describe('Seed of the random content, for reproducible output; default: a new one on every start'),
    interval: duration()
      .pipe(z.number().int().min(10).max(10_000))
      .default(100)
      .describe('How often lines are written (each time, the lines due since the last time), from 10ms to 10s'),
  })
  .describe('Writes realistic demo logs (web access, Java with stack traces, JSON) into files, for a file source to tail')
  .meta({ renamed: { interval_ms: 'interval (a duration with its unit, e.g. 100ms)' } });

export type DemoSourceOptions = z.output<typeof demoSourceOptions>;

const demoLines = counter('sluice_demo_lines_total', 'Lines the demo source wrote into its files', ['component'] as const);

interface DemoFile {
  stream: DemoStream;
  path: string;
  handle: FileHandle | undefined;
  size: number;
}

/**
 * The `demo` source, like Vector's demo_logs but one step earlier: it does not hand events
 * to the channel, it writes log files the way services do — appending, and rotating by
 * rename + create — so a `file` source tailing its directory shows the whole pipeline,
 * rotation handling included, with nothing else installed. It is a source so that one
 * config starts and stops it with the rest; `start` ignores the channel on purpose.
 */
export class DemoSource implements Source {
  private readonly dir: string;
  private readonly random: Random;
  private readonly files: DemoFile[];
  private readonly totalWeight: number;
  private readonly logger: Logger;
  private readonly label: { component: string };
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> = Promise.resolve();
  private last = 0;
  private due = 0;
  written = 0;
  rotations = 0;

  constructor(
    private readonly options: DemoSourceOptions,
    ctx: Pick<ComponentContext, 'name' | 'logger'>,
    private readonly clock: () => number = Date.now,
  ) {
    this.dir = resolve(options.dir);
    this.random = new Random(options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.files = DEMO_STREAMS.map((stream) => ({
      stream,
      path: join(this.dir, stream.service, `${stream.module}.log`),
      handle: undefined,
      size: 0,
    }));
    this.totalWeight = DEMO_STREAMS.reduce((n, s) => n + s.weight, 0);
    this.logger = ctx.logger;
    this.label = { component: ctx.name };
  }

  async start(_out: ChannelWriter): Promise<void> {
    for (const file of this.files) await this.openFile(file);
    this.logger.info(
      { dir: this.dir, rate: this.options.rate, files: this.files.map((f) => f.path) },
      'demo source writing log files (tail them with a file source)',
    );
    this.last = this.clock();
    this.timer = setInterval(() => {
      this.tick = this.tick
        .then(() => this.writeDue(this.clock()))
        .catch((err: unknown) => this.logger.error({ err }, 'demo source could not write; trying again'));
    }, this.options.interval);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.tick;
    for (const file of this.files) {
      await file.handle?.close();
      file.handle = undefined;
    }
  }

  /** Writes the lines due between the last call and `now` (whole events, a stack trace never split over two writes). */
  async writeDue(now: number): Promise<void> {
    this.due += ((now - this.last) / 1000) * this.options.rate;
    this.last = now;
    const chunks = new Map<DemoFile, string[]>();
    while (this.due >= 1) {
      const file = this.pickFile();
      const lines = demoEvent(file.stream, this.random, now);
      this.due -= lines.length;
      let chunk = chunks.get(file);
      if (!chunk) chunks.set(file, (chunk = []));
      chunk.push(...lines);
    }
    for (const [file, lines] of chunks) {
      lines.push('');
      const data = Buffer.from(lines.join('\n'));
      await file.handle!.write(data);
      file.size += data.length;
      this.written += lines.length - 1;
      demoLines.inc(this.label, lines.length - 1);
      if (this.options.rotate_bytes > 0 && file.size >= this.options.rotate_bytes) await this.rotate(file);
    }
  }

  private pickFile(): DemoFile {
    let x = this.random.next() * this.totalWeight;
    for (const file of this.files) {
      x -= file.stream.weight;
      if (x < 0) return file;
    }
    return this.files[this.files.length - 1]!;
  }

  private async openFile(file: DemoFile): Promise<void> {
    await mkdir(join(this.dir, file.stream.service), { recursive: true });
    file.handle = await open(file.path, 'a');
    file.size = (await file.handle.stat()).size;
  }

  /** logrotate's default: app.log.2 -> .3, app.log.1 -> .2, app.log -> .1, then a new app.log. */
  private async rotate(file: DemoFile): Promise<void> {
    await file.handle!.close();
    const keep = this.options.keep_rotated;
    if (keep === 0) await rm(file.path, { force: true });
    else {
      await rm(`${file.path}.${keep}`, { force: true });
      for (let i = keep - 1; i >= 1; i--)
        await rename(`${file.path}.${i}`, `${file.path}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
      await rename(file.path, `${file.path}.1`);
    }
    await this.openFile(file);
    this.rotations++;
  }
}

export const demoSourceSpec: ComponentSpec<'source', DemoSourceOptions, Source> = {
  kind: 'source',
  type: 'demo',
  description: 'writes realistic demo logs (web access, Java stack traces, JSON) into rotating files for a file source to tail',
  options: demoSourceOptions,
  create: (options, ctx) => new DemoSource(options, ctx),
  // It only writes files: the file source that tails them sets the fields.
  fieldsSet: () => [],
};
