import { execFileSync } from 'node:child_process';
import { mkdir, open, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogger, eventNumber, makeEvent, tempDir, until } from '../testkit.js';
import { DiskChannel, type DiskChannelConfig } from './disk-channel.js';

/**
 * A really full disk (ENOSPC), on a 2 MiB tmpfs: puts wait with the path in the log,
 * nothing is corrupted, and the channel resumes by itself once space is freed. Mounting
 * needs root; without it the test is skipped and says why.
 */
let base: string;
let mnt: string;
let mountError: string | undefined;

beforeAll(async () => {
  base = await tempDir('enospc');
  mnt = join(base, 'mnt');
  await mkdir(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (err) {
    mountError = `cannot mount a tmpfs to fill (needs root): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
});
afterAll(async () => {
  if (!mountError) execFileSync('umount', [mnt]);
  await rm(base, { recursive: true, force: true });
});

describe('disk channel on a full disk', () => {
  it('waits while the disk is full, corrupts nothing, and drains by itself once space is freed', async (ctx) => {
    if (mountError) ctx.skip(mountError);
    const config: DiskChannelConfig = {
      path: join(mnt, 'channel'),
      maxBytes: 64 * 1024 * 1024,
      segmentBytes: 256 * 1024,
      fsync: 'always',
      readCacheBytes: 0,
      retryBackoffMaxMs: 50,
    };
    const { logger, lines } = captureLogger();
    const channel = new DiskChannel(config, 'enospc', logger);
    await channel.open();
    await channel.put(Array.from({ length: 100 }, (_, i) => makeEvent(i, 200)));

    // Fill the file system to the last byte.
    const filler = join(mnt, 'filler');
    const fh = await open(filler, 'w');
    const block = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) await fh.write(block);
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    try {
      for (;;) await fh.write(block, 0, 512);
    } catch {
      // full to the block
    }
    await fh.close();

    let settled = false;
    const blocked = channel.put(Array.from({ length: 1000 }, (_, i) => makeEvent(100 + i, 200))).then(() => (settled = true));
    await until(() => channel.stats().blocked, 'the channel to report the blocked disk');
    const error = lines.find((l) => String(l.msg).startsWith('cannot write channel segment'));
    expect(error).toMatchObject({ code: 'ENOSPC' });
    expect(String(error!.path).startsWith(config.path)).toBe(true);
    expect(settled).toBe(false);

    await unlink(filler);
    await blocked;
    expect(channel.stats().blocked).toBe(false);
    expect(lines.some((l) => String(l.msg).includes('work again; puts resume'))).toBe(true);
    await channel.close();

    // Reopen: everything is there exactly once and no damage is reported.
    const check = captureLogger();
    const reopened = new DiskChannel(config, 'enospc', check.logger);
    await reopened.open();
    expect(check.lines.filter((l) => /damaged|torn/.test(String(l.msg)))).toEqual([]);
    const tx = await reopened.take(5000);
    expect(tx.events.map(eventNumber)).toEqual(Array.from({ length: 1100 }, (_, i) => i));
    expect(tx.events[500]).toEqual(makeEvent(500, 200));
    await tx.commit();
    await reopened.close();
  });
});
