/**
 * A problem found in a config file, located as precisely as the YAML allows: the file,
 * line and column of the offending key or value, and its key path (`sources.app.include`).
 */
export interface ConfigProblem {
  file: string;
  /** 1-based; 0 when the problem is with the file itself (missing, unreadable). */
  line: number;
  col: number;
  /** Dotted key path; empty for problems with the document as a whole. */
  path: string;
  message: string;
  /** A warning does not stop the config from being used (unless `--strict` makes it an error). */
  severity?: 'error' | 'warning';
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  return `${where}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** Thrown when a config cannot be used; carries every problem found, not just the first. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

/** Dotted path for messages: numbers as [i], keys that are not identifiers quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else {
      const k = String(key);
      const part = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : JSON.stringify(k);
      out += out ? `.${part}` : part;
    }
  }
  return out;
}
