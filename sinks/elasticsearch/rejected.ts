import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogEvent } from '../../core/event.js';

/** An event Elasticsearch refused for good (mapping conflict, parse failure), with its reason. */
export interface RejectedEvent {
  event: LogEvent;
  /** The index (or data stream) it was meant for. */
  index: string;
  /** The item's HTTP status in the bulk response. */
  status: number;
  /** Elasticsearch's `type: reason`, e.g. "document_parsing_exception: failed to parse field [fields.code] of type [long]". */
  reason: string;
}

/**
 * Where rejected events go. Resolving means they are stored durably: the sink's write()
 * resolves (and the bus may forget the batch) only after that.
 */
export type RejectHandler = (rejected: readonly RejectedEvent[]) => Promise<void>;

/**
 * The default home for rejected events when the sink is not handed a dead-letter: one
 * JSON line per event (reason, index, status and the whole event) appended to
 * `rejected.ndjson` in the sink's data directory and fsync'd before the batch counts as
 * written. Nothing refused by Elasticsearch is dropped, and the file can be fixed up and
 * replayed.
 */
export function fileRejectHandler(dataDir: string, sink: string): RejectHandler {
  const file = join(dataDir, 'rejected.ndjson');
  let chain = Promise.resolve();
  return (rejected) => {
    const text = rejected
      .map((r) =>
        JSON.stringify({ time: new Date().toISOString(), sink, index: r.index, status: r.status, reason: r.reason, event: r.event }),
      )
      .join('\n');
    // Appends are serialized so concurrent writes never interleave half lines.
    const done = chain.then(async () => {
      mkdirSync(dataDir, { recursive: true });
      const fh = await open(file, 'a', 0o600);
      try {
        await fh.write(`${text}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
    chain = done.catch(() => undefined);
    return done;
  };
}
