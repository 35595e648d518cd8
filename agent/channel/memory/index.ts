import { z } from 'zod';
import { type ComponentSpec, lazySpec } from '../../../core/registry.js';
import { bytesAtLeast } from '../options.js';
import type { MemoryChannel } from './memory-channel.js';

export const memoryChannelOptions = z.strictObject({
  max_events: z.number().int().positive().default(100_000).describe('Most events held; when reached, puts wait and sources pause'),
  // 32 MiB: with the batches in flight it fits the agent's default memory_limit (128MiB).
  max_bytes: bytesAtLeast(1024)
    .default(32 * 1024 * 1024)
    .describe('Most bytes held (approximate in-memory size of the events, within memory_limit); when reached, puts wait and sources pause'),
});

export type MemoryChannelOptions = z.output<typeof memoryChannelOptions>;

export const memoryChannelSpec: ComponentSpec<'channel', MemoryChannelOptions, MemoryChannel> = lazySpec(
  {
    kind: 'channel',
    type: 'memory',
    description: 'Bounded in-memory buffer: fast, applies backpressure when full, loses its contents (and source checkpoints) on exit',
    options: memoryChannelOptions,
    memory: (o) => [{ what: 'max_bytes', bytes: o.max_bytes }],
  },
  async () => {
    const { MemoryChannel } = await import('./memory-channel.js');
    return {
      create: (options, ctx) => new MemoryChannel({ maxEvents: options.max_events, maxBytes: options.max_bytes }, ctx.name, ctx.logger),
    };
  },
);

export type { MemoryChannelConfig } from './memory-channel.js';
