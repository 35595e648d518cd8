import { z } from 'zod';
import { type ComponentSpec, lazySpec } from '../../../core/registry.js';
import { duration } from '../../../core/units.js';
import { bytesAtLeast } from '../options.js';
import type { DiskChannel } from './disk-channel.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export const diskChannelOptions = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .optional()
      .describe("Directory of the channel's segment files and pointer (default: the component's data directory)"),
    max_bytes: bytesAtLeast(64 * 1024)
      .default(GiB)
      .describe('Most bytes the channel may occupy on disk; when full, puts wait and sources pause (never dropped)'),
    segment_bytes: bytesAtLeast(4096)
      .optional()
      .describe(
        'Size at which a segment file is closed and a new one started (default: 64MiB, at most max_bytes / 4); fully committed segments are deleted',
      ),
    fsync: z
      .union([z.literal('always'), duration().pipe(z.number().positive({ error: 'must be "always" or a positive duration' }))])
      .default('always')
      .describe(
        '\'always\': a put resolves only after fdatasync (nothing lost even on power failure); a duration such as "1s": fdatasync that often and resolve puts after write(), trading power-loss safety for speed (a process crash still loses nothing)',
      ),
    commit_fsync: z
      .union([z.literal('always'), duration().pipe(z.number().positive({ error: 'must be "always" or a positive duration' }))])
      .default(1000)
      .describe(
        "How often the taker's committed position is fdatasync'd: a duration (default 1s: commits resolve after write(), and the newest position is synced within that long; a process crash loses and repeats nothing, a power failure delivers that long of events again, which the sinks drop by event id), or 'always': every commit waits for its own fdatasync",
      ),
    read_cache_bytes: bytesAtLeast(0)
      .default(0)
      .describe(
        "Recently put records kept decoded in memory so the taker reads neither the disk nor the page cache for them. Off (0) by default: decoding a record again cost less than keeping its events alive from put to commit (they are promoted to V8's old generation and collected there), which made the agent no faster and sluice run about 10% slower, with a 10-16MiB higher RSS peak. Worth it only where reading just-written segments is slow. Decoded, they take about 3x this in the heap (counted against memory_limit)",
      ),
    retry_backoff_max: duration()
      .pipe(z.number().positive({ error: 'must be a positive duration' }))
      .default(5000)
      .describe('Longest wait between retries of a failing disk write (ENOSPC, EIO, ...)'),
  })
  .superRefine((o, ctx) => {
    if (o.segment_bytes !== undefined && o.segment_bytes * 2 > o.max_bytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['segment_bytes'],
        message: `segment_bytes (${o.segment_bytes}) must be at most half of max_bytes (${o.max_bytes}), so committed segments can be deleted to make room`,
      });
    }
  });

export type DiskChannelOptions = z.output<typeof diskChannelOptions>;

/** Lazy (core/registry.ts): a collector validates this type but never imports the channel. */
export const diskChannelSpec: ComponentSpec<'channel', DiskChannelOptions, DiskChannel> = lazySpec(
  {
    kind: 'channel',
    type: 'disk',
    description: 'Durable buffer on local disk (segmented write-ahead log); survives crashes and restarts, applies backpressure when full',
    options: diskChannelOptions,
    // The cache holds decoded events, counted by their encoded size: a 200-byte line takes
    // about 210 bytes on disk and 626 in the heap.
    memory: (o) => (o.read_cache_bytes > 0 ? [{ what: 'read_cache_bytes (decoded events)', bytes: 3 * o.read_cache_bytes }] : []),
  },
  async () => {
    const { DiskChannel } = await import('./disk-channel.js');
    return {
      create: (options, ctx) =>
        new DiskChannel(
          {
            path: options.path ?? ctx.dataDir,
            maxBytes: options.max_bytes,
            segmentBytes: options.segment_bytes ?? Math.min(64 * MiB, Math.floor(options.max_bytes / 4)),
            fsync: options.fsync,
            commitFsync: options.commit_fsync,
            readCacheBytes: options.read_cache_bytes,
            retryBackoffMaxMs: options.retry_backoff_max,
          },
          ctx.name,
          ctx.logger,
        ),
    };
  },
);

export type { DiskChannelConfig, DiskChannelStats } from './disk-channel.js';
