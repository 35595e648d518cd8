/**
 * A reader of the Prometheus text exposition format (version 0.0.4), for `sluice top` and
 * the tests: what /metrics serves is read back the way Prometheus reads it, so top shows
 * exactly what a dashboard would.
 *
 *   # HELP name text
 *   # TYPE name counter|gauge|histogram|summary|untyped
 *   name{label="value",...} 1.5 [timestamp]
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

export class PrometheusParseError extends Error {}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
    return f;
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (!m) continue; // a comment
      if (m[1] === 'HELP') family(m[2]!).help = unescapeHelp(m[3] ?? '');
      else family(m[2]!).type = (m[3] ?? 'untyped').trim();
      continue;
    }
    const sample = parseSample(line, i + 1);
    family(familyOf(sample.name, families)).samples.push(sample);
  }
  return families;
}

/** `x_bucket`, `x_sum`, `x_count` belong to histogram/summary `x` when that family was declared. */
function familyOf(name: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count', '_created']) {
    if (!name.endsWith(suffix)) continue;
    const base = families.get(name.slice(0, -suffix.length));
    if (base && (base.type === 'histogram' || base.type === 'summary')) return base.name;
  }
  return name;
}

function parseSample(line: string, lineNo: number): Sample {
  const fail = (why: string): never => {
    throw new PrometheusParseError(`line ${lineNo}: ${why}: ${line.slice(0, 120)}`);
  };
  const name = NAME.exec(line)?.[0] ?? fail('expected a metric name');
  let pos = name.length;
  const labels: Record<string, string> = {};
  if (line[pos] === '{') {
    pos++;
    for (;;) {
      while (line[pos] === ' ') pos++;
      if (line[pos] === '}') {
        pos++;
        break;
      }
      const label = LABEL_NAME.exec(line.slice(pos))?.[0] ?? fail('expected a label name');
      pos += label.length;
      while (line[pos] === ' ') pos++;
      if (line[pos] !== '=') fail(`expected = after label ${label}`);
      pos++;
      while (line[pos] === ' ') pos++;
      if (line[pos] !== '"') fail(`expected a quoted value for label ${label}`);
      pos++;
      let value = '';
      for (;;) {
        const c = line[pos];
        if (c === undefined) fail(`unterminated value of label ${label}`);
        pos++;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[pos++];
          value += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : fail(`invalid escape \\${e} in label ${label}`);
        } else value += c;
      }
      labels[label] = value;
      while (line[pos] === ' ') pos++;
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') fail('expected , or } after a label');
    }
  }
  const rest = line.slice(pos).trim().split(/\s+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') fail('expected a value (and an optional timestamp)');
  return { name, labels, value: parseValue(rest[0]!, fail) };
}

/** Like Prometheus (Go's ParseFloat): NaN and Inf in any case — prom-client writes "Nan". */
function parseValue(text: string, fail: (why: string) => never): number {
  const special = text.toLowerCase();
  if (special === '+inf' || special === 'inf') return Number.POSITIVE_INFINITY;
  if (special === '-inf') return Number.NEGATIVE_INFINITY;
  if (special === 'nan') return Number.NaN;
  const v = Number(text);
  if (Number.isNaN(v) || text === '') fail(`invalid value ${JSON.stringify(text)}`);
  return v;
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** The samples of `name` (a sample name: `x_bucket` for histogram buckets) whose labels include `match`. */
export function samples(families: Map<string, Family>, name: string, match: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) out.push(s);
    }
  }
  return out;
}

/** Sum of the values of `name` whose labels include `match` (0 when there are none). */
export function sum(families: Map<string, Family>, name: string, match: Record<string, string> = {}): number {
  return samples(families, name, match).reduce((n, s) => n + s.value, 0);
}
