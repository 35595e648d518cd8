import { z } from 'zod';
import { httpUrl } from '../../core/options/address.js';
import { batchOptions } from '../../core/options/batch.js';
import { secret } from '../../core/options/secret.js';
import { timeWindowOptions } from '../../core/options/time-window.js';
import { tlsOptions } from '../../core/options/tls.js';
import { isValidTimeZone } from '../../core/template/clock.js';
import { duration } from '../../core/units.js';
import { schemaOption } from '../schema/schema.js';
import { IndexNamer, IndexTemplateError } from './index-name.js';

const indexTemplate = z.string().superRefine((v, ctx) => {
  try {
    new IndexNamer(v);
  } catch (err) {
    if (!(err instanceof IndexTemplateError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
  }
});

const timeZone = z.string().superRefine((v, ctx) => {
  if (!isValidTimeZone(v))
    ctx.addIssue({ code: 'custom', message: `unknown time zone ${JSON.stringify(v)}: use an IANA name such as "UTC" or "Europe/Berlin"` });
});

const url = httpUrl({ defaultPort: 9200 });

export const elasticsearchSinkOptions = z
  .strictObject({
    url: z
      .union([url, z.array(url).min(1)])
      .default('http://127.0.0.1:9200')
      .describe('Elasticsearch node URL, or a list of them (requests are spread over the list)'),
    username: z.string().optional().describe('basic auth user (give the password too)'),
    password: secret()
      .optional()
      .describe('basic auth password; write "${ES_PASSWORD}" to take it from the environment. Never logged nor shown in errors'),
    api_key: secret()
      .optional()
      .describe('API key (the base64 "id:key" form Elasticsearch returns as "encoded"); never logged nor shown in errors'),
    tls: tlsOptions.optional().describe('TLS settings of https URLs: ca_file, cert_file + key_file (mutual TLS), verify, server_name'),
    mode: z
      .enum(['index', 'data_stream'])
      .default('index')
      .describe(
        'index: documents go to the index named by `index`, replayed events overwrite themselves (op index, _id = event id); data_stream: append-only data stream named by `index` (op create; a replay is a 409 conflict, counted as done)',
      ),
    index: indexTemplate
      .default('logs-{service}-%Y.%m.%d')
      .describe(
        'index (or data stream) name template: {service}, {module}, {host} and strftime %Y %m %d %H %j of the event time; values are sanitized to Elasticsearch index-name rules',
      ),
    schema: schemaOption(),
    index_max_distinct: z
      .number()
      .int()
      .min(0)
      .default(100)
      .describe(
        'most distinct combinations of the {fields} of `index` that get an index of their own (days do not count); later ones go to one index named with "_other" in place of the values, with a warn log line and sluice_template_overflow_events_total. The combinations of the indices that exist at open come first (all of them), then new ones in arrival order; 0 = no limit',
      ),
    ...timeWindowOptions,
    timezone: timeZone.default('UTC').describe('time zone for the strftime fields of `index` (and for the day boundary of retention_days)'),
    template: z
      .strictObject({
        install: z.boolean().default(true).describe('install (overwrite) the index template at startup'),
        name: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_.-]*$/, 'lowercase letters, digits, ".", "_" and "-"')
          .optional()
          .describe(
            'index template name; default: "sluice-" and the index pattern ("sluice-logs" for logs-*-*.*.*), shared by every sink and collector writing the same indices',
          ),
        priority: z
          .number()
          .int()
          .min(0)
          .default(200)
          .describe(
            "template priority; above Elasticsearch's built-in logs-*-* template (100) so daily indices are plain indices, not data streams",
          ),
        shards: z.number().int().min(1).optional().describe('index.number_of_shards (Elasticsearch default when unset)'),
        replicas: z.number().int().min(0).optional().describe('index.number_of_replicas (Elasticsearch default when unset)'),
        refresh_interval: z
          .string()
          .optional()
          .describe('index.refresh_interval, e.g. "5s" to index faster at the cost of search freshness'),
        message_keyword_max: z
          .number()
          .int()
          .min(1)
          .default(1024)
          .describe('messages up to this many characters also get an exact keyword (message.keyword) for sorting and aggregations'),
        settings: z
          .record(z.string(), z.unknown())
          .default({})
          .describe('more index settings, e.g. {"index.lifecycle.name": "my-policy"} to hand the indices to ILM'),
      })
      .default({ install: true, priority: 200, message_keyword_max: 1024, settings: {} }),
    retention_days: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        'delete daily indices (mode index) older than this many days, checked at startup and hourly; in data_stream mode it becomes the data stream lifecycle retention. Unset: keep forever',
      ),
    batch: batchOptions({ max_events: 1000, max_bytes: 5 * 1024 * 1024, timeout: 5 })
      .meta({ renamed: { linger: 'batch.timeout' } })
      .describe(
        'A bulk request goes when it holds max_events or max_bytes, or when a request slot is free and its first event waited timeout',
      ),
    concurrency: z.number().int().min(1).max(64).default(2).describe('bulk requests in flight at once'),
    request_timeout: duration().default(60_000).describe('time for one bulk request before it is retried'),
    blocked_index_timeout: duration()
      .default(600_000)
      .describe(
        'how long the events of an index that blocks writes (a 4xx cluster_block_exception: index.blocks.write, an ILM read-only phase) are retried before they are refused into the dead-letter; 0 = retry until the block lifts. Blocks Elasticsearch answers with 429 or 5xx (disk flood stage, no master) are always retried',
      ),
    compression: z.boolean().default(false).describe('gzip request bodies (saves bandwidth, costs CPU)'),
  })
  .superRefine((o, ctx) => {
    if ((o.username === undefined) !== (o.password === undefined))
      ctx.addIssue({
        code: 'custom',
        path: [o.username === undefined ? 'username' : 'password'],
        message: 'username and password go together',
      });
    if (o.tls !== undefined && !(Array.isArray(o.url) ? o.url : [o.url]).some((u) => u.startsWith('https:')))
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls applies to https:// URLs, and every url here is http://' });
    if (o.api_key !== undefined && o.username !== undefined)
      ctx.addIssue({ code: 'custom', path: ['api_key'], message: 'use either api_key or username/password, not both' });
    if (o.retention_days !== undefined && o.mode === 'index' && !new IndexNamer(o.index).daily) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention_days'],
        message: `retention_days needs a daily index name (with %Y and %m %d, or %j) to know each index's day; "${o.index}" has none`,
      });
    }
    if (o.index_max_distinct > 0 && new IndexNamer(o.index).startsWithValue) {
      ctx.addIssue({
        code: 'custom',
        path: ['index'],
        message: `"${o.index}" starts with a {field}: the overflow index of index_max_distinct ("_other" in place of the values) cannot start a name, and without its "_" it is the index of a service named "other". Start the name with text (e.g. "logs-${o.index}"), or set index_max_distinct: 0 for no limit`,
      });
    }
    if (o.mode === 'data_stream' && new IndexNamer(o.index).hasTime) {
      ctx.addIssue({
        code: 'custom',
        path: ['index'],
        message: 'a data stream rolls over by itself: its name takes no %-time fields (use e.g. "logs-{service}-default")',
      });
    }
  })
  .meta({
    renamed: {
      ca_file: 'tls.ca_file (tls: {ca_file: ...})',
      tls_verify: 'tls.verify (tls: {verify: false})',
    },
  })
  .describe('Bulk-indexes events into Elasticsearch: daily indices or a data stream, _id = event id so replays overwrite');

export type ElasticsearchSinkOptions = z.infer<typeof elasticsearchSinkOptions>;
export type ElasticsearchSinkInput = z.input<typeof elasticsearchSinkOptions>;
