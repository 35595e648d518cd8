import { join } from 'node:path';
import { AppendFile } from '../../core/append-file.js';
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
 * written, never leaving a cut line (core/append-file.ts). Nothing refused by
 * Elasticsearch is dropped, and the file can be fixed up and replayed.
 */
export function fileRejectHandler(dataDir: string, sink: string): RejectHandler {
  const file = new AppendFile(join(dataDir, 'rejected.ndjson'));
  let opened: Promise<number> | undefined;
  return async (rejected) => {
    const text = rejected
      .map((r) =>
        JSON.stringify({ time: new Date().toISOString(), sink, index: r.index, status: r.status, reason: r.reason, event: r.event }),
      )
      .join('\n');
    opened ??= file.open();
    await opened;
    await file.append(`${text}\n`);
  };
}
