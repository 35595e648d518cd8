import { z } from 'zod';
import type { LogEvent } from '../../core/event.js';
import { type Sink, WRITTEN, type WriteResult } from '../../core/pipeline.js';
import type { ComponentSpec } from '../../core/registry.js';
import { encodeEventString } from '../../core/wire.js';

export const consoleSinkOptions = z
  .strictObject({
    encoding: z.enum(['text', 'json']).default('text').describe('text: the raw message per line; json: the whole event in the wire format'),
    stream: z.enum(['stdout', 'stderr']).default('stdout'),
  })
  .describe('Prints events, one per line: for trying pipelines out and debugging');

export type ConsoleSinkOptions = z.infer<typeof consoleSinkOptions>;

/** Writes events to stdout/stderr; a batch is acknowledged once the stream took all of it. */
export class ConsoleSink implements Sink {
  constructor(
    private readonly options: ConsoleSinkOptions,
    private readonly out: NodeJS.WritableStream = options.stream === 'stderr' ? process.stderr : process.stdout,
  ) {}

  async open(): Promise<void> {}

  write(batch: readonly LogEvent[]): Promise<WriteResult> {
    if (batch.length === 0) return Promise.resolve(WRITTEN);
    const text = this.options.encoding === 'json' ? batch.map(encodeEventString).join('\n') : batch.map((e) => e.message).join('\n');
    return new Promise((resolve, reject) => {
      this.out.write(`${text}\n`, (err) => (err ? reject(err) : resolve(WRITTEN)));
    });
  }

  async close(): Promise<void> {}
}

export const consoleSinkSpec: ComponentSpec<'sink', ConsoleSinkOptions, Sink> = {
  kind: 'sink',
  type: 'console',
  description: 'prints events to stdout or stderr',
  // Each process writes whole batches of lines; nothing is kept locally.
  sharedAcrossProcesses: true,
  options: consoleSinkOptions,
  create: (options) => new ConsoleSink(options),
};
