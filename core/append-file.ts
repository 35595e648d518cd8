import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * An append-only file of text records (JSON lines: dead-letters, rejected documents) that
 * is never left holding a cut record:
 * - a write that returns short (a nearly full disk) is continued until every byte is out;
 * - a write or sync that fails cuts the file back to its size before the write, so the
 *   caller can retry the whole record set without gluing the next record onto a fragment;
 * - at open, a torn tail left by a crash (bytes after the last newline) is cut off.
 * Appends are serialised, so concurrent callers never interleave.
 */
export class AppendFile {
  private handle: FileHandle | undefined;
  private size = 0;
  /** A failed write could not be cut back: the file may hold bytes past `size`. */
  private dirty = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly mode = 0o600,
  ) {}

  /** Opens (creating it and its directory) and returns the bytes cut off a torn tail. */
  async open(): Promise<number> {
    await mkdir(dirname(this.path), { recursive: true });
    // Not O_APPEND: writes go at the size this class knows, so a fragment a failed cut-back
    // left behind is overwritten by the next record instead of prefixing it.
    this.handle = await open(this.path, constants.O_RDWR | constants.O_CREAT, this.mode);
    const { size } = await this.handle.stat();
    this.size = size;
    return this.cutTornTail();
  }

  /** Reads up to the last `bytes` of the file (whole records only): for rebuilding what it holds. */
  async readTail(bytes: number): Promise<string> {
    const handle = this.opened();
    const from = Math.max(0, this.size - bytes);
    const buf = Buffer.alloc(this.size - from);
    await readFully(handle, buf, from);
    const text = buf.toString('utf8');
    return from === 0 ? text : text.slice(text.indexOf('\n') + 1);
  }

  /** Appends `text` (ending in a newline) durably: resolves after fdatasync. */
  append(text: string): Promise<void> {
    const done = this.tail.then(() => this.appendNow(Buffer.from(text, 'utf8')));
    this.tail = done.catch(() => undefined);
    return done;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.handle?.close();
    this.handle = undefined;
  }

  private async appendNow(data: Buffer): Promise<void> {
    const handle = this.opened();
    const before = this.size;
    if (this.dirty) {
      await handle.truncate(before);
      this.dirty = false;
    }
    try {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await handle.write(data, done, data.length - done, before + done);
        if (bytesWritten === 0) throw new Error(`${this.path}: the disk took no more bytes`);
        done += bytesWritten;
      }
      await handle.datasync();
      this.size = before + data.length;
    } catch (err) {
      await handle.truncate(before).catch(() => {
        this.dirty = true;
      });
      throw err;
    }
  }

  private async cutTornTail(): Promise<number> {
    if (this.size === 0) return 0;
    const handle = this.opened();
    const chunk = Buffer.alloc(Math.min(this.size, 64 * 1024));
    let end = this.size;
    // Walk back to the last newline; a tail with none in 64 KiB steps is all torn.
    while (end > 0) {
      const from = Math.max(0, end - chunk.length);
      const view = chunk.subarray(0, end - from);
      await readFully(handle, view, from);
      const nl = view.lastIndexOf(0x0a);
      if (nl >= 0) {
        end = from + nl + 1;
        break;
      }
      end = from;
    }
    const cut = this.size - end;
    if (cut > 0) {
      await handle.truncate(end);
      await handle.datasync();
      this.size = end;
    }
    return cut;
  }

  private opened(): FileHandle {
    if (!this.handle) throw new Error(`${this.path} is not open`);
    return this.handle;
  }
}

async function readFully(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await handle.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
}
