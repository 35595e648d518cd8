import type { LogEvent } from '../../core/event.js';
import { ecsDocument, otelDocument, type Schema } from '../schema/schema.js';
import type { ElasticsearchSinkOptions } from './options.js';

/**
 * The document an event becomes, and the index template that maps it, for each schema
 * (sinks/schema). Mappings are explicit (`dynamic: false`) so the first odd log line of the
 * day cannot decide a field's type: the well-known fields are keywords (exact filters),
 * the message is text with a short keyword beside it, and the free-form values (`fields`,
 * ECS `labels`, OTel `attributes`) are one `flattened` field each, so a thousand distinct
 * keys from some chatty service never explode the mapping (every leaf is still searchable
 * as a keyword: `fields.user: bob`, `labels.user: bob`, `attributes.user: bob`).
 */
export function toDocument(e: LogEvent, schema: Schema = 'sluice'): string {
  if (schema === 'ecs') return JSON.stringify(ecsDocument(e));
  if (schema === 'otel') return JSON.stringify(otelDocument(e));
  const src = e.source;
  return JSON.stringify({
    '@timestamp': new Date(e.timestamp).toISOString(),
    event_id: e.id,
    message: e.message,
    service: e.service,
    module: e.module,
    host: e.host,
    level: e.level,
    source: { kind: src.kind, path: src.path, file_id: src.fileId, offset: src.offset, container: src.container, stream: src.stream },
    fields: e.fields,
  });
}

const keyword = { type: 'keyword', ignore_above: 1024 } as const;
const flattened = { type: 'flattened', ignore_above: 1024 } as const;
const obj = (properties: Record<string, unknown>) => ({ properties });

export function mappings(messageKeywordMax: number, schema: Schema = 'sluice'): Record<string, unknown> {
  const timestamp = { type: 'date', format: 'strict_date_optional_time||epoch_millis' };
  const text = { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: messageKeywordMax } } };
  const properties: Record<string, unknown> =
    schema === 'ecs'
      ? {
          '@timestamp': timestamp,
          message: text,
          ecs: obj({ version: keyword }),
          event: obj({ id: keyword, dataset: keyword, module: keyword }),
          service: obj({ name: keyword }),
          host: obj({ name: keyword }),
          log: obj({ level: keyword, file: obj({ path: keyword }), offset: { type: 'long' } }),
          input: obj({ type: keyword }),
          stream: keyword,
          container: obj({ id: keyword, name: keyword, image: obj({ name: keyword }), labels: flattened }),
          kubernetes: obj({ namespace: keyword, pod: obj({ name: keyword, uid: keyword }), container: obj({ name: keyword }) }),
          error: obj({ message: { type: 'text' } }),
          labels: flattened,
        }
      : schema === 'otel'
        ? {
            '@timestamp': timestamp,
            body: obj({ text }),
            severity_text: keyword,
            severity_number: { type: 'byte' },
            attributes: flattened,
            resource: obj({
              attributes: obj({
                'service.name': keyword,
                'host.name': keyword,
                'container.id': keyword,
                'container.name': keyword,
                'container.image.name': keyword,
                'k8s.namespace.name': keyword,
                'k8s.pod.name': keyword,
                'k8s.pod.uid': keyword,
                'k8s.container.name': keyword,
              }),
            }),
            scope: obj({ name: keyword }),
          }
        : {
            '@timestamp': timestamp,
            event_id: { type: 'keyword' },
            message: text,
            service: keyword,
            module: keyword,
            host: keyword,
            level: keyword,
            source: obj({
              kind: keyword,
              path: keyword,
              file_id: keyword,
              offset: { type: 'long' },
              container: keyword,
              stream: keyword,
            }),
            fields: flattened,
          };
  // Anything else someone adds to a document is kept in _source but not indexed.
  return { dynamic: false, properties };
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
      // The mark retention looks for: every index made from this template carries it, a
      // foreign index matching the pattern does not (indices.ts applyRetention).
      mappings: { ...mappings(t.message_keyword_max, o.schema), _meta: { managed_by: 'sluice', index_pattern: pattern } },
      ...(o.mode === 'data_stream' && o.retention_days !== undefined
        ? { lifecycle: { enabled: true, data_retention: `${o.retention_days}d` } }
        : {}),
    },
    _meta: {
      managed_by: 'sluice',
      index_pattern: pattern,
      schema: o.schema,
      description: `log events written by the sluice elasticsearch sink (schema ${o.schema})`,
    },
  };
}

/**
 * Where each schema keeps what `sluice search` filters, prints and sorts on. Search asks
 * for any of a role's fields, so one command reads indices of every schema (a field an
 * index does not map simply matches nothing there).
 */
export const SEARCH_FIELDS = {
  service: ['service', 'service.name', 'resource.attributes.service.name'],
  module: ['module', 'event.module', 'attributes.sluice.module'],
  level: ['level', 'log.level', 'severity_text'],
  host: ['host', 'host.name', 'resource.attributes.host.name'],
  message: ['message', 'body.text'],
  offset: ['source.offset', 'log.offset'],
  id: ['event_id', 'event.id'],
} as const;

/** What search shows of a document, whichever schema wrote it. */
export interface DocumentView {
  timestamp?: string;
  host?: string;
  service?: string;
  module?: string;
  level?: string;
  message?: string;
}

export function readDocument(d: Record<string, unknown>): DocumentView {
  const at = (o: unknown, ...path: string[]): string | undefined => {
    let cur = o;
    for (const p of path) cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[p] : undefined;
    return typeof cur === 'string' ? cur : undefined;
  };
  return {
    timestamp: at(d, '@timestamp'),
    host: at(d, 'host') ?? at(d, 'host', 'name') ?? at(d, 'resource', 'attributes', 'host.name'),
    service: at(d, 'service') ?? at(d, 'service', 'name') ?? at(d, 'resource', 'attributes', 'service.name'),
    module: at(d, 'module') ?? at(d, 'event', 'module') ?? at(d, 'attributes', 'sluice.module'),
    level: at(d, 'level') ?? at(d, 'log', 'level') ?? at(d, 'severity_text'),
    message: at(d, 'message') ?? at(d, 'body', 'text'),
  };
}
