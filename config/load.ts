import { fileErrorText } from '../core/fs-errors.js';
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { acceptsString, schemasAt } from '../core/options/introspect.js';
import { secretValues } from '../core/options/secret.js';
import type { ComponentKind, ComponentSpec, Registry } from '../core/registry.js';
import type { LogLevel } from '../core/log.js';
import { parseTemplate, type TemplatePart, templateMatcher } from '../core/template.js';
import { apiSection, literalTokenProblem, type ApiConfig } from './api.js';
import { ConfigError, formatPath, type ConfigProblem } from './errors.js';
import { interpolateEnv, retype, type Substitution } from './interpolate.js';
import { type At, describeValue, reportZodIssues, valueAt } from './issues.js';
import { locate, type Position } from './locate.js';
import { memoryLimitOption } from './memory-option.js';
import { closest } from './suggest.js';
import { routesSection, shutdownSection, type RoutesConfig, type ShutdownConfig } from './routing.js';

/** One configured component: its name (the YAML key), its type and its validated options. */
export interface ComponentConfig<K extends ComponentKind = ComponentKind, Options = unknown> {
  kind: K;
  name: string;
  type: string;
  spec: ComponentSpec<K, Options>;
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
  /** `memory_limit:` in bytes; absent: the default of the role that runs (config/memory-budget.ts). */
  memoryLimit?: number;
  sources: ComponentConfig<'source'>[];
  transforms: ComponentConfig<'transform'>[];
  channel?: ComponentConfig<'channel'>;
  bus?: ComponentConfig<'bus'>;
  sinks: ComponentConfig<'sink'>[];
  /** Absent: every sink receives every event. */
  routes?: RoutesConfig;
  /**
   * The collector's dead-letter (`dead_letter:`; without the section, a file in
   * DATA_DIR/dead-letter). Absent only with a registry that has no dead-letter types (a
   * test's): what needs a dead-letter then holds its batch uncommitted.
   */
  deadLetter?: ComponentConfig<'dead_letter'>;
  /**
   * The agent's own dead-letter, for what Kafka refused for good: always a file (what Kafka
   * refused cannot go to Kafka), at the section's `agent_path`, whatever its type.
   */
  agentDeadLetter?: ComponentConfig<'dead_letter'>;
  shutdown: ShutdownConfig;
  /** The HTTP API: metrics, health, readiness, reload, tap (config/api.ts). */
  api: ApiConfig;
  /** The top-level sections the file has, with where their keys are: for the role checks. */
  sections: Record<string, Position>;
  /** With `noEnv`: values only known at run time, as `path (${VAR})`; they were not checked. */
  deferred: string[];
}

/**
 * The dead-letters a role builds: the collector's (`dead_letter:`), and the agent's own file
 * for what Kafka refused, on an agent only (the in-process bus of `sluice run` refuses nothing).
 */
export function deadLettersOf(config: PipelineConfig, role: 'agent' | 'collector' | 'run'): ComponentConfig<'dead_letter'>[] {
  const built = role === 'agent' ? config.agentDeadLetter : config.deadLetter;
  return built ? [built] : [];
}

export interface LoadOptions {
  /** Check without the environment (`sluice validate --no-env`): see config/interpolate.ts. */
  noEnv?: boolean;
}

/** Where state goes when the file has no `data_dir:`: $SLUICE_DATA_DIR, else this. */
export const DEFAULT_DATA_DIR = './var/sluice';

/** The sections that hold named components (`name: {type: ..., ...}`), in pipeline order. */
const NAMED_SECTIONS = { sources: 'source', transforms: 'transform', sinks: 'sink' } as const;
/** The sections that hold exactly one component (`{type: ..., ...}`). */
const SINGLE_SECTIONS = { channel: 'channel', bus: 'bus' } as const;
/**
 * `dead_letter:` holds one component too, but a process always has one: without the
 * section, or without `type:`, it is a file. Named for its directory, DATA_DIR/dead-letter,
 * where a file dead-letter keeps NAME.jsonl by default (the agent's is `agent`).
 */
const DEAD_LETTER = { section: 'dead_letter', kind: 'dead_letter', name: 'dead-letter', agentName: 'agent', defaultType: 'file' } as const;

const COMPONENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const envelope = z.strictObject({
  data_dir: z
    .string()
    .min(1)
    .optional()
    .describe(`Where components keep their state (checkpoints, the disk channel); default: $SLUICE_DATA_DIR, else ${DEFAULT_DATA_DIR}`),
  log: z
    .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
    .default({ level: 'info' }),
  memory_limit: memoryLimitOption,
  sources: z.record(z.string(), z.unknown()).optional(),
  transforms: z.record(z.string(), z.unknown()).optional(),
  channel: z.record(z.string(), z.unknown()).optional(),
  bus: z.record(z.string(), z.unknown()).optional(),
  sinks: z.record(z.string(), z.unknown()).optional(),
  routes: routesSection.optional(),
  dead_letter: z.record(z.string(), z.unknown()).optional(),
  shutdown: shutdownSection.default(shutdownSection.parse({})),
  api: apiSection.default(apiSection.parse({})),
});

export async function loadConfigFile(
  file: string,
  registry: Registry,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): Promise<PipelineConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file, line: 0, col: 0, path: '', message: `cannot read config file: ${fileErrorText(err)}` }]);
  }
  return parseConfig(text, file, registry, env, options);
}

/** Parses and validates a config; throws ConfigError listing every problem found. */
export function parseConfig(
  text: string,
  file: string,
  registry: Registry,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): PipelineConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const at: At = (path, message, where = 'value') => {
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
  const { problems: envProblems, substitutions } = interpolateEnv(doc, env, { noEnv: options.noEnv });
  for (const p of envProblems) {
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
  // A value whose variables are only known at run time is not checked (--no-env).
  const deferred = substitutions.filter((s) => s.unresolved.length > 0);
  const skip = (path: readonly PropertyKey[], issue: z.core.$ZodIssue) =>
    deferred.some((d) => startsWith(path, d.path) || (issue.code === 'invalid_union' && startsWith(d.path, path)));
  const componentSections = new Set<string>([...Object.keys(NAMED_SECTIONS), ...Object.keys(SINGLE_SECTIONS), DEAD_LETTER.section]);
  coerceSubstituted(
    data,
    substitutions.filter((s) => !componentSections.has(String(s.path[0]))),
    [],
    envelope,
  );
  const top = envelope.safeParse(data);
  if (!top.success) reportZodIssues(top.error.issues, [], data, envelope, at, skip);
  // Components are checked even when the envelope is wrong, so one run lists every problem.
  const sections = (top.success ? top.data : data) as Record<string, unknown>;
  const config: PipelineConfig = {
    file,
    dataDir: top.data?.data_dir ?? ((options.noEnv ? undefined : env.SLUICE_DATA_DIR) || DEFAULT_DATA_DIR),
    log: top.data?.log ?? { level: 'info' },
    memoryLimit: top.data?.memory_limit,
    sources: [],
    transforms: [],
    sinks: [],
    routes: top.data?.routes,
    shutdown: top.data?.shutdown ?? shutdownSection.parse({}),
    api: top.data?.api ?? apiSection.parse({}),
    sections: Object.fromEntries(Object.keys(data).map((key) => [key, locate(doc, lines, [key], 'key')])),
    deferred: deferred.map((d) => `${formatPath(d.path)} (${d.unresolved.map((n) => `\${${n}}`).join(', ')})`),
  };
  // The top-level sections' secrets too (api.token): scrubbed from every message.
  const secrets: string[] = secretValues(envelope, top.success ? top.data : data);
  const checked = { substitutions, skip, secrets };
  const named = <K extends ComponentKind>(section: keyof typeof NAMED_SECTIONS, kind: K): ComponentConfig<K>[] => {
    const out: ComponentConfig<K>[] = [];
    const entries = sections[section];
    if (!isMap(entries)) return out;
    for (const [name, body] of Object.entries(entries)) {
      if (!COMPONENT_NAME.test(name)) {
        at(
          [section, name],
          `invalid component name "${name}": use letters, digits, "_" and "-" (it names state directories and metrics)`,
          'key',
        );
        continue;
      }
      const component = resolveComponent(registry, kind, [section, name], name, body, at, checked);
      if (component) out.push(component);
    }
    return out;
  };
  const single = <K extends ComponentKind>(section: keyof typeof SINGLE_SECTIONS, kind: K): ComponentConfig<K> | undefined => {
    const body = sections[section];
    return isMap(body) ? resolveComponent(registry, kind, [section], section, body, at, checked) : undefined;
  };
  config.sources = named('sources', NAMED_SECTIONS.sources);
  config.transforms = named('transforms', NAMED_SECTIONS.transforms);
  config.sinks = named('sinks', NAMED_SECTIONS.sinks);
  config.channel = single('channel', SINGLE_SECTIONS.channel);
  config.bus = single('bus', SINGLE_SECTIONS.bus);
  const deadLetterBody = sections[DEAD_LETTER.section] ?? {};
  const defaultOnly =
    !(DEAD_LETTER.section in sections) && registry.lookup(DEAD_LETTER.kind, DEAD_LETTER.defaultType).status !== 'available';
  // Not a map: the envelope said so already.
  config.deadLetter =
    isMap(deadLetterBody) && !defaultOnly
      ? resolveComponent(
          registry,
          DEAD_LETTER.kind,
          [DEAD_LETTER.section],
          DEAD_LETTER.name,
          { type: DEAD_LETTER.defaultType, ...deadLetterBody },
          at,
          checked,
        )
      : undefined;
  checkRouting(data as Record<string, unknown>, at);
  checkDeadLetterBus(data as Record<string, unknown>, at);
  checkDeadLetterNotRead(config.bus, config.deadLetter, at);
  if (problems.length > 0) throw new ConfigError(sortProblems(scrub(problems, secrets)));
  config.agentDeadLetter = agentDeadLetter(registry, deadLetterBody);
  return config;
}

/** The agent's file dead-letter, at the section's `agent_path` (validated with the section). */
function agentDeadLetter(registry: Registry, section: unknown): ComponentConfig<'dead_letter'> | undefined {
  const found = registry.lookup(DEAD_LETTER.kind, 'file');
  if (found.status !== 'available') return undefined;
  const path = isMap(section) ? section.agent_path : undefined;
  const options = found.spec.options.safeParse(typeof path === 'string' ? { path } : {});
  if (!options.success) return undefined;
  return { kind: DEAD_LETTER.kind, name: DEAD_LETTER.agentName, type: 'file', spec: found.spec, options: options.data };
}

/**
 * Unquoted values that had `${VAR}` in them become numbers or booleans where the option at
 * their path takes no text (`port: ${PORT}`); where it takes text (a password of digits),
 * they stay text. Changes `data` in place; `prefix` is where `data` sits in the file.
 */
function coerceSubstituted(data: unknown, substitutions: Substitution[], prefix: readonly PropertyKey[], schema: z.ZodType): void {
  for (const s of substitutions) {
    if (!s.plain || s.unresolved.length > 0 || !startsWith(s.path, prefix)) continue;
    const rel = s.path.slice(prefix.length);
    const parent = valueAt(data, rel.slice(0, -1));
    const key = rel.at(-1);
    if (key === undefined || typeof parent !== 'object' || parent === null) continue;
    const value = (parent as Record<PropertyKey, unknown>)[key];
    const typed = typeof value === 'string' ? retype(value) : undefined;
    if (typed === undefined) continue;
    const found = schemasAt(schema, rel).found;
    // Unknown keys keep their text (reported anyway); options that take anything (z.unknown)
    // follow YAML, as if the value had been written there.
    if (found.length === 0 || found.some(acceptsString)) continue;
    (parent as Record<PropertyKey, unknown>)[key] = typed;
  }
}

function startsWith(path: readonly PropertyKey[], prefix: readonly PropertyKey[]): boolean {
  return prefix.length <= path.length && prefix.every((step, i) => String(step) === String(path[i]));
}

/** Secret values never reach a message, whatever check quoted them. */
function scrub(problems: ConfigProblem[], secrets: string[]): ConfigProblem[] {
  const hidden = [...new Set(secrets)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  if (hidden.length === 0) return problems;
  return problems.map((p) => ({ ...p, message: hidden.reduce((m, s) => m.split(s).join('***'), p.message) }));
}

/**
 * Routes may only name sinks the file defines. Read from the raw file, so these are
 * reported in the same run as every other problem, even when the routes section itself has
 * mistakes.
 */
function checkRouting(data: Record<string, unknown>, at: At): void {
  const defined = isMap(data.sinks) ? Object.keys(data.sinks) : [];
  const check = (name: unknown, path: PropertyKey[]) => {
    if (typeof name !== 'string' || name === '' || defined.includes(name)) return;
    const hint = closest(name, defined);
    at(
      path,
      `unknown sink "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; sinks defined in this file: ${defined.join(', ') || 'none'}`,
    );
  };
  const routes = data.routes;
  if (isMap(routes)) {
    if (Array.isArray(routes.rules)) {
      for (const [i, rule] of routes.rules.entries()) {
        if (isMap(rule) && Array.isArray(rule.sinks))
          for (const [j, name] of rule.sinks.entries()) check(name, ['routes', 'rules', i, 'sinks', j]);
      }
    }
    if (Array.isArray(routes.default)) for (const [j, name] of routes.default.entries()) check(name, ['routes', 'default', j]);
  }
}

/** A Kafka dead-letter writes through the Kafka bus's client, to its brokers. */
function checkDeadLetterBus(data: Record<string, unknown>, at: At): void {
  const deadLetter = data.dead_letter;
  if (isMap(deadLetter) && deadLetter.type === 'kafka') {
    const bus = data.bus;
    if (!isMap(bus) || bus.type !== 'kafka')
      at(
        ['dead_letter', 'type'],
        'a kafka dead-letter uses the brokers of the kafka bus: this file needs "bus: {type: kafka, ...}" (or use type: file)',
      );
  }
}

/** Whether a character (UTF-16 code) may be in a rendered value of a Kafka topic name: a-z A-Z 0-9 . _ - (bus/kafka/options.ts). */
const isTopicChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 46 || c === 95 || c === 45;

/**
 * A kafka dead-letter on a topic the collector reads: each entry would come back as an
 * undecodable record, be dead-lettered again with the last one inside it, and so on for
 * ever, every copy larger (`topic: "sluice-{service}"` reads "sluice-dead-letter").
 */
function checkDeadLetterNotRead(
  bus: ComponentConfig<'bus'> | undefined,
  deadLetter: ComponentConfig<'dead_letter'> | undefined,
  at: At,
): void {
  if (bus?.type !== 'kafka' || deadLetter?.type !== 'kafka') return;
  const read = (bus.options as { topic?: unknown }).topic;
  const written = (deadLetter.options as { topic?: unknown }).topic;
  if (typeof read !== 'string' || typeof written !== 'string') return;
  let parts: TemplatePart[];
  try {
    parts = parseTemplate(read, { time: false });
  } catch {
    return; // The bus section reports it.
  }
  if (!templateMatcher(parts, isTopicChar)(written)) return;
  at(
    ['dead_letter', 'topic'],
    `the dead-letter topic "${written}" is one the collector reads (bus.topic "${read}"): its entries would be read back and dead-lettered again for ever; choose a topic the bus topic does not match`,
  );
}

interface Checked {
  substitutions: Substitution[];
  skip: (path: readonly PropertyKey[], issue: z.core.$ZodIssue) => boolean;
  /** Filled with the secret values met, to scrub them out of every message. */
  secrets: string[];
}

function resolveComponent<K extends ComponentKind>(
  registry: Registry,
  kind: K,
  path: string[],
  name: string,
  body: unknown,
  at: At,
  checked: Checked,
): ComponentConfig<K> | undefined {
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
  const schema: z.ZodType = found.spec.options;
  checked.secrets.push(...secretValues(schema, options));
  coerceSubstituted(options, checked.substitutions, path, schema);
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    // Only values known at run time failed (--no-env): the component is there, its
    // options unchecked; such a config is validated, never run.
    if (reportZodIssues(parsed.error.issues, path, options, schema, at, checked.skip) === 0)
      return { kind, name, type, spec: found.spec, options };
    return undefined;
  }
  return { kind, name, type, spec: found.spec, options: parsed.data };
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => a.line - b.line || a.col - b.col);
}
