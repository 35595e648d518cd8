import type { Client } from '@elastic/elasticsearch';
import { errors } from '@elastic/elasticsearch';
import { sleep } from '../core/backoff.js';
import { duration } from '../core/units.js';
import type { PipelineConfig } from '../config/load.js';
import { createClient, describeError, type Connection } from '../sinks/elasticsearch/client.js';
import { readDocument, SEARCH_FIELDS } from '../sinks/elasticsearch/document.js';
import { IndexNamer } from '../sinks/elasticsearch/index-name.js';
import type { ElasticsearchSinkOptions } from '../sinks/elasticsearch/options.js';
import { escapeControl, escapeJsonControl } from './terminal-text.js';

/**
 * `sluice search`: the lines the Elasticsearch sink stored, filtered by service, module,
 * level, host, time and free text, printed oldest first like a log file (the newest
 * `--limit` matches), or followed like `tail -f`.
 */
export interface SearchOptions {
  url?: string;
  index?: string;
  sink?: string;
  user?: string;
  caFile?: string;
  insecure?: boolean;
  service?: string[];
  module?: string[];
  level?: string[];
  host?: string[];
  since?: string;
  from?: string;
  to?: string;
  limit: string;
  json?: boolean;
  raw?: boolean;
  follow?: boolean;
  interval: string;
}

/** A problem with what the user asked for: printed as is, exit code 2. */
export class SearchUsageError extends Error {}
/** Elasticsearch could not answer: printed as is, exit code 1. */
export class SearchFailure extends Error {}

interface Doc {
  '@timestamp'?: string;
  event_id?: string;
  message?: string;
  service?: string;
  module?: string;
  host?: string;
  level?: string;
  source?: { offset?: number };
}

interface Hit {
  _index: string;
  _id?: string;
  _source?: Doc;
  sort?: unknown[];
}

const FOLLOW_PAGE = 1000;
/** Follow re-reads this far back each poll: events indexed a little late are still printed. */
const FOLLOW_LOOKBACK_MS = 10_000;

/** Where to connect and which indices to read: flags first, then the config's elasticsearch sink, then the environment. */
export function resolveTarget(
  opts: SearchOptions,
  config: PipelineConfig | undefined,
  env: NodeJS.ProcessEnv,
): { connection: Connection; index: string } {
  let sink: ElasticsearchSinkOptions | undefined;
  if (config) {
    const sinks = config.sinks.filter((s) => s.type === 'elasticsearch');
    const chosen = opts.sink ? sinks.find((s) => s.name === opts.sink) : sinks[0];
    if (!chosen) {
      throw new SearchUsageError(
        opts.sink
          ? `${config.file} has no elasticsearch sink named "${opts.sink}"${sinks.length ? ` (it has: ${sinks.map((s) => s.name).join(', ')})` : ''}`
          : `${config.file} has no elasticsearch sink`,
      );
    }
    if (!opts.sink && sinks.length > 1)
      throw new SearchUsageError(
        `${config.file} has several elasticsearch sinks (${sinks.map((s) => s.name).join(', ')}): pick one with --sink`,
      );
    sink = chosen.options as ElasticsearchSinkOptions;
  }
  const url = opts.url ?? sink?.url ?? env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200';
  for (const u of Array.isArray(url) ? url : [url]) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(u);
    } catch {
      // reported below
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol))
      throw new SearchUsageError(`--url: expected an http:// or https:// URL, got ${JSON.stringify(u.replace(/\/\/[^@/]*@/, '//'))}`);
  }
  const connection: Connection = { url, request_timeout: 30_000 };
  const tls = { verify: true, ...sink?.tls };
  if (opts.caFile !== undefined) tls.ca_file = opts.caFile;
  if (opts.insecure) tls.verify = false;
  if (sink?.tls !== undefined || opts.caFile !== undefined || opts.insecure) connection.tls = tls;
  const user = opts.user ?? env.ELASTICSEARCH_USERNAME ?? sink?.username;
  const password = env.ELASTICSEARCH_PASSWORD ?? sink?.password;
  if (user !== undefined) {
    if (password === undefined)
      throw new SearchUsageError(
        `user ${user} needs a password: set ELASTICSEARCH_PASSWORD (never given on the command line, where ps would show it)`,
      );
    connection.username = user;
    connection.password = password;
  }
  const apiKey = env.ELASTICSEARCH_API_KEY ?? sink?.api_key;
  if (apiKey !== undefined && user === undefined) connection.api_key = apiKey;
  const index = opts.index ?? (sink ? new IndexNamer(sink.index).pattern() : 'logs-*');
  return { connection, index };
}

/** "15m" ago, an ISO date/time, or "now", as epoch ms. */
export function parseTime(value: string, flag: string, now: number): number {
  if (value === 'now') return now;
  const ago = duration().safeParse(value);
  if (ago.success) return now - ago.data;
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return t;
  }
  // A bare number is the common slip: it is minutes more often than anything else.
  const hint = /^\s*\d+(\.\d+)?\s*$/.test(value) ? ` (a duration needs a unit: did you mean "${value.trim()}m"?)` : '';
  throw new SearchUsageError(
    `${flag}: expected a time such as "15m" (ago), "2024-05-01T12:00:00Z" or "now", got ${JSON.stringify(value)}${hint}`,
  );
}

export function buildQuery(opts: SearchOptions, text: string[], now: number): Record<string, unknown> {
  const filter: unknown[] = [];
  // Each role has a field per schema (sinks/elasticsearch/document.ts): a value may be in any.
  const anyOf = (fields: readonly string[], values: string[] | undefined) => {
    const list = (values ?? [])
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter(Boolean);
    if (list.length === 0) return;
    // Case-insensitive: `--level error` finds ERROR, Error and error.
    filter.push({
      bool: {
        should: list.flatMap((value) => fields.map((field) => ({ term: { [field]: { value, case_insensitive: true } } }))),
        minimum_should_match: 1,
      },
    });
  };
  anyOf(SEARCH_FIELDS.service, opts.service);
  anyOf(SEARCH_FIELDS.module, opts.module);
  anyOf(SEARCH_FIELDS.level, opts.level);
  anyOf(SEARCH_FIELDS.host, opts.host);
  if (opts.since !== undefined && opts.from !== undefined) throw new SearchUsageError('use either --since or --from, not both');
  const from =
    opts.since !== undefined
      ? parseTime(opts.since, '--since', now)
      : opts.from !== undefined
        ? parseTime(opts.from, '--from', now)
        : undefined;
  const to = opts.to !== undefined ? parseTime(opts.to, '--to', now) : undefined;
  if (from !== undefined && to !== undefined && from > to) throw new SearchUsageError('--from is after --to');
  if (from !== undefined || to !== undefined) {
    filter.push({
      range: {
        '@timestamp': { ...(from !== undefined ? { gte: from } : {}), ...(to !== undefined ? { lte: to } : {}), format: 'epoch_millis' },
      },
    });
  }
  const words = text.join(' ').trim();
  // simple_query_string never fails on odd input (quotes, colons, brackets in a log line).
  const must = words ? [{ simple_query_string: { query: words, fields: [...SEARCH_FIELDS.message], default_operator: 'and' } }] : [];
  return { bool: { filter, must } };
}

const SORT_FIELDS = [
  ['@timestamp', 'date'],
  ...SEARCH_FIELDS.offset.map((f) => [f, 'long'] as const),
  ...SEARCH_FIELDS.id.map((f) => [f, 'keyword'] as const),
] as const;

function sort(order: 'asc' | 'desc') {
  return SORT_FIELDS.map(([field, unmapped_type]) => ({ [field]: { order, unmapped_type } }));
}

export function formatHit(hit: Hit, json: boolean, raw = false): string {
  const source = hit._source ?? {};
  if (json) {
    const text = JSON.stringify({ _index: hit._index, _id: hit._id, ...source });
    return raw ? text : escapeJsonControl(text);
  }
  // Whichever schema wrote the document (sinks/elasticsearch/document.ts).
  const d = readDocument(source as Record<string, unknown>);
  const line = `${d.timestamp ?? '-'} ${d.host ?? '-'} ${d.service ?? '-'}/${d.module ?? '-'} ${d.level ? d.level.toUpperCase() : '-'} ${d.message ?? ''}`;
  return raw ? line : escapeControl(line);
}

/** Where a hit sorts: event time, then file offset, then id (the sort of the queries). */
type SortKey = [number, number, string];

function sortKey(hit: Hit): SortKey {
  const d = hit._source ?? {};
  return [Date.parse(d['@timestamp'] ?? '') || 0, d.source?.offset ?? -1, d.event_id ?? hit._id ?? ''];
}

function compareKeys(a: SortKey, b: SortKey): number {
  return a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);
}

export async function runSearch(
  text: string[],
  opts: SearchOptions,
  config: PipelineConfig | undefined,
  out: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
  signal?: AbortSignal,
): Promise<void> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw new SearchUsageError(`--limit: expected a whole number from 1 to 10000, got ${JSON.stringify(opts.limit)}`);
  const interval = duration().safeParse(opts.interval);
  if (!interval.success || interval.data < 100)
    throw new SearchUsageError(
      `--interval: expected a duration of at least 100ms such as "1s", got ${JSON.stringify(opts.interval)}${/^\s*\d+\s*$/.test(opts.interval) ? ` (a duration needs a unit: did you mean "${opts.interval.trim()}s"?)` : ''}`,
    );
  const { connection, index } = resolveTarget(opts, config, env);
  let made: ReturnType<typeof createClient>;
  try {
    made = createClient(connection, 'sluice search');
  } catch (err) {
    throw new SearchUsageError((err as Error).message);
  }
  const { client, urls, redact } = made;
  const call = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    try {
      return await fn(client);
    } catch (err) {
      if (err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || err instanceof errors.NoLivingConnectionsError) {
        throw new SearchFailure(`cannot reach Elasticsearch at ${urls.join(', ')}: ${describeError(err, redact)}`);
      }
      throw new SearchFailure(`Elasticsearch at ${urls.join(', ')} refused the search: ${describeError(err, redact)}`);
    }
  };
  const search = (query: Record<string, unknown>, order: 'asc' | 'desc', size: number, after?: unknown[]) =>
    call(async (c) => {
      const res = await c.search<Doc>({
        index,
        query,
        sort: sort(order),
        size,
        ignore_unavailable: true,
        allow_no_indices: true,
        track_total_hits: false,
        ...(after ? { search_after: after as never } : {}),
      });
      return res.hits.hits as Hit[];
    });

  try {
    const now = Date.now();
    const query = buildQuery(opts, text, now);
    const newest = await search(query, 'desc', limit);
    const hits = newest.reverse();
    for (const h of hits) out(formatHit(h, opts.json ?? false, opts.raw));
    if (!opts.follow) return;

    // Follow: each poll re-reads a window starting a little before the mark (events indexed
    // a little late are still found) and prints, oldest first, what it never met before.
    // The first lines showed only the newest --limit matches: what sorts at or before the
    // last of them is part of that view and is never printed afterwards. The mark follows
    // the newest event printed but never passes the present, so one event stamped in 2099
    // does not hide everything after it.
    const idOf = (h: Hit) => `${h._index}/${h._id}`;
    const timeOf = (h: Hit, fallback: number) => Date.parse(h._source?.['@timestamp'] ?? '') || fallback;
    const shown = hits.at(-1);
    const floor = shown ? sortKey(shown) : undefined;
    let mark = shown ? Math.min(timeOf(shown, now), now) : now;
    const seen = new Map<string, number>();
    for (const h of hits) seen.set(idOf(h), timeOf(h, now));
    const followOpts: SearchOptions = { ...opts, since: undefined, from: undefined };
    while (!signal?.aborted) {
      await sleep(interval.data, signal);
      if (signal?.aborted) break;
      const polledAt = Date.now();
      const q = buildQuery({ ...followOpts, from: new Date(mark - FOLLOW_LOOKBACK_MS).toISOString() }, text, polledAt);
      for (let after: unknown[] | undefined; ; ) {
        const page = await search(q, 'asc', FOLLOW_PAGE, after);
        for (const h of page) {
          if (seen.has(idOf(h))) continue;
          const ts = timeOf(h, polledAt);
          seen.set(idOf(h), ts);
          if (floor && compareKeys(sortKey(h), floor) <= 0) continue;
          out(formatHit(h, opts.json ?? false, opts.raw));
          mark = Math.max(mark, Math.min(ts, polledAt));
        }
        if (page.length < FOLLOW_PAGE) break;
        after = page[page.length - 1]!.sort;
      }
      for (const [id, ts] of seen) if (ts < mark - 2 * FOLLOW_LOOKBACK_MS) seen.delete(id);
    }
  } finally {
    await client.close();
  }
}
