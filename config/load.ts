import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import type { ComponentKind, ComponentSpec, Registry } from '../core/registry.js';
import type { LogLevel } from '../core/log.js';
import { apiSection, literalTokenProblem, type ApiConfig } from './api.js';
import { ConfigError, formatPath, type ConfigProblem } from './errors.js';
import { interpolateEnv } from './interpolate.js';
import { locate } from './locate.js';
import { closest } from './suggest.js';
import {
  deadLetterSection,
  routesSection,
  shutdownSection,
  type DeadLetterConfig,
  type RoutesConfig,
  type ShutdownConfig,
} from './routing.js';

/** One configured component: its name (the YAML key), its type and its validated options. */
export interface ComponentConfig<Options = unknown> {
  kind: ComponentKind;
  name: string;
  type: string;
  spec: ComponentSpec<Options>;
  options: Options;
}

/**
 * A validated pipeline. One file describes one pipeline; which half runs is the CLI's
 * choice: `sluice agent` uses sources, transforms, channel and bus; `sluice collector`
 * uses bus and sinks; `sluice run` uses all of it with an in-process bus.
 */
export interface PipelineConfig {
  file: string;
  dataDir: string;
  log: { level: LogLevel };
  sources: ComponentConfig[];
  transforms: ComponentConfig[];
  channel?: ComponentConfig;
  bus?: ComponentConfig;
  sinks: ComponentConfig[];
  /** Absent: every sink receives every event. */
  routes?: RoutesConfig;
  deadLetter: DeadLetterConfig;
  shutdown: ShutdownConfig;
  /** The HTTP API: metrics, health, readiness, reload, tap (config/api.ts). */
  api: ApiConfig;
}

/** The sections that hold named components (`name: {type: ..., ...}`), in pipeline order. */
const NAMED_SECTIONS = { sources: 'source', transforms: 'transform', sinks: 'sink' } as const;
/** The sections that hold exactly one component (`{type: ..., ...}`). */
const SINGLE_SECTIONS = { channel: 'channel', bus: 'bus' } as const;

const COMPONENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const envelope = z.strictObject({
  data_dir: z.string().min(1).default('./var/sluice').describe('Where components keep their state (checkpoints, the disk channel)'),
  log: z
    .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
    .default({ level: 'info' }),
  sources: z.record(z.string(), z.unknown()).optional(),
  transforms: z.record(z.string(), z.unknown()).optional(),
  channel: z.record(z.string(), z.unknown()).optional(),
  bus: z.record(z.string(), z.unknown()).optional(),
  sinks: z.record(z.string(), z.unknown()).optional(),
  routes: routesSection.optional(),
  dead_letter: deadLetterSection.default(deadLetterSection.parse({})),
  shutdown: shutdownSection.default(shutdownSection.parse({})),
  api: apiSection.default(apiSection.parse({})),
});

export async function loadConfigFile(file: string, registry: Registry, env: NodeJS.ProcessEnv = process.env): Promise<PipelineConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT'
        ? 'no such file'
        : e.code === 'EACCES'
          ? 'permission denied'
          : e.code === 'EISDIR'
            ? 'is a directory, not a file'
            : e.message;
    throw new ConfigError([{ file, line: 0, col: 0, path: '', message: `cannot read config file: ${why}` }]);
  }
  return parseConfig(text, file, registry, env);
}

/** Parses and validates a config; throws ConfigError listing every problem found. */
export function parseConfig(text: string, file: string, registry: Registry, env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const at = (path: readonly PropertyKey[], message: string, where: 'key' | 'value' = 'value') => {
    const pos = locate(doc, lines, path, where);
    problems.push({ file, ...pos, path: formatPath(path), message });
  };

  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const pos = lines.linePos(err.pos[0]);
      problems.push({ file, line: pos.line, col: pos.col, path: '', message: `invalid YAML: ${err.message.split('\n')[0]}` });
    }
    throw new ConfigError(problems);
  }
  const tokenProblem = literalTokenProblem(doc);
  if (tokenProblem) at(['api', 'token'], tokenProblem);
  for (const p of interpolateEnv(doc, env)) {
    const pos = lines.linePos(p.node.range?.[0] ?? 0);
    problems.push({ file, line: pos.line, col: pos.col, path: '', message: p.message });
  }

  const data: unknown = doc.toJS();
  if (data === null || data === undefined) {
    problems.push({
      file,
      line: 1,
      col: 1,
      path: '',
      message: 'the config is empty: expected a map with sources, channel, bus and/or sinks',
    });
    throw new ConfigError(problems);
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    problems.push({
      file,
      line: 1,
      col: 1,
      path: '',
      message: `expected a map with sources, channel, bus and/or sinks, got ${describeValue(data)}`,
    });
    throw new ConfigError(problems);
  }
  const top = envelope.safeParse(data);
  if (!top.success) reportZodIssues(top.error.issues, [], data, envelope, doc, at);
  // Components are checked even when the envelope is wrong, so one run lists every problem.
  const sections = (top.success ? top.data : data) as Record<string, unknown>;
  const config: PipelineConfig = {
    file,
    dataDir: top.data?.data_dir ?? '',
    log: top.data?.log ?? { level: 'info' },
    sources: [],
    transforms: [],
    sinks: [],
    routes: top.data?.routes,
    deadLetter: top.data?.dead_letter ?? deadLetterSection.parse({}),
    shutdown: top.data?.shutdown ?? shutdownSection.parse({}),
    api: top.data?.api ?? apiSection.parse({}),
  };
  for (const [section, kind] of Object.entries(NAMED_SECTIONS)) {
    const entries = sections[section];
    if (!isMap(entries)) continue;
    for (const [name, body] of Object.entries(entries)) {
      if (!COMPONENT_NAME.test(name)) {
        at(
          [section, name],
          `invalid component name "${name}": use letters, digits, "_" and "-" (it names state directories and metrics)`,
          'key',
        );
        continue;
      }
      const component = resolveComponent(registry, kind, [section, name], name, body, doc, at);
      if (component) config[section as keyof typeof NAMED_SECTIONS].push(component);
    }
  }
  for (const [section, kind] of Object.entries(SINGLE_SECTIONS)) {
    const body = sections[section];
    if (!isMap(body)) continue;
    const component = resolveComponent(registry, kind, [section], section, body, doc, at);
    if (component) config[section as keyof typeof SINGLE_SECTIONS] = component;
  }
  checkRouting(config, sections, at);
  if (problems.length > 0) throw new ConfigError(sortProblems(problems));
  return config;
}

/** Routes may only name sinks the file defines; a Kafka dead-letter needs the Kafka bus's brokers. */
function checkRouting(config: PipelineConfig, sections: Record<string, unknown>, at: At): void {
  const defined = isMap(sections.sinks) ? Object.keys(sections.sinks) : [];
  const check = (name: string, path: PropertyKey[]) => {
    if (defined.includes(name)) return;
    const hint = closest(name, defined);
    at(
      path,
      `unknown sink "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; sinks defined in this file: ${defined.join(', ') || 'none'}`,
    );
  };
  const routes = config.routes;
  if (routes) {
    for (const [i, rule] of routes.rules.entries()) {
      for (const [j, name] of rule.sinks.entries()) check(name, ['routes', 'rules', i, 'sinks', j]);
    }
    for (const [j, name] of (routes.default ?? []).entries()) check(name, ['routes', 'default', j]);
  }
  if (config.deadLetter.type === 'kafka') {
    const bus = sections.bus;
    if (!isMap(bus) || bus.type !== 'kafka')
      at(
        ['dead_letter', 'type'],
        'a kafka dead-letter uses the brokers of the kafka bus: this file needs "bus: {type: kafka, ...}" (or use type: file)',
      );
  }
}

type At = (path: readonly PropertyKey[], message: string, where?: 'key' | 'value') => void;

function resolveComponent(
  registry: Registry,
  kind: ComponentKind,
  path: string[],
  name: string,
  body: unknown,
  doc: Document,
  at: At,
): ComponentConfig | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    at(path, `expected a map with a "type" key, got ${describeValue(body)}`);
    return undefined;
  }
  const { type, ...options } = body as Record<string, unknown>;
  if (type === undefined) {
    at(path, `missing "type": which ${kind} is this? (available: ${registry.types(kind).join(', ') || 'none'})`);
    return undefined;
  }
  if (typeof type !== 'string') {
    at([...path, 'type'], `"type" must be a string, got ${describeValue(type)}`);
    return undefined;
  }
  const found = registry.lookup(kind, type);
  if (found.status === 'unknown') {
    const hint = closest(type, found.known);
    at(
      [...path, 'type'],
      `unknown ${kind} type "${type}"${hint ? ` (did you mean "${hint}"?)` : ''}; available: ${found.known.join(', ') || 'none'}`,
    );
    return undefined;
  }
  if (found.status === 'planned') {
    at(
      [...path, 'type'],
      `${kind} type "${type}" (${found.planned.description}) is not available yet in this version of Sluice; available: ${registry.types(kind).join(', ') || 'none'}`,
    );
    return undefined;
  }
  const parsed = found.spec.options.safeParse(options);
  if (!parsed.success) {
    reportZodIssues(parsed.error.issues, path, options, found.spec.options, doc, at);
    return undefined;
  }
  return { kind, name, type, spec: found.spec, options: parsed.data };
}

function reportZodIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[],
  data: unknown,
  schema: z.ZodType,
  _doc: Document,
  at: At,
): void {
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(schema, issue.path);
      for (const key of issue.keys) {
        const hint = closest(key, allowed);
        at(
          [...path, key],
          `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}${allowed.length ? `; allowed: ${allowed.join(', ')}` : ''}`,
          'key',
        );
      }
    } else if (issue.code === 'invalid_type') {
      const value = valueAt(data, issue.path);
      if (value === undefined) at(path, `missing required option "${String(issue.path.at(-1))}" (expected ${issue.expected})`);
      else at(path, `expected ${issue.expected}, got ${describeValue(value)}`);
    } else if (issue.code === 'invalid_union') {
      // Unions here are "number or string with a unit": the custom issue underneath says it best.
      const inner = issue.errors.flat().find((i) => i.code === 'custom');
      at(path, inner?.message ?? `expected ${describeUnion(issue)}, got ${describeValue(valueAt(data, issue.path))}`);
    } else if (issue.code === 'invalid_value') {
      at(
        path,
        `expected ${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`}, got ${describeValue(valueAt(data, issue.path))}`,
      );
    } else {
      at(path, issue.message);
    }
  }
}

function describeUnion(issue: z.core.$ZodIssueInvalidUnion): string {
  const expected = new Set(issue.errors.flat().flatMap((i) => (i.code === 'invalid_type' ? [i.expected] : [])));
  return [...expected].join(' or ') || 'another value';
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const step of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[step];
  }
  return cur;
}

/** The keys an object schema at `path` accepts, for "did you mean" and "allowed:" hints. */
function allowedKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let cur: z.ZodType | undefined = unwrap(schema);
  for (const step of path) {
    if (cur instanceof z.ZodObject) cur = unwrap(cur.shape[String(step)] as z.ZodType | undefined);
    else if (cur instanceof z.ZodArray) cur = unwrap(cur.element as z.ZodType);
    else if (cur instanceof z.ZodRecord) cur = unwrap(cur.valueType as z.ZodType);
    else return [];
  }
  return cur instanceof z.ZodObject ? Object.keys(cur.shape).sort() : [];
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let cur = schema;
  for (let i = 0; i < 10 && cur; i++) {
    if (cur instanceof z.ZodOptional || cur instanceof z.ZodDefault || cur instanceof z.ZodNullable) cur = cur.unwrap() as z.ZodType;
    else if (cur instanceof z.ZodPipe) cur = cur.in as z.ZodType;
    else break;
  }
  return cur;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => a.line - b.line || a.col - b.col);
}
