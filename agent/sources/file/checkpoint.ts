import { readFile } from 'node:fs/promises';
import { replaceFile } from '../../../core/durable-file.js';
import { z } from 'zod';
import type { SourceCheckpoint } from '../../../core/pipeline.js';

/**
 * The file source's checkpoint state (README.md, "Checkpoint format"). It travels with
 * every put to the channel and is also written to `<dataDir>/checkpoint.json`; on
 * start the newer of the two (by `seq`) wins.
 */
const fingerprint = z.strictObject({ len: z.number().int().min(0), hash: z.string() });

/**
 * CRC-32 (8 hex digits) of the last bytes before `pos` (at most 256): a file continuing the
 * entry must hold them there, not only start the same way. Absent when they were not known
 * (older checkpoints): such an entry is continued on its first bytes alone.
 */
const tail = z
  .string()
  .regex(/^[0-9a-f]{8}$/, 'expected 8 lowercase hex digits')
  .optional();

const fileEntry = z.strictObject({
  /** fileId: what events carry; kept across restarts so a re-read line gets the same event id. */
  id: z.string().min(1),
  dev: z.number(),
  ino: z.number(),
  fp: fingerprint,
  path: z.string(),
  /** Byte offset of the first byte not yet handed to the channel. */
  pos: z.number().int().min(0),
  /**
   * Set while the file is followed from its end as the copy of a truncated one holding only the
   * start of what was read of it (the original's path): if it grows, even while the source is
   * down, it was no copy and is read from its start.
   */
  prefixOf: z.string().min(1).optional(),
  /** Of the bytes before `pos`: for the lost entry it becomes when its file is gone at the next start. */
  tail,
});

const lostEntry = z.strictObject({
  id: z.string().min(1),
  fp: fingerprint,
  path: z.string(),
  pos: z.number().int().min(0),
  /** When it was let go (ms since epoch); forgotten `forget_after` later. */
  at: z.number(),
  tail,
});

const stateSchema = z.strictObject({
  v: z.literal(1),
  files: z.array(fileEntry),
  lost: z.array(lostEntry),
});

export type FileEntry = z.infer<typeof fileEntry>;
export type LostEntry = z.infer<typeof lostEntry>;
export type FileSourceState = z.infer<typeof stateSchema>;

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export function parseState(state: unknown, where: string): FileSourceState {
  const r = stateSchema.safeParse(state);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new CheckpointError(`invalid file source checkpoint in ${where}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return r.data;
}

/** The newer of two checkpoints by seq (either may be missing). */
export function newerCheckpoint(a: SourceCheckpoint | undefined, b: SourceCheckpoint | undefined): SourceCheckpoint | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.seq > a.seq ? b : a;
}

/** The checkpoint file: replaced atomically (temp file, fsync, rename, fsync of the directory). */
export class CheckpointFile {
  constructor(readonly path: string) {}

  async load(): Promise<SourceCheckpoint | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new CheckpointError(`checkpoint file ${this.path} is not JSON: ${(err as Error).message}`);
    }
    const p = parsed as Partial<SourceCheckpoint>;
    if (typeof p !== 'object' || p === null || typeof p.source !== 'string' || typeof p.seq !== 'number') {
      throw new CheckpointError(`checkpoint file ${this.path} lacks source/seq`);
    }
    return { source: p.source, seq: p.seq, state: p.state };
  }

  async save(checkpoint: SourceCheckpoint): Promise<void> {
    await replaceFile(this.path, JSON.stringify(checkpoint));
  }
}
