import type { z } from 'zod';
import type { ComponentContext } from './pipeline.js';

/**
 * Component types, keyed by the YAML `type:`. Each component folder exports a
 * ComponentSpec (its option schema and a factory); bin/components.ts registers them all.
 * Types that are designed but not built yet are registered as planned, so the config
 * validator can say "not available yet" instead of "unknown" — and never ignores them.
 */
export type ComponentKind = 'source' | 'transform' | 'channel' | 'bus' | 'sink';

// biome-ignore lint/suspicious/noExplicitAny: a registry holds specs of every option type; each spec is typed where it is defined
export interface ComponentSpec<Options = any, Instance = unknown> {
  kind: ComponentKind;
  type: string;
  description: string;
  /** Options besides `type`; a strict object schema, so unknown keys are errors. */
  options: z.ZodType<Options>;
  create(options: Options, ctx: ComponentContext): Instance;
  /**
   * The keys of `fields` a component with these options may set, so `sluice validate` can
   * warn about a route on a field nothing sets; '*' when it cannot tell (a JSON parse may
   * set any key). Absent: it cannot tell either.
   */
  fieldsSet?(options: Options): readonly string[] | '*';
}

export interface PlannedComponent {
  kind: ComponentKind;
  type: string;
  description: string;
}

export type Lookup =
  | { status: 'available'; spec: ComponentSpec }
  | { status: 'planned'; planned: PlannedComponent }
  | { status: 'unknown'; known: string[] };

export class Registry {
  private readonly available = new Map<string, ComponentSpec>();
  private readonly planned = new Map<string, PlannedComponent>();

  register(spec: ComponentSpec): this {
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

  lookup(kind: ComponentKind, type: string): Lookup {
    const spec = this.available.get(`${kind}/${type}`);
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
