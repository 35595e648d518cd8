import type { LogEvent } from '../../core/event.js';
import type { ElasticsearchSinkOptions } from './options.js';

/**
 * The document an event becomes, and the index template that maps it. The mapping is
 * explicit so the first odd log line of the day cannot decide a field's type: the
 * well-known fields are keywords (exact filters), the message is text with a short
 * keyword beside it, and the event's free-form `fields` are one `flattened` field, so a
 * thousand distinct keys from some chatty service never explode the mapping (every leaf
 * is still searchable as a keyword: `fields.user: bob`).
 *
 * `level` is lifted out of `fields.level` (what the parse transforms extract) to a
 * top-level keyword, because it is the filter everyone uses.
 */
export function toDocument(e: LogEvent): string {
  const level = e.fields.level;
  const src = e.source;
  return JSON.stringify({
    '@timestamp': new Date(e.timestamp).toISOString(),
    event_id: e.id,
    message: e.message,
    service: e.service,
    module: e.module,
    host: e.host,
    level: typeof level === 'string' ? level : undefined,
    source: { kind: src.kind, path: src.path, file_id: src.fileId, offset: src.offset, container: src.container, stream: src.stream },
    fields: e.fields,
  });
}

export function mappings(messageKeywordMax: number): Record<string, unknown> {
  const keyword = { type: 'keyword', ignore_above: 1024 };
  return {
    // Anything else someone adds to a document is kept in _source but not indexed.
    dynamic: false,
    properties: {
      '@timestamp': { type: 'date', format: 'strict_date_optional_time||epoch_millis' },
      event_id: { type: 'keyword' },
      message: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: messageKeywordMax } } },
      service: keyword,
      module: keyword,
      host: keyword,
      level: keyword,
      source: {
        properties: {
          kind: keyword,
          path: keyword,
          file_id: keyword,
          offset: { type: 'long' },
          container: keyword,
          stream: keyword,
        },
      },
      fields: { type: 'flattened', ignore_above: 1024 },
    },
  };
}

export function indexTemplate(o: ElasticsearchSinkOptions, pattern: string): Record<string, unknown> {
  const t = o.template;
  const settings: Record<string, unknown> = { ...t.settings };
  if (t.shards !== undefined) settings['index.number_of_shards'] = t.shards;
  if (t.replicas !== undefined) settings['index.number_of_replicas'] = t.replicas;
  if (t.refresh_interval !== undefined) settings['index.refresh_interval'] = t.refresh_interval;
  return {
    index_patterns: [pattern],
    priority: t.priority,
    ...(o.mode === 'data_stream' ? { data_stream: {} } : {}),
    template: {
      settings,
      mappings: mappings(t.message_keyword_max),
      ...(o.mode === 'data_stream' && o.retention_days !== undefined
        ? { lifecycle: { enabled: true, data_retention: `${o.retention_days}d` } }
        : {}),
    },
    _meta: { managed_by: 'sluice', description: 'log events written by the sluice elasticsearch sink' },
  };
}
