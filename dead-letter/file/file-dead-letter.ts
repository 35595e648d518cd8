import { createHash } from 'node:crypto';
import { extname, join, resolve } from 'node:path';
import { AppendFile } from '../../core/append-file.js';
import type { DeadLetter, DeadLetterEntry } from '../../core/dead-letter.js';
import type { Logger } from '../../core/log.js';
import type { ComponentSpec } from '../../core/registry.js';
import { countDeadLettered, entryIdentity, formatEntry } from '../entry.js';
import { REMEMBER_BYTES, REMEMBER_KEYS } from './memory.js';
import type { FileDeadLetterOptions } from './options.js';

/** At most one "wrote to the dead-letter" line per this interval; the entries between are summed into the next. */
const LOG_EVERY_MS = 10_000;

/**
 * What makes an entry the same entry when a batch is read again after a crash, as 128 bits
 * of SHA-256 (22 characters): a reason can be a destination's error text of hundreds of
 * bytes, and 200,000 of them would be tens of MiB.
 */
function entryKey(entry: Parameters<typeof entryIdentity>[0]): string | undefined {
  const text = entryIdentity(entry);
  return text === undefined ? undefined : createHash('sha256').update(text).digest().subarray(0, 16).toString('base64url');
}

/**
 * Appends JSON lines to a local file, fsync'd before write() resolves, never leaving a cut
 * line (core/append-file.ts). Idempotent: a batch re-read after a crash (its offsets were not
 * committed) dead-letters the same records again; entries already in the file (by Kafka
 * coordinates, or event id and reason) are not written twice. What it remembers is bounded:
 * the keys found in the file's last 16 MiB at open, and the newest 200,000.
 */
export class FileDeadLetter implements DeadLetter {
  private readonly file: AppendFile;
  private readonly seen = new Set<string>();
  /** Entries written since the last log line, and when that was. */
  private unlogged = 0;
  private loggedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {
    this.file = new AppendFile(path);
  }

  async open(): Promise<void> {
    const cut = await this.file.open();
    if (cut > 0) this.logger.warn({ file: this.path, bytes: cut }, 'dead-letter torn tail cut');
    for (const line of (await this.file.readTail(REMEMBER_BYTES)).split('\n')) {
      if (!line) continue;
      try {
        const key = entryKey(JSON.parse(line));
        if (key) this.remember(key);
      } catch {
        // A line that is not JSON was not written by this class; it holds no key.
      }
    }
  }

  async write(entries: readonly DeadLetterEntry[]): Promise<void> {
    const fresh: DeadLetterEntry[] = [];
    const keys = new Set<string>();
    for (const e of entries) {
      const key = entryKey(e);
      if (key !== undefined) {
        if (this.seen.has(key) || keys.has(key)) continue;
        keys.add(key);
      }
      fresh.push(e);
    }
    if (fresh.length === 0) return;
    await this.file.append(`${fresh.map((e) => formatEntry(e)).join('\n')}\n`);
    for (const key of keys) this.remember(key);
    countDeadLettered(fresh);
    this.unlogged += fresh.length;
    // A stream of poison events must not become a stream of log lines: one per interval.
    if (Date.now() - this.loggedAt >= LOG_EVERY_MS) this.logWritten(fresh[0]!.reason);
  }

  async close(): Promise<void> {
    await this.file.close();
    if (this.unlogged > 0) this.logWritten(undefined);
  }

  private logWritten(reason: string | undefined): void {
    this.logger.warn({ entries: this.unlogged, file: this.path, reason }, 'wrote to the dead-letter');
    this.unlogged = 0;
    this.loggedAt = Date.now();
  }

  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > REMEMBER_KEYS) {
      for (const old of this.seen) {
        this.seen.delete(old);
        if (this.seen.size <= REMEMBER_KEYS) break;
      }
    }
  }
}

/**
 * What the spec's load() imports (index.ts). Without `path`, the file is NAME.jsonl in the
 * dead-letter's directory: DATA_DIR/dead-letter/dead-letter.jsonl for the collector's,
 * DATA_DIR/dead-letter/agent.jsonl for the agent's (so an agent and a collector sharing a
 * config and a data directory never write one file). Collector workers after the first
 * each write their own file beside it, `.worker-N` before the extension: two processes
 * appending to one file would write over each other's entries.
 */
export const fileDeadLetterCreate: Pick<ComponentSpec<'dead_letter', FileDeadLetterOptions, DeadLetter>, 'create'> = {
  create: (options, ctx) =>
    new FileDeadLetter(workerPath(resolve(options.path ?? join(ctx.dataDir, `${ctx.name}.jsonl`)), ctx.worker), ctx.logger),
};

/**
 * The file of collector worker `worker` for `path`: the first keeps `path`, the others put
 * `.worker-N` before its extension, so that no two processes append to one file.
 */
export function workerPath(path: string, worker: number | undefined): string {
  if (!worker) return path;
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}.worker-${worker}${ext}`;
}
