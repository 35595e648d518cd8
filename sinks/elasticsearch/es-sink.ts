import type { Client } from '@elastic/elasticsearch';
import { errors } from '@elastic/elasticsearch';
import { Counter } from 'prom-client';
import type { LogEvent } from '../../core/event.js';
import type { Logger } from '../../core/log.js';
import { metrics } from '../../core/metrics.js';
import { markedPartitionTime, partitionedByArrival, TimeWindow } from '../../core/template.js';
import { type SinkRefusal, type Sink, WRITTEN, type WriteResult } from '../../core/pipeline.js';
import type { ComponentSpec } from '../../core/registry.js';
import { createClient, describeError, isTransient } from './client.js';
import { toDocument } from './document.js';
import { IndexNamer } from './index-name.js';
import { elasticsearchSinkOptions, type ElasticsearchSinkOptions } from './options.js';
import { ManagedIndices, TemplateConflict } from './indices.js';

const indexed = new Counter({
  name: 'sluice_elasticsearch_events_indexed_total',
  help: 'events Elasticsearch stored',
  labelNames: ['component'],
  registers: [metrics],
});
const rejectedTotal = new Counter({
  name: 'sluice_elasticsearch_events_rejected_total',
  help: 'events Elasticsearch refused for good, handed to the collector for its dead-letter',
  labelNames: ['component'],
  registers: [metrics],
});
const retried = new Counter({
  name: 'sluice_elasticsearch_events_retried_total',
  help: 'events Elasticsearch asked to retry (item 429 or 5xx), handed back to the collector',
  labelNames: ['component'],
  registers: [metrics],
});

const RETENTION_EVERY_MS = 3_600_000;
/** Elasticsearch refuses a whole bulk request (400) holding an `_id` longer than this, in UTF-8 bytes. */
const MAX_ID_BYTES = 512;
/** Indices remembered as blocking writes; the oldest are forgotten beyond it (their events are then retried afresh). */
const MAX_BLOCKED_INDICES = 1000;
const STILL_DOWN_LOG_EVERY_MS = 30_000;

export interface ElasticsearchSinkDeps {
  name: string;
  logger: Logger;
}

/** One write() call: resolves once every one of its items is indexed, refused or to retry. */
interface WriteState {
  remaining: number;
  refused: SinkRefusal[];
  retry: LogEvent[];
  done: boolean;
  resolve(result: WriteResult): void;
  reject(err: Error): void;
}

interface Item {
  event: LogEvent;
  index: string;
  /** The action line and the document, NDJSON, ready to join into a bulk body. */
  line: string;
  bytes: number;
  owner: WriteState;
}

interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } };
}

interface BulkResponse {
  errors: boolean;
  items?: Record<string, BulkItemResult>[];
}

/**
 * Bulk-indexes events into Elasticsearch.
 *
 * Events from every write() call go into one queue, cut into bulk requests by count and
 * bytes (a part-filled request waits `batch.timeout` for more), with at most `concurrency`
 * requests in flight. Each event's `_id` is its stable event id and the op is `index`, so
 * a replay after a crash overwrites the same documents instead of adding copies.
 *
 * A bulk response is read item by item (a 200 can still hold failures). The sink never
 * retries by itself: the collector is the one retry owner (core/pipeline.ts WriteResult).
 * Items that failed with 429 or 5xx come back as `retry`, items Elasticsearch refuses for
 * good (mapping conflicts, parse failures) as `refused` with its reason (the collector
 * dead-letters them), and a whole request that failed (node down, timeout, 5xx) rejects the
 * writes it carried, which the collector sends again after its backoff — by `_id`, so what
 * did get in is overwritten, not duplicated. The one protocol step kept here is the split
 * of a request the node finds too large (413): halved until it fits, bounded by the items
 * in it, and one document alone too large is refused.
 */
export class ElasticsearchSink implements Sink {
  private readonly client: Client;
  private readonly redact: (text: string) => string;
  readonly urls: string[];
  private readonly namer: IndexNamer;
  private readonly window: TimeWindow;
  private readonly indices: ManagedIndices;
  private readonly logger: Logger;
  private readonly op: 'index' | 'create';
  private readonly abort = new AbortController();
  private readonly component: string;

  private pending: Item[] = [];
  private pendingBytes = 0;
  private oldestPendingAt = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly idle: (() => void)[] = [];
  /** Settled once the template is installed and the existing indices' combinations admitted (prepare). */
  private ready: Promise<void> | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private downSince = 0;
  private lastDownLog = 0;
  /** Per index that answered items with a write block (4xx cluster_block_exception): since when, until an item gets in. */
  private readonly blockedSince = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly options: ElasticsearchSinkOptions,
    deps: ElasticsearchSinkDeps,
  ) {
    this.logger = deps.logger;
    ({ client: this.client, urls: this.urls, redact: this.redact } = createClient(options, `sinks.${deps.name}`));
    this.namer = new IndexNamer(options.index, options.timezone, {
      maxDistinct: options.index_max_distinct,
      component: deps.name,
      logger: deps.logger,
    });
    this.window = new TimeWindow(options.max_event_age, options.max_future);
    this.op = options.mode === 'data_stream' ? 'create' : 'index';
    this.component = deps.name;
    this.indices = new ManagedIndices({
      client: this.client,
      options,
      namer: this.namer,
      logger: deps.logger,
      component: deps.name,
      redact: this.redact,
      signal: this.abort.signal,
    });
  }

  /**
   * Installs the index template, admits the value combinations of the indices that exist
   * (prepare) and starts retention. A node that is down now is not an error (the collector
   * may start first); both are then done before the first bulk request. A node that
   * refuses (bad credentials, missing privileges) is.
   */
  async open(): Promise<void> {
    this.logger.info({ urls: this.urls, index: this.options.index, mode: this.options.mode }, 'elasticsearch sink opening');
    try {
      await this.prepare();
      this.ready = Promise.resolve();
    } catch (err) {
      if (!(err instanceof PrepareFailed)) throw err;
      if (!isTransient(err.cause)) throw this.prepareError(err);
      this.logger.warn(
        { urls: this.urls, err: describeError(err.cause, this.redact) },
        'Elasticsearch is not reachable yet; the index template will be installed before the first write',
      );
    }
    if (this.options.retention_days !== undefined && this.options.mode === 'index') {
      void this.applyRetention();
      this.retentionTimer = setInterval(() => void this.applyRetention(), RETENTION_EVERY_MS);
      this.retentionTimer.unref();
    }
  }

  write(batch: readonly LogEvent[]): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new Error(`elasticsearch sink "${this.component}" is closed`));
    if (batch.length === 0) return Promise.resolve(WRITTEN);
    return this.ensureReady().then(
      () =>
        new Promise<WriteResult>((resolve, reject) => {
          const owner: WriteState = { remaining: batch.length, refused: [], retry: [], done: false, resolve, reject };
          const maxBytes = this.options.batch.max_bytes;
          const arrival = Date.now();
          let late = 0;
          for (const original of batch) {
            if (Buffer.byteLength(original.id) > MAX_ID_BYTES) {
              // In a bulk request it would fail the whole request, every other event with it.
              this.refuseUnsent(
                owner,
                original,
                `event id of ${Buffer.byteLength(original.id)} bytes: Elasticsearch takes _id values up to ${MAX_ID_BYTES}`,
              );
              continue;
            }
            // Beyond max_event_age / max_future the index day is the arrival's (core/template/time-window.ts).
            const outside = this.window.enabled && this.window.outside(original.timestamp, arrival);
            const event = outside ? markedPartitionTime(original, arrival) : original;
            if (outside) late++;
            const index = this.namer.name(event, outside ? arrival : undefined);
            const line = `{"${this.op}":{"_index":"${index}","_id":${JSON.stringify(event.id)}}}\n${toDocument(event, this.options.schema)}\n`;
            const bytes = Buffer.byteLength(line);
            if (this.pending.length === 0) this.oldestPendingAt = Date.now();
            this.pending.push({ event, index, line, bytes, owner });
            this.pendingBytes += bytes;
            if (this.pendingBytes >= maxBytes || this.pending.length >= this.options.batch.max_events) this.pump();
          }
          if (late > 0) partitionedByArrival.inc({ component: this.component }, late);
          if (owner.remaining === 0) this.finish(owner);
          else this.pump();
        }),
    );
  }

  /** Writes not finished by now reject (their batches stay uncommitted on the bus). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    clearInterval(this.retentionTimer);
    clearTimeout(this.lingerTimer);
    const dropped = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const item of dropped)
      this.fail(
        item.owner,
        new Error(`elasticsearch sink "${this.component}" closed before the batch was written; it stays on the bus for redelivery`),
      );
    while (this.inFlight > 0) await new Promise<void>((r) => this.idle.push(r));
    await this.client.close();
  }

  /** Deletes the daily indices past retention_days (indices.ts). */
  applyRetention(now = Date.now()): Promise<string[]> {
    return this.indices.applyRetention(now);
  }

  /**
   * Before the first bulk request: the template must exist, or new indices get dynamic
   * mappings, and the existing indices must be admitted, or an event replayed after a
   * restart may be named otherwise than its first copy. One attempt per write; a failure
   * rejects the write, retried by the collector.
   */
  private ensureReady(): Promise<void> {
    if (!this.ready) {
      const attempt = this.prepare().then(
        () => this.recovered(),
        (err: unknown) => {
          if (this.abort.signal.aborted) throw new Error(`elasticsearch sink "${this.component}" closed`);
          if (!(err instanceof PrepareFailed)) throw err;
          if (isTransient(err.cause)) this.down(err.cause, 0);
          throw this.prepareError(err);
        },
      );
      this.ready = attempt;
      attempt.catch(() => {
        if (this.ready === attempt) this.ready = undefined;
      });
    }
    return this.ready;
  }

  /**
   * What must be done once before any event is named. With index_max_distinct, admission
   * follows arrival order in each process; seeded with the combinations that already have
   * an index, a restarted, reloaded or second collector admits what exists as the first
   * one did, so a replayed event goes to the index its first copy went to. It runs once
   * per instance: seeding again later could admit a combination this instance has already
   * sent to the overflow index.
   */
  private async prepare(): Promise<void> {
    await step(`cannot install index template ${this.indices.templateName}`, this.indices.install());
    if (!this.namer.capped) return;
    const pattern = this.namer.pattern();
    const names = await step(
      `cannot list the indices matching ${pattern}, whose value combinations index_max_distinct admits first`,
      this.indices.existingNames(),
    );
    const combinations = this.namer.seed(names);
    this.logger.info(
      { pattern, indices: names.length, combinations, index_max_distinct: this.options.index_max_distinct },
      'admitted the value combinations of the existing indices',
    );
  }

  private prepareError(err: PrepareFailed): Error {
    return new Error(`elasticsearch sink "${this.component}": ${err.message}: ${describeError(err.cause, this.redact)}`);
  }

  private pump(): void {
    const { max_events: maxEvents, max_bytes: maxBytes, timeout: linger } = this.options.batch;
    while (this.inFlight < this.options.concurrency && this.pending.length > 0 && !this.closed) {
      const full = this.pending.length >= maxEvents || this.pendingBytes >= maxBytes;
      const wait = this.oldestPendingAt + linger - Date.now();
      if (!full && wait > 0) {
        this.lingerTimer ??= setTimeout(() => {
          this.lingerTimer = undefined;
          this.pump();
        }, wait);
        return;
      }
      let n = 0;
      let bytes = 0;
      while (n < this.pending.length && n < maxEvents && (n === 0 || bytes + this.pending[n]!.bytes <= maxBytes))
        bytes += this.pending[n++]!.bytes;
      const chunk = this.pending.splice(0, n);
      this.pendingBytes -= bytes;
      this.oldestPendingAt = Date.now();
      this.inFlight++;
      void this.send(chunk)
        .catch((err: unknown) => {
          for (const item of chunk) this.fail(item.owner, err instanceof Error ? err : new Error(String(err)));
        })
        .finally(() => {
          this.inFlight--;
          if (this.inFlight === 0) for (const wake of this.idle.splice(0)) wake();
          this.pump();
        });
    }
  }

  /** Sends a chunk once: each item is then indexed, refused or to retry; a failed request fails its writes. */
  private async send(chunk: Item[]): Promise<void> {
    if (this.abort.signal.aborted) {
      for (const item of chunk)
        this.fail(
          item.owner,
          new Error(`elasticsearch sink "${this.component}" closed before the batch was written; it stays on the bus for redelivery`),
        );
      return;
    }
    let res: BulkResponse;
    try {
      res = (await this.client.transport.request(
        {
          method: 'POST',
          path: '/_bulk',
          querystring: { filter_path: 'errors,items.*.status,items.*.error' },
          bulkBody: chunk.map((i) => i.line).join(''),
        },
        { signal: this.abort.signal },
      )) as BulkResponse;
    } catch (err) {
      if (err instanceof errors.ResponseError && err.statusCode === 413) {
        await this.splitTooLarge(chunk, err);
        return;
      }
      if (!this.abort.signal.aborted) this.down(err, chunk.length);
      throw new Error(`elasticsearch sink "${this.component}": bulk request failed: ${describeError(err, this.redact)}`);
    }
    this.recovered();
    if (!res.errors) {
      if (this.blockedSince.size > 0) for (const item of chunk) this.blockedSince.delete(item.index);
      for (const item of chunk) this.settle(item);
      indexed.inc({ component: this.component }, chunk.length);
      return;
    }
    const items = res.items ?? [];
    if (items.length !== chunk.length)
      throw new Error(`elasticsearch sink "${this.component}": bulk response has ${items.length} items for ${chunk.length} sent`);
    let ok = 0;
    let again = 0;
    for (let i = 0; i < chunk.length; i++) {
      const item = chunk[i]!;
      // An item without a result is not taken as indexed: it is sent again (by _id, so no copy).
      const r = Object.values(items[i]!)[0] ?? {
        status: 503,
        error: { type: 'no_item_result', reason: 'the bulk response has no result for it' },
      };
      if (r.status < 300 || (this.op === 'create' && r.status === 409)) {
        // 409 on create: a replay of a document already in the data stream.
        ok++;
        if (this.blockedSince.size > 0) this.blockedSince.delete(item.index);
        this.settle(item);
      } else if (isWriteBlock(r) && this.blockedLongEnough(item.index)) {
        this.refuse(item, r, `still blocking writes after blocked_index_timeout (${this.options.blocked_index_timeout} ms): `);
      } else if (isRetriableItem(r)) {
        if (again++ === 0) this.logger.warn({ of: chunk.length, reason: reasonOf(items[i]!) }, 'Elasticsearch asked to retry some events');
        item.owner.retry.push(item.event);
        this.settle(item);
      } else this.refuse(item, r);
    }
    indexed.inc({ component: this.component }, ok);
    if (again > 0) retried.inc({ component: this.component }, again);
  }

  /** 413: the node's http.max_content_length is below max_bytes; halve until it fits. */
  private async splitTooLarge(todo: Item[], err: unknown): Promise<void> {
    if (todo.length === 1) {
      this.refuse(todo[0]!, {
        status: 413,
        error: {
          type: 'request_entity_too_large',
          reason: `the document alone (${todo[0]!.bytes} bytes) exceeds the node's http.max_content_length: ${describeError(err, this.redact)}`,
        },
      });
      return;
    }
    this.logger.warn(
      { events: todo.length, bytes: todo.reduce((n, i) => n + i.bytes, 0) },
      'bulk request too large for Elasticsearch (413); splitting it: lower batch.max_bytes',
    );
    const half = Math.ceil(todo.length / 2);
    await this.send(todo.slice(0, half));
    await this.send(todo.slice(half));
  }

  private settle(item: Item): void {
    const owner = item.owner;
    if (--owner.remaining === 0) this.finish(owner);
  }

  private refuse(item: Item, r: BulkItemResult, why = ''): void {
    rejectedTotal.inc({ component: this.component });
    item.owner.refused.push({ event: item.event, reason: `index ${item.index}: ${why}HTTP ${r.status}: ${this.redact(reasonOf({ r }))}` });
    this.settle(item);
  }

  /** An event refused before it is queued: it never reaches a bulk request. */
  private refuseUnsent(owner: WriteState, event: LogEvent, reason: string): void {
    rejectedTotal.inc({ component: this.component });
    owner.refused.push({ event, reason });
    owner.remaining--;
  }

  /**
   * Whether `index` has answered with a write block for blocked_index_timeout: its events
   * are refused from then on (an ILM read-only index never takes them; a block an operator
   * lifts within the time costs nothing). The clock starts at the first blocked item.
   */
  private blockedLongEnough(index: string): boolean {
    const timeout = this.options.blocked_index_timeout;
    if (timeout === 0) return false;
    const now = Date.now();
    const since = this.blockedSince.get(index);
    if (since === undefined) {
      if (this.blockedSince.size >= MAX_BLOCKED_INDICES) this.blockedSince.delete(this.blockedSince.keys().next().value!);
      this.blockedSince.set(index, now);
      return false;
    }
    return now - since >= timeout;
  }

  private finish(owner: WriteState): void {
    if (owner.done) return;
    owner.done = true;
    owner.resolve(owner.refused.length === 0 && owner.retry.length === 0 ? WRITTEN : { refused: owner.refused, retry: owner.retry });
  }

  private fail(owner: WriteState, err: Error): void {
    if (owner.done) return;
    owner.done = true;
    owner.reject(err);
  }

  private down(err: unknown, events: number): void {
    const now = Date.now();
    if (this.downSince === 0) {
      this.downSince = now;
      this.lastDownLog = now;
      this.logger.error(
        { urls: this.urls, err: describeError(err, this.redact), events },
        'Elasticsearch request failed; retrying with backoff, nothing is acknowledged until it is written',
      );
    } else if (now - this.lastDownLog >= STILL_DOWN_LOG_EVERY_MS) {
      this.lastDownLog = now;
      this.logger.error(
        { urls: this.urls, err: describeError(err, this.redact), down_for_s: Math.round((now - this.downSince) / 1000) },
        'Elasticsearch still failing; retrying',
      );
    }
  }

  private recovered(): void {
    if (this.downSince === 0) return;
    this.logger.info(
      { urls: this.urls, down_for_s: Math.round((Date.now() - this.downSince) / 1000) },
      'Elasticsearch is accepting requests again',
    );
    this.downSince = 0;
  }
}

/** A step of prepare() that failed: `message` says which, `cause` is the client's error (transient or not). */
class PrepareFailed extends Error {
  declare readonly cause: unknown;
}

/** A TemplateConflict is its own whole message; any other failure is said with the step it stopped. */
async function step<T>(what: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof TemplateConflict) throw err;
    throw new PrepareFailed(what, { cause: err });
  }
}

/** 429 and 5xx are the node being busy or unwell; a cluster block (disk flood stage, read-only) may lift. */
function isRetriableItem(r: BulkItemResult): boolean {
  return r.status === 429 || r.status >= 500 || r.error?.type === 'cluster_block_exception';
}

/** A block on the index itself (403: index.blocks.write, read_only), which may never lift; 429 and 5xx blocks are the cluster's. */
function isWriteBlock(r: BulkItemResult): boolean {
  return r.error?.type === 'cluster_block_exception' && r.status >= 400 && r.status < 500 && r.status !== 429;
}

function reasonOf(item: Record<string, BulkItemResult>): string {
  const r = Object.values(item)[0];
  const e = r?.error;
  if (!e) return `HTTP ${r?.status ?? '?'}`;
  const cause = e.caused_by?.reason ? ` (${e.caused_by.type ?? 'cause'}: ${e.caused_by.reason})` : '';
  return `${e.type ?? 'error'}: ${e.reason ?? ''}${cause}`;
}

export const elasticsearchSinkSpec: ComponentSpec<'sink', ElasticsearchSinkOptions, Sink> = {
  kind: 'sink',
  type: 'elasticsearch',
  description: 'bulk-indexes events into Elasticsearch (daily indices or a data stream; _id = event id)',
  options: elasticsearchSinkOptions,
  // Bulk requests are independent and idempotent by _id: any number of collectors may index at once.
  sharedAcrossProcesses: true,
  create: (options, ctx) => new ElasticsearchSink(options, { name: ctx.name, logger: ctx.logger }),
};
