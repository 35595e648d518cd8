import { readFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { Router } from '../collector/router/router.js';
import type { FieldValue, LogEvent } from '../core/event.js';
import { silentLogger } from '../core/log.js';
import { compilePattern } from '../core/template.js';
import { formatPath } from '../config/errors.js';
import type { PipelineConfig } from '../config/load.js';
import { locate } from '../config/locate.js';
import { buildTransformChains, type Transform, TransformChain } from '../transforms/index.js';
import { getField } from '../transforms/paths.js';

/**
 * `sluice test -c pipeline.yaml tests/*.yaml`: pipeline unit tests, like `vector test`.
 * Each case feeds lines or events through the pipeline's transforms (all of them as
 * `sluice run` would apply them, level detection first, or a named chain) and checks every
 * event that comes out, and where the routes send it:
 *
 *   tests:
 *     - name: access lines become fields
 *       input:
 *         service: web                 # defaults for every input event
 *         lines: ['10.0.0.7 - - [01/Mar/2024:12:00:00 +0000] "GET / HTTP/1.1" 500 12 "-" "curl"']
 *       transforms: [access]           # optional: only these, in this order
 *       expect:                        # exactly one entry per event out ([] = all dropped)
 *         - level: error
 *           fields: { status: 500 }    # these keys equal (other keys may exist)
 *           absent: [fields.password]
 *           matches: { message: "/GET/" }   # exact, glob or /regex/
 *           route: [search, archive]   # the sinks the routes give it ([] = dead-letter)
 *
 * Prints one line per case, and for a failing case what differs; exits 0 when every case
 * passed, 1 when one failed, 2 when a file is wrong.
 */

const value: z.ZodType<FieldValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(value), z.record(z.string(), value)]),
);

const inputEvent = z.strictObject({
  message: z.string(),
  service: z.string().optional(),
  module: z.string().optional(),
  host: z.string().optional(),
  level: z.string().optional(),
  timestamp: z.union([z.number(), z.string()]).optional(),
  stream: z.enum(['stdout', 'stderr']).optional(),
  fields: z.record(z.string(), value).optional(),
});

const testCase = z.strictObject({
  name: z.string().min(1),
  input: z
    .strictObject({
      service: z.string().default('test'),
      module: z.string().default('test'),
      host: z.string().default('test-host'),
      stream: z.enum(['stdout', 'stderr']).optional(),
      fields: z.record(z.string(), value).default({}),
      lines: z.array(z.string()).optional(),
      events: z.array(inputEvent).optional(),
    })
    .refine((i) => (i.lines === undefined) !== (i.events === undefined), 'give either lines or events'),
  transforms: z.array(z.string().min(1)).min(1).optional(),
  expect: z.array(
    z.strictObject({
      message: z.string().optional(),
      service: z.string().optional(),
      module: z.string().optional(),
      host: z.string().optional(),
      level: z.string().optional(),
      timestamp: z.union([z.number(), z.string()]).optional(),
      fields: z.record(z.string(), value).optional(),
      absent: z.array(z.string()).optional(),
      matches: z.record(z.string(), z.string()).optional(),
      route: z.array(z.string()).optional(),
    }),
  ),
});

const testFile = z.strictObject({ tests: z.array(testCase).min(1) });
type TestCase = z.infer<typeof testCase>;
type Expected = TestCase['expect'][number];

/** A test file that cannot be run: printed as is, exit code 2. */
export class TestFileError extends Error {}

const BASE_TIME = Date.UTC(2024, 0, 1);

export async function runTests(config: PipelineConfig, files: string[], out: (line: string) => void): Promise<number> {
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    const cases = await loadTests(file, config);
    out(file);
    for (const [i, c] of cases.entries()) {
      const problems = runCase(config, c, i);
      if (problems.length === 0) {
        passed++;
        out(`  ✓ ${c.name}`);
      } else {
        failed++;
        out(`  ✗ ${c.name}`);
        for (const p of problems) out(`      ${p}`);
      }
    }
  }
  out(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

async function loadTests(file: string, config: PipelineConfig): Promise<TestCase[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new TestFileError(`${file}: cannot read test file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const pos = lines.linePos(doc.errors[0]!.pos[0]);
    throw new TestFileError(`${file}:${pos.line}:${pos.col}: invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  }
  const where = (path: readonly PropertyKey[]) => {
    const pos = locate(doc, lines, path);
    return `${file}:${pos.line}:${pos.col}: ${formatPath(path)}`;
  };
  const parsed = testFile.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new TestFileError(parsed.error.issues.map((i) => `${where(i.path)}: ${i.message}`).join('\n'));
  }
  const known = new Set(config.transforms.map((t) => t.name));
  const problems: string[] = [];
  parsed.data.tests.forEach((c, i) => {
    for (const [j, name] of (c.transforms ?? []).entries())
      if (!known.has(name))
        problems.push(
          `${where(['tests', i, 'transforms', j])}: no transform "${name}" in ${config.file} (it has: ${[...known].join(', ') || 'none'})`,
        );
    for (const [j, e] of c.expect.entries()) {
      if (e.route !== undefined && config.sinks.length === 0)
        problems.push(`${where(['tests', i, 'expect', j, 'route'])}: ${config.file} has no sinks to route to`);
      for (const [key, pattern] of Object.entries(e.matches ?? {}))
        try {
          compilePattern(pattern);
        } catch (err) {
          problems.push(`${where(['tests', i, 'expect', j, 'matches', key])}: ${(err as Error).message}`);
        }
    }
  });
  if (problems.length > 0) throw new TestFileError(problems.join('\n'));
  return parsed.data.tests;
}

function runCase(config: PipelineConfig, c: TestCase, index: number): string[] {
  const input = inputEvents(c, index);
  let output: LogEvent[];
  if (c.transforms) {
    const steps = c.transforms.map((name) => {
      const t = config.transforms.find((x) => x.name === name)!;
      return t.spec.create(t.options, { name, logger: silentLogger(), dataDir: '', host: 'test-host' }) as Transform;
    });
    output = new TransformChain(steps, { detectLevel: false, logger: silentLogger() }).apply(input);
  } else {
    const chains = buildTransformChains(config.transforms, 'run', silentLogger(), 'test-host');
    output = chains.agent!.apply(input);
    if (chains.collector) output = chains.collector.apply(output);
  }
  const problems: string[] = [];
  if (output.length !== c.expect.length)
    problems.push(`expected ${c.expect.length} event(s) out, got ${output.length}${output.length ? ':' : ''}`);
  const routes = c.expect.some((e) => e.route !== undefined) ? routeOf(config, output) : undefined;
  for (const [i, e] of output.entries()) {
    const want = c.expect[i];
    const diffs = want ? compare(e, want, routes?.get(e)) : [];
    for (const d of diffs) problems.push(`output[${i}]${d}`);
    if (diffs.length > 0 || !want || output.length !== c.expect.length) problems.push(`output[${i}] was ${show(e, routes?.get(e))}`);
  }
  return problems;
}

function inputEvents(c: TestCase, index: number): LogEvent[] {
  const d = c.input;
  const list = d.lines?.map((message) => ({ message })) ?? d.events!;
  return list.map((raw, i) => {
    const r = raw as z.infer<typeof inputEvent>;
    const stream = r.stream ?? d.stream;
    const e: LogEvent = {
      id: `test-${index}-${i}`,
      timestamp: r.timestamp === undefined ? BASE_TIME + i : typeof r.timestamp === 'number' ? r.timestamp : Date.parse(r.timestamp),
      message: r.message,
      service: r.service ?? d.service,
      module: r.module ?? d.module,
      host: r.host ?? d.host,
      source: { kind: 'test', ...(stream ? { stream } : {}) },
      fields: structuredClone({ ...d.fields, ...(r.fields ?? {}) }),
    };
    if (r.level !== undefined) e.level = r.level;
    return e;
  });
}

function routeOf(config: PipelineConfig, events: LogEvent[]): Map<LogEvent, string[]> {
  const router = new Router(
    config.routes,
    config.sinks.map((s) => s.name),
  );
  const { bySink } = router.route(events);
  const out = new Map<LogEvent, string[]>(events.map((e) => [e, []]));
  for (const [sink, list] of bySink) for (const e of list) out.get(e)!.push(sink);
  return out;
}

function compare(e: LogEvent, want: Expected, route: string[] | undefined): string[] {
  const diffs: string[] = [];
  const check = (path: string, got: unknown, expected: unknown) => {
    if (!isDeepStrictEqual(got, expected)) diffs.push(`.${path}: expected ${json(expected)}, got ${json(got)}`);
  };
  for (const key of ['message', 'service', 'module', 'host', 'level'] as const) if (want[key] !== undefined) check(key, e[key], want[key]);
  if (want.timestamp !== undefined)
    check(
      'timestamp',
      new Date(e.timestamp).toISOString(),
      new Date(typeof want.timestamp === 'number' ? want.timestamp : Date.parse(want.timestamp)).toISOString(),
    );
  for (const [key, expected] of Object.entries(want.fields ?? {})) check(`fields.${key}`, fieldAt(e, key), expected);
  for (const path of want.absent ?? []) {
    const got = valueAt(e, path);
    if (got !== undefined) diffs.push(`.${path}: expected absent, got ${json(got)}`);
  }
  for (const [path, pattern] of Object.entries(want.matches ?? {})) {
    const got = valueAt(e, path);
    const text = typeof got === 'string' ? got : got === undefined ? undefined : JSON.stringify(got);
    if (!compilePattern(pattern).test(text)) diffs.push(`.${path}: expected to match ${pattern}, got ${json(got)}`);
  }
  if (want.route !== undefined) check('route', [...(route ?? [])].sort(), [...want.route].sort());
  return diffs;
}

/** `message`, `level`, … or `fields.NAME` (a flat dotted key first, then nested objects). */
function valueAt(e: LogEvent, path: string): unknown {
  if (path.startsWith('fields.')) return fieldAt(e, path.slice('fields.'.length));
  return (e as unknown as Record<string, unknown>)[path];
}

function fieldAt(e: LogEvent, name: string): unknown {
  return getField(e.fields, name);
}

function show(e: LogEvent, route: string[] | undefined): string {
  return json({
    timestamp: new Date(e.timestamp).toISOString(),
    message: e.message,
    service: e.service,
    module: e.module,
    host: e.host,
    level: e.level,
    fields: e.fields,
    ...(route ? { route } : {}),
  });
}

function json(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}
