import { parse as parseYaml, visit, type Document, Scalar } from 'yaml';

/**
 * `${VAR}` and `${VAR:-default}` in string values, from the environment; `$${` is a
 * literal `${`. Done on the parsed document, value by value, so an environment value can
 * never inject YAML structure and errors keep their line and column. An unquoted value that
 * is exactly a number or boolean after substitution (`port: ${PORT}`) becomes that type.
 */
const REFERENCE = /\$\$\{|\$\{([^}]*)\}?/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface InterpolationProblem {
  node: Scalar;
  message: string;
}

export function interpolateEnv(doc: Document, env: NodeJS.ProcessEnv): InterpolationProblem[] {
  const problems: InterpolationProblem[] = [];
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const original = node.value;
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
        const value = env[name];
        if (value !== undefined && value !== '') return value;
        if (sep !== -1) return body!.slice(sep + 2);
        problems.push({
          node,
          message: `environment variable ${name} is not set and "${match}" has no default (write \${${name}:-default})`,
        });
        return match;
      });
      node.value = node.type === Scalar.PLAIN ? retype(result) : result;
    },
  });
  return problems;
}

function retype(text: string): unknown {
  if (text.trim() === '') return text;
  try {
    const v: unknown = parseYaml(text);
    return typeof v === 'number' || typeof v === 'boolean' ? v : text;
  } catch {
    return text;
  }
}
