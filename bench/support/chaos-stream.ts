/**
 * The chaos run's stream (bench/chaos.ts): 100,000 records spread over the log files of
 * several file sources, each record meant to become one event, good ones and poisons mixed.
 * What each record is, where it was written (file and byte offset: the key every outcome is
 * counted by, since a hostile line has no room for a number of its own) and what each sink
 * must make of it.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PRESETS } from '../../agent/sources/file/multiline.js';
import { MiB } from './processes.js';

/** What a record is; `expected` says what each sink must do with it. */
export type Kind =
  | 'good'
  | 'trace' // a log line and its stack trace, joined by a multiline preset
  | 'timeout' // a good line the `*error*timeout*` route takes
  | 'time_ns' // an epoch in nanoseconds where a time is read
  | 'time_text' // a time with fields out of range (month 13, hour 99)
  | 'time_promoted' // a JSON `ts` in nanoseconds promoted as milliseconds by a transform
  | 'huge' // one 5 MiB line
  | 'hostile_preset' // a 1 MiB line built against a multiline preset
  | 'hostile_glob' // a 1 MiB line built against a multi-`*` route glob
  | 'escaped' // a 1 MiB line of quotes and backslashes: its wire form is twice its size
  | 'path_file' // its file-sink directory is a plain file
  | 'path_symlink' // its file-sink directory is a symlink
  | 'conflict' // a string, or a number beyond 64 bits, where the Elasticsearch index maps a long
  | 'deep_json' // JSON nested deeper than Elasticsearch's mapping depth limit (20)
  | 'binary' // invalid UTF-8, NUL and terminal escapes in a line
  | 'blank' // an empty line
  | 'odd_name' // a service whose name (its directory) holds what index names and paths forbid
  | 'wire_time' // produced straight to Kafka: a Sluice event whose time is out of range
  | 'garbage'; // produced straight to Kafka: a record that is no Sluice event

export const KINDS: readonly Kind[] = [
  'good',
  'trace',
  'timeout',
  'time_ns',
  'time_text',
  'time_promoted',
  'huge',
  'hostile_preset',
  'hostile_glob',
  'escaped',
  'path_file',
  'path_symlink',
  'conflict',
  'deep_json',
  'binary',
  'blank',
  'odd_name',
  'wire_time',
  'garbage',
];

export type Outcome = 'delivered' | 'dead_letter' | 'agent_dead_letter';
export type SinkName = 'file' | 'es';

/**
 * What may become of a kind in each sink. `escaped` may go either way: the source bounds its
 * text to max_event_bytes, but JSON escaping doubles it, and whether Kafka takes the record
 * depends on the client's size check and the producer's compression (the agent dead-letters
 * it when refused; delivered, it is as truncated as any long line).
 */
export function expected(kind: Kind, sink: SinkName): readonly Outcome[] {
  if (kind === 'escaped') return ['delivered', 'agent_dead_letter'];
  if (sink === 'file' && (kind === 'path_file' || kind === 'path_symlink')) return ['dead_letter'];
  if (sink === 'es' && (kind === 'conflict' || kind === 'deep_json')) return ['dead_letter'];
  if (kind === 'garbage') return ['dead_letter'];
  return ['delivered'];
}

/** A field a delivered event of this kind must carry. */
export function requiredMark(kind: Kind): string | undefined {
  if (kind === 'time_ns' || kind === 'time_text' || kind === 'time_promoted' || kind === 'wire_time') return 'log.time_invalid';
  if (kind === 'huge' || kind === 'hostile_preset' || kind === 'hostile_glob' || kind === 'escaped') return 'log.truncated';
  return undefined;
}

export type SourceName = 'plain' | 'java' | 'python' | 'go' | 'json';

export interface LogFile {
  /** The agent's source that tails it; `kafka` for the records the bench produces itself. */
  source: SourceName | 'kafka';
  service: string;
  module: string;
  /** Absolute path, LOGS/<source>/<service>/<module>.log; for the records produced to Kafka, FOREIGN_PATH. */
  path: string;
}

/** Good times: 2024-06-01 08:00 UTC plus the record number in ms, so all on one day. */
export const T0 = Date.UTC(2024, 5, 1, 8);

/** The `source.path` of the events the bench produces to Kafka itself; their offset is their index among them. */
export const FOREIGN_PATH = '/chaos/produced-to-kafka';

/** A record produced to Kafka: the value, and the number a dead-letter entry of it is traced back by. */
export interface ForeignRecord {
  n: number;
  value: Buffer;
}

/** Per record: its file (index into `files`), byte offset and kind. */
export interface Stream {
  files: LogFile[];
  file: Uint8Array;
  offset: Float64Array;
  kind: Uint8Array;
  /** file index → offset → record number. */
  byOffset: Map<number, number>[];
  /** Bytes written. */
  bytes: number;
  /** The last records: not written to a file but produced to the bus topic by the bench. */
  foreign: ForeignRecord[];
}

// Which file a record goes to: by n % 20, so that every file grows all along the stream.
const LAYOUT: [SourceName, string, string, number][] = [
  ['plain', 'shop', 'api', 5],
  ['plain', 'Ünï Cödé *?:<>|#,.. LOUD', 'api', 1], // forbidden in index names; not a path of its own
  ['plain', 'refused', 'api', 1], // its file-sink directory is a plain file
  ['plain', 'linked', 'api', 1], // its file-sink directory is a symlink
  ['java', 'shop', 'billing', 3],
  ['python', 'shop', 'worker', 3],
  ['go', 'shop', 'gateway', 3],
  ['json', 'mapped', 'orders', 3], // parsed into fields; fields.code is a long in its index
];

/** The 5 MiB line: one record of the plain shop file. */
export const HUGE_RECORD = 50_000;

/** Hostile units per preset: each starts an event in its preset (checked), so it is one record. */
const PRESET_UNITS: Record<'java' | 'python' | 'go', string[]> = {
  java: ['(', 'Error: ', 'a.b/'],
  python: ['(a', 'a.b/', 'x('],
  go: ['(', 'x(', '(a'],
};
/** Against `*error*timeout*` and `*a*b*c*d*`: every start of a part is a candidate that fails late. */
const GLOB_UNITS = ['error ', 'error timeou ', 'abc'];
/** Where in its file (the record's index among that file's) a 1 MiB line goes. */
const SPECIAL_AT = [1000, 5000, 9000];

/**
 * Writes the stream into LOGS: `total` records appended in `chunks` rounds, `pause` between
 * them (the agent tails the files while they grow). The last `foreign` of them are not
 * written: they are returned for the bench to produce to Kafka (see `foreignRecord`).
 */
export async function writeStream(logs: string, total: number, chunks: number, pause: () => Promise<void>, foreign = 0): Promise<Stream> {
  const slots: number[] = [];
  LAYOUT.forEach(([, , , share], i) => {
    for (let s = 0; s < share; s++) slots.push(i);
  });
  const files: TailedFile[] = LAYOUT.map(([source, service, module]) => ({
    source,
    service,
    module,
    path: join(logs, source, service, `${module}.log`),
  }));
  const written = total - foreign;
  const fds = files.map((f) => {
    mkdirSync(dirname(f.path), { recursive: true });
    return openSync(f.path, 'a');
  });
  const sizes = files.map(() => 0);
  const counts = files.map(() => 0);
  const stream: Stream = {
    files: [...files],
    file: new Uint8Array(total),
    offset: new Float64Array(total),
    kind: new Uint8Array(total),
    byOffset: [...files.map(() => new Map<number, number>()), new Map<number, number>()],
    bytes: 0,
    foreign: [],
  };
  const per = Math.ceil(written / chunks);
  for (let from = 0; from < written; from += per) {
    const parts: Buffer[][] = files.map(() => []);
    for (let n = from; n < Math.min(written, from + per); n++) {
      const f = slots[n % slots.length]!;
      const k = counts[f]!++;
      const { kind, text } = record(files[f]!, n, k);
      stream.file[n] = f;
      stream.offset[n] = sizes[f]!;
      stream.kind[n] = KINDS.indexOf(kind);
      stream.byOffset[f]!.set(sizes[f]!, n);
      const bytes = typeof text === 'string' ? Buffer.from(text) : text;
      sizes[f]! += bytes.length;
      parts[f]!.push(bytes);
    }
    parts.forEach((p, f) => {
      if (p.length > 0) writeSync(fds[f]!, Buffer.concat(p));
    });
    await pause();
  }
  for (const fd of fds) closeSync(fd);
  stream.bytes = sizes.reduce((a, b) => a + b, 0);
  const kafka = files.length;
  stream.files.push({ source: 'kafka', service: 'produced', module: 'raw', path: FOREIGN_PATH });
  for (let n = written; n < total; n++) {
    const i = n - written;
    const { kind, value } = foreignRecord(n, i);
    stream.file[n] = kafka;
    stream.offset[n] = i;
    stream.kind[n] = KINDS.indexOf(kind);
    stream.byOffset[kafka]!.set(i, n);
    stream.foreign.push({ n, value });
  }
  return stream;
}

/**
 * The `i`-th record produced to Kafka: one in four no Sluice event at all (not JSON, JSON
 * that is no event, invalid UTF-8: the collector dead-letters them), the others Sluice
 * events whose time no sink can store (the wire decoder must mark them).
 */
function foreignRecord(n: number, i: number): { kind: Kind; value: Buffer } {
  switch (i % 8) {
    case 0:
      return { kind: 'garbage', value: Buffer.from(`not json #${n} `) };
    case 4:
      return { kind: 'garbage', value: Buffer.from(JSON.stringify({ v: 1, note: `no id, no message #${n} ` })) };
    case 6:
      return { kind: 'garbage', value: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`#${n} `)]) };
    default: {
      const timestamp = [1_700_000_000_000_000_000, -1, 1e300][i % 3]!;
      const event = {
        v: 1,
        id: `chaos-produced-${n}`,
        timestamp,
        message: `produced #${n} with a time no sink can store`,
        service: 'produced',
        module: 'raw',
        host: 'bench',
        source: { kind: 'file', path: FOREIGN_PATH, offset: i },
        fields: {},
      };
      return { kind: 'wire_time', value: Buffer.from(JSON.stringify(event)) };
    }
  }
}

/** Record `n`, the `k`-th of its file: its kind and its text (whole lines, newline included). */
type TailedFile = LogFile & { source: SourceName };

function record(file: TailedFile, n: number, k: number): { kind: Kind; text: string | Buffer } {
  const iso = new Date(T0 + n).toISOString();
  const tag = `[${file.service}/${file.module}] #${n}`;
  if (file.source === 'json') {
    const ts = T0 + n;
    if (k % 100 === 5) return { kind: 'conflict', text: json({ ts, level: 'error', n, code: `E${n}`, msg: `order ${n} failed` }) };
    if (k % 100 === 30) return { kind: 'conflict', text: json({ ts, level: 'info', n, code: 1e30, msg: 'beyond a long' }) };
    if (k % 1000 === 77) return { kind: 'deep_json', text: json({ ts, level: 'info', n, code: 1, deep: nested(30) }) };
    if (k % 100 === 55)
      return { kind: 'time_promoted', text: json({ ts: 1_700_000_000_000_000_000, level: 'info', n, code: n % 500, msg: 'ns' }) };
    return { kind: 'good', text: json({ ts, level: 'info', n, code: n % 500, msg: `order ${n} placed` }) };
  }
  if (file.service === 'refused') return { kind: 'path_file', text: `${iso} INFO ${tag} audit entry ${n}\n` };
  if (file.service === 'linked') return { kind: 'path_symlink', text: `${iso} INFO ${tag} audit entry ${n}\n` };
  if (n === HUGE_RECORD) return { kind: 'huge', text: `${iso} INFO ${tag} huge ${'x'.repeat(5 * MiB)}\n` };
  const special = SPECIAL_AT.indexOf(k);
  if (special !== -1) {
    if (file.source === 'plain') return { kind: 'hostile_glob', text: `${mib(GLOB_UNITS[special]!)}\n` };
    const unit = PRESET_UNITS[file.source][special]!;
    const line = mib(unit);
    // A hostile line that continued the event before it would be joined into it, not counted as one.
    if (PRESETS[file.source].continuation!.test(line.slice(0, 4096)))
      throw new Error(`chaos stream: a line of ${JSON.stringify(unit)} continues a ${file.source} event: pick another unit`);
    return { kind: 'hostile_preset', text: `${line}\n` };
  }
  if (file.source === 'plain' && k === 6000) return { kind: 'escaped', text: `${mib('"\\')}\n` };
  if (file.service.startsWith('Ü')) return { kind: 'odd_name', text: `${iso} INFO ${tag} from a service with an odd name\n` };
  // A blank line continues a python or go trace: only where it is a line of its own.
  if (k % 1000 === 500 && (file.source === 'plain' || file.source === 'java')) return { kind: 'blank', text: '\n' };
  if (k % 1000 === 600)
    return {
      kind: 'binary',
      text: Buffer.concat([
        Buffer.from(`${iso} INFO ${tag} bytes `),
        Buffer.from([0xff, 0xfe, 0x00, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0xc3, 0x07, 0x80]),
        Buffer.from(' end\n'),
      ]),
    };
  if (k % 100 === 41) return { kind: 'time_ns', text: `1700000000000000000 WARN ${tag} clock read in nanoseconds\n` };
  if (k % 100 === 91) return { kind: 'time_text', text: `2024-13-45T99:99:99Z WARN ${tag} clock out of range\n` };
  if (file.source === 'plain') {
    if (k % 50 === 40) return { kind: 'timeout', text: `${iso} ERROR ${tag} upstream error: read timeout after 30s\n` };
    return { kind: 'good', text: `${iso} INFO ${tag} order ${n} placed by user ${n % 977} in ${n % 300} ms, items=${n % 7}\n` };
  }
  if (k % 10 === 3) return { kind: 'trace', text: trace(file.source, iso, tag) };
  return { kind: 'good', text: `${iso} INFO ${tag} job ${n} done in ${n % 300} ms\n` };
}

function trace(source: 'java' | 'python' | 'go', iso: string, tag: string): string {
  const lines =
    source === 'java'
      ? [
          `${iso} ERROR ${tag} payment failed: java.lang.IllegalStateException: card declined`,
          '\tat com.example.billing.Charge.run(Charge.java:42)',
          '\tat com.example.billing.Worker.lambda$0(Worker.java:17)',
          'Caused by: java.io.IOException: connection reset',
          '\t... 12 more',
        ]
      : source === 'python'
        ? [
            `${iso} ERROR ${tag} task failed`,
            'Traceback (most recent call last):',
            '  File "/app/worker.py", line 88, in run',
            '    result = task()',
            'ValueError: invalid literal for int()',
          ]
        : [
            `${iso} ERROR ${tag} panic recovered`,
            'goroutine 7 [running]:',
            'main.(*Gateway).serve(0xc000123456, 0x1)',
            '\t/app/gateway.go:131 +0x1d5',
            'created by main.main',
          ];
  return `${lines.join('\n')}\n`;
}

const nested = (depth: number): object => (depth === 0 ? { leaf: true } : { a: nested(depth - 1) });
const json = (o: object) => `${JSON.stringify(o)}\n`;
const mib = (unit: string) => unit.repeat(Math.ceil(MiB / unit.length)).slice(0, MiB);
