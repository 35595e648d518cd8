import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';

/**
 * Glob patterns over absolute paths (Node 20 has no fs.glob): `*` and `?` stay inside one
 * path segment, `**` spans segments, `[abc]` / `[!abc]` are classes, `{a,b}` alternatives.
 */
export interface Glob {
  pattern: string;
  regex: RegExp;
  /** The longest leading directory without wildcards: where watching and scanning start. */
  base: string;
  /** Directory levels below `base` a match can sit at (Infinity with `**`). */
  depth: number;
}

const META = /[*?[{]/;

export function compileGlob(pattern: string): Glob {
  if (!isAbsolute(pattern)) throw new Error(`glob "${pattern}" is not an absolute path`);
  const norm = normalize(pattern);
  const segments = norm.split('/');
  let i = 0;
  while (i < segments.length - 1 && !META.test(segments[i]!)) i++;
  const base = segments.slice(0, i).join('/') || '/';
  const rest = segments.slice(i);
  const depth = rest.includes('**') || rest.some((s) => s.includes('**')) ? Infinity : rest.length - 1;
  return { pattern, regex: new RegExp(`^${translate(norm, pattern)}$`), base, depth };
}

function translate(glob: string, original: string): string {
  let out = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else out += '.*';
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) throw new Error(`glob "${original}": unclosed [`);
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      out += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) out += '|';
    else out += c.replace(/[.+^$()|\\\]}]/g, '\\$&');
  }
  if (braces > 0) throw new Error(`glob "${original}": unclosed {`);
  return out;
}

export class PathMatcher {
  readonly includes: Glob[];
  private readonly excludes: RegExp[];

  constructor(include: string[], exclude: string[]) {
    this.includes = include.map(compileGlob);
    this.excludes = exclude.map((p) => compileGlob(p).regex);
  }

  matches(path: string): boolean {
    return this.includes.some((g) => g.regex.test(path)) && !this.excludes.some((r) => r.test(path));
  }

  /** Directories worth watching: the bases of the include patterns, without nested duplicates. */
  bases(): { dir: string; depth: number }[] {
    const byDir = new Map<string, number>();
    for (const g of this.includes) byDir.set(g.base, Math.max(byDir.get(g.base) ?? 0, g.depth));
    return [...byDir].map(([dir, depth]) => ({ dir, depth }));
  }

  /** Every existing regular file matching the patterns (missing directories are simply empty). */
  async scan(): Promise<string[]> {
    const found = new Set<string>();
    for (const { dir, depth } of this.bases()) await this.walk(dir, depth, found);
    return [...found].sort();
  }

  private async walk(dir: string, depth: number, found: Set<string>): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // not there (yet), or not readable: the next rescan looks again
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isFile() || e.isSymbolicLink()) {
        if (this.matches(path)) found.add(path);
      } else if (e.isDirectory() && depth > 0) {
        await this.walk(path, depth - 1, found);
      }
    }
  }
}
