import { z } from 'zod';
import type { FieldValue, LogEvent } from '../../core/event.js';
import { encodeEventString } from '../../core/wire.js';

/**
 * The shapes an event can be written in, for sinks that write documents (Elasticsearch, the
 * file sink's JSON lines):
 *
 * - `sluice`: Sluice's own — flat `service`, `module`, `host`, `level`, `message`, `source`,
 *   `fields` (for Elasticsearch, see sinks/elasticsearch/document.ts; for files, the wire
 *   format of core/wire.ts);
 * - `ecs`: the Elastic Common Schema, what Kibana's Logs views and Filebeat dashboards read;
 * - `otel`: the OpenTelemetry log data model (body, severity, attributes, resource), laid out
 *   as Elasticsearch's OpenTelemetry-native mapping lays it out.
 *
 * Where each event value goes is in sinks/schema/README.md.
 */
export const SCHEMAS = ['sluice', 'ecs', 'otel'] as const;
export type Schema = (typeof SCHEMAS)[number];

export const schemaOption = () =>
  z
    .enum(SCHEMAS)
    .default('sluice')
    .describe("document shape: sluice (Sluice's own), ecs (Elastic Common Schema) or otel (OpenTelemetry log data model)");

type Doc = Record<string, unknown>;

/** Fields the container and Kubernetes metadata of the docker source are kept under. */
const CONTAINER_KEYS = ['container.id', 'container.name', 'container.image', 'container.labels'];
const KUBERNETES_KEYS = ['kubernetes.namespace', 'kubernetes.pod', 'kubernetes.pod_uid', 'kubernetes.container'];
const LIFTED = new Set([...CONTAINER_KEYS, ...KUBERNETES_KEYS, 'log.parse_error']);

/** The event's fields without the ones a schema lifts to its own places; the same object when none are there. */
function rest(fields: Record<string, FieldValue>): Record<string, FieldValue> {
  let out: Record<string, FieldValue> | undefined;
  for (const key in fields) {
    if (!LIFTED.has(key)) continue;
    out ??= { ...fields };
    delete out[key];
  }
  return out ?? fields;
}

const str = (v: FieldValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/** Drops undefined members (and objects left empty) so documents carry only what is known. */
function prune(o: Doc): Doc | undefined {
  let any = false;
  for (const key of Object.keys(o)) {
    let v = o[key];
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype) {
      v = prune(v as Doc);
      o[key] = v;
    }
    if (v === undefined) delete o[key];
    else any = true;
  }
  return any ? o : undefined;
}

export const ECS_VERSION = '8.11.0';

/** An event as an Elastic Common Schema document. */
export function ecsDocument(e: LogEvent): Doc {
  const f = e.fields;
  const src = e.source;
  const labels = rest(f);
  const doc = prune({
    '@timestamp': new Date(e.timestamp).toISOString(),
    message: e.message,
    ecs: { version: ECS_VERSION },
    event: { id: e.id, dataset: `${e.service}.${e.module}`, module: e.module },
    service: { name: e.service },
    host: { name: e.host },
    log: { level: e.level, file: { path: src.path }, offset: src.offset },
    input: { type: src.kind },
    stream: src.stream,
    container: {
      id: str(f['container.id']) ?? src.container,
      name: str(f['container.name']),
      image: { name: str(f['container.image']) },
    },
    kubernetes: {
      namespace: str(f['kubernetes.namespace']),
      pod: { name: str(f['kubernetes.pod']), uid: str(f['kubernetes.pod_uid']) },
      container: { name: str(f['kubernetes.container']) },
    },
    error: { message: str(f['log.parse_error']) },
  })!;
  // Free-form values are set after pruning: they go out as they are, empty objects included.
  const containerLabels = f['container.labels'];
  if (containerLabels !== undefined) ((doc.container ??= {}) as Doc).labels = containerLabels;
  if (Object.keys(labels).length > 0) doc.labels = labels;
  return doc;
}

/** OpenTelemetry SeverityNumber: the first number of each range (TRACE 1 … FATAL 21); 0 is unspecified. */
const SEVERITY: Record<string, number> = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };

export function severityNumber(level: string | undefined): number {
  return level === undefined ? 0 : (SEVERITY[level] ?? 0);
}

/** An event as an OpenTelemetry log record, with its resource. */
export function otelDocument(e: LogEvent): Doc {
  const f = e.fields;
  const src = e.source;
  const attributes: Doc = {
    ...rest(f),
    'log.record.uid': e.id,
    'sluice.module': e.module,
    'log.file.path': src.path,
    'log.iostream': src.stream,
    'log.parse_error': str(f['log.parse_error']),
    'container.labels': f['container.labels'],
  };
  const resource: Doc = {
    'service.name': e.service,
    'host.name': e.host,
    'container.id': str(f['container.id']) ?? src.container,
    'container.name': str(f['container.name']),
    'container.image.name': str(f['container.image']),
    'k8s.namespace.name': str(f['kubernetes.namespace']),
    'k8s.pod.name': str(f['kubernetes.pod']),
    'k8s.pod.uid': str(f['kubernetes.pod_uid']),
    'k8s.container.name': str(f['kubernetes.container']),
  };
  for (const key of Object.keys(attributes)) if (attributes[key] === undefined) delete attributes[key];
  for (const key of Object.keys(resource)) if (resource[key] === undefined) delete resource[key];
  return {
    '@timestamp': new Date(e.timestamp).toISOString(),
    body: { text: e.message },
    ...(e.level !== undefined ? { severity_text: e.level.toUpperCase() } : {}),
    severity_number: severityNumber(e.level),
    attributes,
    resource: { attributes: resource },
    scope: { name: 'sluice' },
  };
}

/** One JSON line per event in a schema: for `sluice`, the wire format itself (readable back by Sluice). */
export function jsonLineEncoder(schema: Schema): (e: LogEvent) => string {
  if (schema === 'ecs') return (e) => JSON.stringify(ecsDocument(e));
  if (schema === 'otel') return (e) => JSON.stringify(otelDocument(e));
  return encodeEventString;
}
