import { headBytes } from '../../../core/template.js';

/**
 * Fields captured from a file's path by `path_pattern` (`/var/log/{service}/{module}.log`):
 * `{name}` is one path segment, `*` and `**` as in globs.
 */
export class PathTemplate {
  private readonly regex: RegExp;
  readonly names: string[] = [];

  constructor(
    readonly template: string,
    private readonly maxMatchBytes = 4096,
  ) {
    let out = '';
    for (let i = 0; i < template.length; i++) {
      const c = template[i]!;
      if (c === '{') {
        const end = template.indexOf('}', i);
        const name = end === -1 ? '' : template.slice(i + 1, end);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`path_pattern "${template}": bad capture at ${i} (use {name})`);
        if (this.names.includes(name)) throw new Error(`path_pattern "${template}": {${name}} appears twice`);
        this.names.push(name);
        out += `(?<${name}>[^/]+)`;
        i = end;
      } else if (c === '*') {
        if (template[i + 1] === '*') {
          i++;
          out += '.*';
        } else out += '[^/]*';
      } else out += c.replace(/[.+?^$()|[\]\\]/g, '\\$&');
    }
    this.regex = new RegExp(`^${out}$`);
  }

  /** The captured segments, or undefined when the path does not fit the template (or is longer than patterns look at). */
  capture(path: string): Record<string, string> | undefined {
    if (headBytes(path, this.maxMatchBytes) !== path) return undefined;
    const m = this.regex.exec(path);
    return m ? { ...m.groups } : undefined;
  }
}
