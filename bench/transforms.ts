import type { LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { fieldsOptions } from '../transforms/fields/options.js';
import { FieldsTransform } from '../transforms/fields/fields.js';
import { TransformChain } from '../transforms/index.js';
import { parseOptions } from '../transforms/parse/options.js';
import { ParseTransform } from '../transforms/parse/parse.js';
import { redactOptions } from '../transforms/redact/options.js';
import { RedactTransform } from '../transforms/redact/redact.js';

/**
 * Transforms on one core, on ~200-byte lines, in agent-sized batches (2000 events):
 *
 * - `json_chain`: what an agent runs on JSON logs — level detection, parse json, fields
 *   (promote msg and time, remove two keys), redact with the default detectors on the
 *   message and every field (one line in ten holds an email). Goal: 80 MiB/s.
 * - `regex_parse`: grok %{NGINXACCESS} on nginx access lines. Goal: 40 MiB/s.
 *
 * Only the apply() calls are timed; building the batches (a source's work) is not. Each
 * measure covers 256 MiB (BENCH_MIB=N for another size); `cpu_mib_per_s` is per CPU second,
 * the figure that holds on a machine other processes load.
 */
const BATCH = 2000;
const TOTAL_BYTES = Number(process.env.BENCH_MIB ?? 256) * 1024 * 1024;

function jsonLine(i: number): string {
  const user = i % 10 === 0 ? `user${i}@example.com` : `u${i}`;
  const base = `{"time":"2024-03-01T12:00:${String(i % 60).padStart(2, '0')}.123Z","level":"${i % 7 === 0 ? 'warn' : 'info'}","msg":"order ${i} placed","user":"${user}","order_id":${i},"ms":${(i % 100) / 4},"pid":1,"hostname":"web-1","path":"/api/v1/orders/${i}"`;
  return `${base},"pad":"${'x'.repeat(Math.max(0, 197 - base.length - 9))}"}`;
}

function accessLine(i: number): string {
  const base = `10.0.${i % 256}.${(i * 7) % 256} - - [01/Mar/2024:12:00:${String(i % 60).padStart(2, '0')} +0000] "GET /api/v1/orders/${i}?expand=items HTTP/1.1" ${i % 50 === 0 ? 500 : 200} ${1000 + (i % 9000)} "-" "`;
  return `${base}${'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/122.0'.slice(0, Math.max(10, 199 - base.length))}"`;
}

function batchOf(lines: string[]): LogEvent[] {
  return lines.map((message, i) => ({
    id: `e${i}`,
    timestamp: 1709294400000,
    message,
    service: 'api',
    module: 'app',
    host: 'bench',
    source: { kind: 'bench' },
    fields: {},
  }));
}

function measure(name: string, lines: string[], chain: TransformChain) {
  const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
  for (let w = 0; w < 20; w++) chain.apply(batchOf(lines)); // warm up
  const batches = Math.ceil(TOTAL_BYTES / bytes);
  let ns = 0n;
  let cpuUs = 0;
  let out = 0;
  for (let b = 0; b < batches; b++) {
    const batch = batchOf(lines);
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    out += chain.apply(batch).length;
    ns += process.hrtime.bigint() - start;
    const used = process.cpuUsage(cpu);
    cpuUs += used.user + used.system;
  }
  const seconds = Number(ns) / 1e9;
  const mib = (batches * bytes) / 1024 / 1024;
  return {
    [`${name}_mib_per_s`]: Math.round((mib / seconds) * 10) / 10,
    // What one core sustains: bytes per CPU second of the timed apply() calls (wall time on a loaded machine lies).
    [`${name}_cpu_mib_per_s`]: Math.round((mib / (cpuUs / 1e6)) * 10) / 10,
    [`${name}_events_per_s`]: Math.round((batches * BATCH) / seconds),
    [`${name}_events_out`]: out,
  };
}

const logger = silentLogger();
const jsonLines = Array.from({ length: BATCH }, (_, i) => jsonLine(i));
const accessLines = Array.from({ length: BATCH }, (_, i) => accessLine(i));
const jsonChain = new TransformChain(
  [
    new ParseTransform('json', parseOptions.parse({ format: 'json' })),
    new FieldsTransform('tidy', fieldsOptions.parse({ promote: { message: 'msg', timestamp: 'time' }, remove: ['pid', 'hostname'] })),
    new RedactTransform('secrets', redactOptions.parse({})),
  ],
  { detectLevel: true, logger },
);
const regexChain = new TransformChain([new ParseTransform('access', parseOptions.parse({ format: 'grok', pattern: '^%{NGINXACCESS}$' }))], {
  detectLevel: false,
  logger,
});

const json = measure('json_chain', jsonLines, jsonChain);
const regex = measure('regex_parse', accessLines, regexChain);
console.log(
  JSON.stringify({
    bench: 'transforms',
    line_bytes: Math.round(jsonLines.reduce((n, l) => n + l.length, 0) / BATCH),
    batch_events: BATCH,
    ...json,
    json_chain_goal_mib_per_s: 80,
    ...regex,
    regex_parse_goal_mib_per_s: 40,
  }),
);
