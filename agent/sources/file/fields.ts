import type { TimestampOptions } from './options.js';

/**
 * What an event learns from where it was read: fields captured from the file path by a
 * template (`/var/log/{service}/{module}.log`) and its event time parsed from the line.
 */
export class PathTemplate {
  private readonly regex: RegExp;
  readonly names: string[] = [];

  constructor(readonly template: string) {
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

  /** The captured segments, or undefined when the path does not fit the template. */
  capture(path: string): Record<string, string> | undefined {
    const m = this.regex.exec(path);
    return m ? { ...m.groups } : undefined;
  }
}

export type TimeParser = (line: string) => number | undefined;

export function timeParser(options: TimestampOptions, where: string): TimeParser {
  let regex: RegExp;
  try {
    regex = new RegExp(options.pattern);
  } catch (err) {
    throw new Error(`${where}: timestamp.pattern is not a valid regular expression: ${(err as Error).message}`);
  }
  const format = options.format;
  return (line) => {
    const m = regex.exec(line);
    if (!m) return undefined;
    const text = m.groups?.time ?? m[1] ?? m[0];
    if (format === 'epoch_s' || format === 'epoch_ms') {
      const n = Number(text);
      if (!Number.isFinite(n)) return undefined;
      return Math.round(format === 'epoch_s' ? n * 1000 : n);
    }
    return parseTime(text);
  };
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/** ISO 8601 and "YYYY-MM-DD HH:MM:SS,mmm" (log4j): UTC unless an offset is given; else Date.parse. */
export function parseTime(text: string): number | undefined {
  const m = ISO.exec(text);
  if (m) {
    const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
    let t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, ms);
    const zone = m[8];
    if (zone && zone !== 'Z') {
      const sign = zone[0] === '-' ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
    }
    return Number.isFinite(t) ? t : undefined;
  }
  const t = Date.parse(text);
  return Number.isFinite(t) ? t : undefined;
}
