import { type Document, isMap, isScalar, isSeq, parse as parseYaml, Scalar } from 'yaml';

/**
 * `${VAR}` and `${VAR:-default}` in string values, from the environment; `$${` is a
 * literal `${`. Done on the parsed document, value by value, so an environment value can
 * never inject YAML structure and errors keep their line and column.
 *
 * A substituted value stays text here. Whether an unquoted one becomes a number or a
 * boolean (`port: ${PORT}`) is the option's business, decided by the loader from its
 * schema: a password of digits stays a string, a port becomes a number.
 */
const REFERENCE = /\$\$\{|\$\{([^}]*)\}?/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface InterpolationProblem {
  node: Scalar;
  message: string;
}

/** A value that had `${...}` in it, where it sits in the document. */
export interface Substitution {
  path: (string | number)[];
  /** Written unquoted: may become a number or boolean where the option takes no text. */
  plain: boolean;
  /** Variables left unresolved (only with noEnv): the value is only known at run time. */
  unresolved: string[];
}

export interface InterpolateOptions {
  /**
   * Check a config without its environment (`sluice validate --no-env`, for CI): the
   * environment is not read, `${VAR:-default}` takes its default, and a `${VAR}` without
   * one is left for run time (its value is not checked).
   */
  noEnv?: boolean;
}

export interface Interpolation {
  problems: InterpolationProblem[];
  substitutions: Substitution[];
}

export function interpolateEnv(doc: Document, env: NodeJS.ProcessEnv, options: InterpolateOptions = {}): Interpolation {
  const problems: InterpolationProblem[] = [];
  const substitutions: Substitution[] = [];
  const substitute = (node: Scalar, path: (string | number)[]) => {
    const original = node.value as string;
    const unresolved: string[] = [];
    const result = original.replace(REFERENCE, (match: string, body: string | undefined) => {
      if (match === '$${') return '${';
      if (!match.endsWith('}')) {
        problems.push({ node, message: `unterminated "\${" in ${JSON.stringify(original)}` });
        return match;
      }
      const sep = body!.indexOf(':-');
      const name = sep === -1 ? body! : body!.slice(0, sep);
      if (!NAME.test(name)) {
        problems.push({ node, message: `invalid environment variable reference "${match}" (expected \${NAME} or \${NAME:-default})` });
        return match;
      }
      const value = options.noEnv ? undefined : env[name];
      if (value !== undefined && value !== '') return value;
      if (sep !== -1) return body!.slice(sep + 2);
      if (options.noEnv) {
        unresolved.push(name);
        return match;
      }
      problems.push({
        node,
        message: `environment variable ${name} is not set and "${match}" has no default (write \${${name}:-default})`,
      });
      return match;
    });
    node.value = result;
    substitutions.push({ path, plain: node.type === Scalar.PLAIN, unresolved });
  };
  const walk = (node: unknown, path: (string | number)[]) => {
    if (isMap(node)) {
      for (const pair of node.items) walk(pair.value, [...path, String(isScalar(pair.key) ? pair.key.value : pair.key)]);
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) walk(item, [...path, i]);
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      substitute(node, path);
    }
  };
  walk(doc.contents, []);
  return { problems, substitutions };
}

/** What an unquoted value would have been in YAML, when that is a number or a boolean. */
export function retype(text: string): number | boolean | undefined {
  if (text.trim() === '') return undefined;
  try {
    const v: unknown = parseYaml(text);
    return typeof v === 'number' || typeof v === 'boolean' ? v : undefined;
  } catch {
    return undefined;
  }
}
