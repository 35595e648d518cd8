import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { replaceFile } from '../../../core/durable-file.js';
import { z } from 'zod';
import type { SourceCheckpoint } from '../../../core/pipeline.js';

/**
 * The file source's checkpoint state (README.md, "Checkpoint format"). It travels with
 * every put to the channel, mostly as a patch of the state the channel holds
 * (CheckpointPatches), and is also written whole to `<dataDir>/checkpoint.json`; on start
 * the newer of the two (by `seq`) wins.
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

/** Version 1 (before checkpoints were sent as patches): the files as an array. */
const stateV1 = z.strictObject({
  v: z.literal(1),
  files: z.array(fileEntry),
  lost: z.array(lostEntry),
});

/** Version 2: the files by `fileKey`, so that a patch can name the entries that changed. */
const stateV2 = z.strictObject({
  v: z.literal(2),
  files: z.record(z.string(), fileEntry),
  lost: z.array(lostEntry),
});

const stateSchema = z.union([stateV2, stateV1]);

export type FileEntry = z.infer<typeof fileEntry>;
export type LostEntry = z.infer<typeof lostEntry>;
export type FileSourceState = z.infer<typeof stateV2>;

/** The key of a file's entry: its device and inode, as the tracker keys the files it follows. */
export function fileKey(e: { dev: number; ino: number }): string {
  return `${e.dev}:${e.ino}`;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** A state of either version, as version 2. */
export function parseState(state: unknown, where: string): FileSourceState {
  const v = (state as { v?: unknown } | null)?.v;
  const r = (v === 1 ? stateV1 : v === 2 ? stateV2 : stateSchema).safeParse(state);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new CheckpointError(`invalid file source checkpoint in ${where}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  if (r.data.v === 2) {
    for (const [key, e] of Object.entries(r.data.files)) {
      if (key !== fileKey(e))
        throw new CheckpointError(`invalid file source checkpoint in ${where}: files.${key}: the entry is of ${fileKey(e)}`);
    }
    return r.data;
  }
  const files: Record<string, FileEntry> = {};
  for (const e of r.data.files) files[fileKey(e)] = e;
  return { v: 2, files, lost: r.data.lost };
}

/** The newer of two checkpoints by seq (either may be missing). */
export function newerCheckpoint(a: SourceCheckpoint | undefined, b: SourceCheckpoint | undefined): SourceCheckpoint | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.seq > a.seq ? b : a;
}

/** A checkpoint about to be put, with what the patches after it are made against once the channel has it. */
export interface OutgoingCheckpoint {
  readonly checkpoint: SourceCheckpoint;
  readonly files: ReadonlyMap<string, string>;
  readonly lost: string;
}

/**
 * The checkpoints the source puts: a whole state after a start (or a restart of its
 * loop) and at least every `interval` ms, else an RFC 7386 patch of the state of the last
 * put the channel accepted, holding only what changed. Changes are found by comparing each
 * entry's JSON with the one last accepted, so nothing has to remember to mark an entry
 * dirty. A changed entry goes whole, with null for the optional members it lacks, so that
 * merged over its older self it leaves exactly the new entry; a removed one is null;
 * `lost` goes whole when it changed. Each start of the loop is a new `run`: a channel
 * applies a patch only to a checkpoint of its own run, since seqs counted after a restart
 * may repeat ones still in the channel.
 */
export class CheckpointPatches {
  private base: { seq: number; files: ReadonlyMap<string, string>; lost: string } | undefined;
  private wholeAt = 0;
  private run = newRun();

  constructor(
    private readonly source: string,
    private readonly interval: number,
  ) {}

  /** The checkpoint of `state` as the put of seq `seq` at `now` carries it. */
  next(seq: number, state: FileSourceState, now: number): OutgoingCheckpoint {
    const files = new Map<string, string>();
    for (const [key, e] of Object.entries(state.files)) files.set(key, JSON.stringify(e));
    const lost = JSON.stringify(state.lost);
    const base = this.base;
    if (!base || now - this.wholeAt >= this.interval) {
      return { checkpoint: { source: this.source, seq, run: this.run, state }, files, lost };
    }
    const changed: Record<string, unknown> = {};
    for (const [key, text] of files) {
      if (base.files.get(key) !== text) changed[key] = { prefixOf: null, tail: null, ...state.files[key] };
    }
    for (const key of base.files.keys()) if (!files.has(key)) changed[key] = null;
    const patch: Record<string, unknown> = {};
    if (Object.keys(changed).length > 0) patch.files = changed;
    if (lost !== base.lost) patch.lost = state.lost;
    return { checkpoint: { source: this.source, seq, run: this.run, patch: true, base: base.seq, state: patch }, files, lost };
  }

  /** The channel accepted `out`: the next patches are made against it. */
  accepted(out: OutgoingCheckpoint, now: number): void {
    this.base = { seq: out.checkpoint.seq, files: out.files, lost: out.lost };
    if (!out.checkpoint.patch) this.wholeAt = now;
  }

  /** The next checkpoint is whole (the loop restarts: what the channel holds is not known to match). */
  reset(): void {
    this.base = undefined;
    this.run = newRun();
  }
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

function newRun(): string {
  return randomBytes(6).toString('hex');
}
