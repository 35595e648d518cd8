/**
 * The file sink's output tree as a reader sees it while Sluice writes it: in-progress files
 * (`.name.inprogress`) and finished ones, each followed by inode so that the rename at a
 * roll neither loses nor repeats bytes.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface Followed {
  fd: number;
  pos: number;
  /** Bytes after the last newline read so far. */
  rest: Buffer;
}

export class OutputTree {
  private readonly files = new Map<number, Followed>();
  private readonly sizes = new Map<number, number>();
  private readonly chunk = Buffer.allocUnsafe(4 * 1024 * 1024);

  constructor(private readonly root: string) {}

  /** Bytes in every file of the tree (a renamed file counted once). */
  bytes(): number {
    for (const path of this.paths()) {
      try {
        const st = statSync(path);
        if (st.isFile()) this.sizes.set(st.ino, st.size);
      } catch {
        // Renamed between the listing and the stat: found under its new name next time.
      }
    }
    let total = 0;
    for (const size of this.sizes.values()) total += size;
    return total;
  }

  /**
   * Reads what was appended since the last call, file by file, and hands each complete
   * line (without its newline) to `line`. Returns the number of lines read.
   */
  read(line: (bytes: Buffer) => void): number {
    for (const path of this.paths()) {
      try {
        const st = statSync(path);
        const ino = st.ino;
        if (st.isFile() && !this.files.has(ino)) this.files.set(ino, { fd: openSync(path, 'r'), pos: 0, rest: Buffer.alloc(0) });
      } catch {
        // Renamed between the listing and the open: found under its new name next time.
      }
    }
    let lines = 0;
    for (const f of this.files.values()) {
      const size = fstatSync(f.fd).size;
      while (f.pos < size) {
        const n = readSync(f.fd, this.chunk, 0, Math.min(this.chunk.length, size - f.pos), f.pos);
        if (n === 0) break;
        f.pos += n;
        let data = this.chunk.subarray(0, n);
        if (f.rest.length > 0) data = Buffer.concat([f.rest, data]);
        let start = 0;
        for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
          line(data.subarray(start, nl));
          lines++;
          start = nl + 1;
        }
        f.rest = Buffer.from(data.subarray(start));
      }
    }
    return lines;
  }

  close(): void {
    for (const f of this.files.values()) closeSync(f.fd);
    this.files.clear();
  }

  private paths(): string[] {
    let entries: string[];
    try {
      entries = readdirSync(this.root, { recursive: true, encoding: 'utf8' });
    } catch {
      return []; // not created yet
    }
    const out: string[] = [];
    for (const e of entries) if (e.endsWith('.log') || e.endsWith('.inprogress')) out.push(join(this.root, e));
    return out;
  }
}

/** Reads a decimal number at the start of `b` (up to the first non-digit). */
export function leadingNumber(b: Buffer, from = 0): { value: number; end: number } {
  let value = 0;
  let i = from;
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
  }
  return { value, end: i };
}
