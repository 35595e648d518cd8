import type { z } from 'zod';
import type { DeadLetter } from './dead-letter.js';
import type { Bus, Channel, ComponentContext, Sink, Source } from './pipeline.js';

/**
 * Component types, keyed by the YAML `type:`. Each component folder exports a
 * ComponentSpec (its option schema and a factory); bin/components.ts registers them all.
 * Types that are designed but not built yet are registered as planned, so the config
 * validator can say "not available yet" instead of "unknown" — and never ignores them.
 */

/** What a component of each kind is once created: the kind decides the contract. */
export interface ComponentInstances {
  source: Source;
  /** Its contract (Transform) lives in transforms/, which core cannot name; transforms/index.ts builds them. */
  transform: unknown;
  channel: Channel;
  bus: Bus;
  sink: Sink;
  /** Where a process keeps what it cannot deliver (`dead_letter:`; the agent's own is always a file). */
  dead_letter: DeadLetter;
}

export type ComponentKind = keyof ComponentInstances;

/**
 * One component type. Typed by its kind, so what `create` returns is known from the kind
 * alone: `ComponentSpec<'sink', FileSinkOptions>` creates a Sink, and whoever builds it
 * from a config needs no cast.
 */
export interface ComponentSpec<
  K extends ComponentKind = ComponentKind,
  // biome-ignore lint/suspicious/noExplicitAny: a registry holds specs of every option type; each spec is typed where it is defined
  Options = any,
  Instance extends ComponentInstances[K] = ComponentInstances[K],
> {
  kind: K;
  type: string;
  description: string;
  /** Options besides `type`; a strict object schema, so unknown keys are errors. */
  options: z.ZodType<Options>;
  /**
   * Several collector processes (`sluice collector --workers N`) may run this component at
   * once against the same destination. False (the default) for a component that keeps a
   * local state of its own, such as a file tree with in-progress files.
   */
  sharedAcrossProcesses?: boolean;
  /** Builds an instance; for a spec with `load`, only once load() has resolved. */
  create(options: Options, ctx: ComponentContext): Instance;
  /**
   * Imports what `create` needs, for a type whose implementation is heavy (a client library
   * of tens of MiB): the runtime awaits it for the types a config uses, so a process loads
   * only those. Absent: `create` needs nothing more (see lazySpec).
   */
  load?(): Promise<void>;
  /**
   * What a component with these options may hold in memory at once (read buffers, batches,
   * caches, queues), each part named after its option: `memory_limit` must leave room for
   * the sum (config/memory.ts). Absent: nothing worth counting.
   */
  memory?(options: Options): MemoryUse[];
  /**
   * The keys of `fields` a component with these options may set, so `sluice validate` can
   * warn about a route on a field nothing sets; '*' when it cannot tell (a JSON parse may
   * set any key). Absent: it cannot tell either.
   */
  fieldsSet?(options: Options): readonly string[] | '*';
}

/**
 * A spec whose implementation module is imported only by load(): validating a config needs
 * its options schema and description alone, so `sluice validate` and processes that do not
 * use the type never load, say, the Elasticsearch client.
 */
export function lazySpec<K extends ComponentKind, Options, Instance extends ComponentInstances[K]>(
  meta: Omit<ComponentSpec<K, Options, Instance>, 'create' | 'load'>,
  implementation: () => Promise<Pick<ComponentSpec<K, Options, Instance>, 'create'>>,
): ComponentSpec<K, Options, Instance> {
  let create: ComponentSpec<K, Options, Instance>['create'] | undefined;
  return {
    ...meta,
    async load() {
      create ??= (await implementation()).create;
    },
    create(options, ctx) {
      if (!create) throw new Error(`${meta.kind} type ${meta.type}: create() called before load()`);
      return create(options, ctx);
    },
  };
}

/** lazySpec's implementation for a type whose instance is `new Class(options, ctx)`; `load` imports the class. */
export function constructs<Options, Instance>(
  load: () => Promise<new (options: Options, ctx: ComponentContext) => Instance>,
): () => Promise<{ create(options: Options, ctx: ComponentContext): Instance }> {
  return async () => {
    const Class = await load();
    return { create: (options, ctx) => new Class(options, ctx) };
  };
}

/** Part of what a component holds in memory: `what` names the options that decide it. */
export interface MemoryUse {
  what: string;
  bytes: number;
  /** Only in the process that runs this half (a bus's producer on the agent, its consumer on the collector). */
  half?: 'agent' | 'collector';
}

export interface PlannedComponent {
  kind: ComponentKind;
  type: string;
  description: string;
}

export type Lookup<K extends ComponentKind = ComponentKind> =
  | { status: 'available'; spec: ComponentSpec<K> }
  | { status: 'planned'; planned: PlannedComponent }
  | { status: 'unknown'; known: string[] };

export class Registry {
  private readonly available = new Map<string, ComponentSpec>();
  private readonly planned = new Map<string, PlannedComponent>();

  register<K extends ComponentKind>(spec: ComponentSpec<K>): this {
    const key = `${spec.kind}/${spec.type}`;
    if (this.available.has(key)) throw new Error(`component ${key} registered twice`);
    this.planned.delete(key);
    this.available.set(key, spec);
    return this;
  }

  plan(planned: PlannedComponent): this {
    const key = `${planned.kind}/${planned.type}`;
    if (!this.available.has(key)) this.planned.set(key, planned);
    return this;
  }

  lookup<K extends ComponentKind>(kind: K, type: string): Lookup<K> {
    // Specs are filed under their own kind by register(), so the one found under `kind` is of that kind.
    const spec = this.available.get(`${kind}/${type}`) as ComponentSpec<K> | undefined;
    if (spec) return { status: 'available', spec };
    const planned = this.planned.get(`${kind}/${type}`);
    if (planned) return { status: 'planned', planned };
    return { status: 'unknown', known: this.types(kind) };
  }

  /** Available types of a kind, sorted: for error messages and `--help`. */
  types(kind: ComponentKind): string[] {
    return [...this.available.values()]
      .filter((s) => s.kind === kind)
      .map((s) => s.type)
      .sort();
  }
}

/**
 * What a batch of events costs in the heap, for ComponentSpec.memory: each LogEvent is an
 * object with its id, source and fields (about 430 bytes besides its text; 626 bytes in
 * all for a 200-byte line), its message one byte per character. `bytes` bounds the text
 * when the batch is bounded in bytes; otherwise lines are taken as 1 KiB on average.
 */
export function batchHeapBytes(events: number, bytes?: number): number {
  return events * EVENT_OBJECT_BYTES + (bytes ?? events * AVERAGE_LINE_BYTES);
}

const EVENT_OBJECT_BYTES = 430;
const AVERAGE_LINE_BYTES = 1024;
