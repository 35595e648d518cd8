import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from '../test/support/index.js';
import { AppendFile } from './append-file.js';

let tmp: TempDir | undefined;
afterEach(async () => tmp?.cleanup());

describe('AppendFile', () => {
  it('appends records durably and cuts a torn tail left by a crash', async () => {
    tmp = await tempDir('append');
    const path = join(tmp.dir, 'dl', 'dead.jsonl');
    const f = new AppendFile(path);
    expect(await f.open()).toBe(0);
    await f.append('{"a":1}\n');
    await Promise.all([f.append('{"b":2}\n'), f.append('{"c":3}\n')]);
    await f.close();
    expect(await readFile(path, 'utf8')).toBe('{"a":1}\n{"b":2}\n{"c":3}\n');

    await writeFile(path, '{"a":1}\n{"b":2}\n{"c":', { flag: 'w' });
    const again = new AppendFile(path);
    expect(await again.open()).toBe(5);
    await again.append('{"d":4}\n');
    expect(await again.readTail(9)).toBe('{"d":4}\n');
    expect(await again.readTail(1 << 20)).toBe('{"a":1}\n{"b":2}\n{"d":4}\n');
    await again.close();
    expect(await readFile(path, 'utf8')).toBe('{"a":1}\n{"b":2}\n{"d":4}\n');
  });

  it('writes the next record over a fragment the file kept after a failed write', async () => {
    tmp = await tempDir('append');
    const path = join(tmp.dir, 'dead.jsonl');
    const f = new AppendFile(path);
    await f.open();
    await f.append('{"a":1}\n');
    // A fragment beyond the known size, as a failed write whose cut-back also failed leaves.
    await writeFile(path, '{"a":1}\n{"half', { flag: 'w' });
    await f.append('{"b":2}\n');
    await f.close();
    expect(await readFile(path, 'utf8')).toBe('{"a":1}\n{"b":2}\n');
  });

  it('a file with no newline at all is cut to nothing', async () => {
    tmp = await tempDir('append');
    const path = join(tmp.dir, 'dead.jsonl');
    await writeFile(path, 'x'.repeat(200_000));
    const f = new AppendFile(path);
    expect(await f.open()).toBe(200_000);
    await f.close();
    await truncate(path, 0);
    expect(await readFile(path, 'utf8')).toBe('');
  });
});
