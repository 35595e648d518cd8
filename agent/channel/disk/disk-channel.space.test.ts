import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PutAbortedError } from '../../../core/pipeline.js';
import { fillDisk, tmpfs } from '../../../test/support/full-disk.js';
import { captureLogger, waitFor } from '../../../test/support/index.js';
import { eventNumber, makeEvent } from '../testkit.js';

const batch = (from: number, n: number, size = 0) => Array.from({ length: n }, (_, i) => makeEvent(from + i, size));
import { DiskChannel, type DiskChannelConfig } from './disk-channel.js';

/**
 * A really full disk (ENOSPC), on a 2 MiB tmpfs: puts wait with the path in the log,
 * nothing is corrupted, and the channel resumes by itself once space is freed. Mounting
 * needs root; without it the test is skipped and says why.
 */
const disk = tmpfs('2m');

const config = (name: string): DiskChannelConfig => ({
  path: join(disk.path, name),
  maxBytes: 64 * 1024 * 1024,
  segmentBytes: 256 * 1024,
  fsync: 'always',
  commitFsync: 'always',
  readCacheBytes: 0,
  retryBackoffMaxMs: 50,
});

describe('disk channel on a full disk', () => {
  it('waits while the disk is full, corrupts nothing, and drains by itself once space is freed', async (ctx) => {
    if (disk.unavailable) ctx.skip(disk.unavailable);
    const { logger, lines } = captureLogger();
    const channel = new DiskChannel(config('channel'), 'enospc', logger);
    await channel.open();
    await channel.put(Array.from({ length: 100 }, (_, i) => makeEvent(i, 200)));

    const filler = await fillDisk(disk.path);

    let settled = false;
    const blocked = channel.put(Array.from({ length: 1000 }, (_, i) => makeEvent(100 + i, 200))).then(() => (settled = true));
    await waitFor('the channel to report the blocked disk', () => channel.stats().blocked);
    const error = lines.find((l) => l.msg === 'channel disk down');
    expect(error).toMatchObject({ path: config('channel').path, err: { code: 'ENOSPC' } });
    expect(String(error!.segment).startsWith(config('channel').path)).toBe(true);
    expect(settled).toBe(false);

    await unlink(filler);
    await blocked;
    expect(channel.stats().blocked).toBe(false);
    expect(lines.filter((l) => l.msg === 'channel disk down')).toHaveLength(1);
    expect(lines.some((l) => l.msg === 'channel disk back')).toBe(true);
    await channel.close();

    // Reopen: everything is there exactly once and no damage is reported.
    const check = captureLogger();
    const reopened = new DiskChannel(config('channel'), 'enospc', check.logger);
    await reopened.open();
    expect(check.lines.filter((l) => /damaged|torn/.test(String(l.msg)))).toEqual([]);
    const tx = await reopened.take(5000);
    expect(tx.events.map(eventNumber)).toEqual(Array.from({ length: 1100 }, (_, i) => i));
    expect(tx.events[500]).toEqual(makeEvent(500, 200));
    await tx.commit();
    await reopened.close();
  });

  it('keeps a transaction whose commit failed on the full disk open, commits it once there is room, and delivers nothing twice', async (ctx) => {
    if (disk.unavailable) ctx.skip(disk.unavailable);
    const channel = new DiskChannel(config('commit'), 'enospc-commit', captureLogger().logger);
    await channel.open();
    // A checkpoint bigger than a page: the pointer copy must grow, which needs space the disk no longer has.
    await channel.put(batch(0, 50), { source: 'big', seq: 1, state: { pad: 'p'.repeat(16 * 1024) } });
    await channel.put(batch(50, 50));
    const tx = await channel.take(60);
    const filler = await fillDisk(disk.path);
    const failed = await tx.commit().then(
      () => undefined,
      (err: NodeJS.ErrnoException) => err,
    );
    expect(failed?.code).toBe('ENOSPC');
    expect(channel.stats().events).toBe(100);
    await expect(channel.take(100)).resolves.toMatchObject({ events: batch(60, 40) });
    await unlink(filler);
    await tx.commit();
    expect(channel.stats().events).toBe(40);
    await channel.close();

    const reopened = new DiskChannel(config('commit'), 'enospc-commit', captureLogger().logger);
    await reopened.open();
    expect(reopened.lastCheckpoint('big')?.seq).toBe(1);
    const rest = await reopened.take(1000);
    expect(rest.events.map(eventNumber)).toEqual(Array.from({ length: 40 }, (_, i) => 60 + i));
    await rest.commit();
    await reopened.close();
  });

  it('rejects a put whose write keeps failing once stopping begins, and stores none of it', async (ctx) => {
    if (disk.unavailable) ctx.skip(disk.unavailable);
    const { logger } = captureLogger();
    const channel = new DiskChannel(config('stop'), 'enospc-stop', logger);
    await channel.open();
    await channel.put(batch(0, 10, 200));
    const filler = await fillDisk(disk.path);
    const stuck = channel.put(batch(10, 1000, 200)).then(
      () => undefined,
      (err: Error) => err,
    );
    await waitFor('the write to fail', () => channel.stats().blocked);
    channel.abortWaitingPuts();
    const err = await stuck;
    expect(err).toBeInstanceOf(PutAbortedError);
    expect(err?.message).toMatch(
      /channel "enospc-stop" is stopping: the batch was not stored; its source reads it again on its next start \(the disk failed: ENOSPC\)/,
    );
    await unlink(filler);
    await channel.close();
    const reopened = new DiskChannel(config('stop'), 'enospc-stop', captureLogger().logger);
    await reopened.open();
    expect((await reopened.take(5000)).events.map(eventNumber)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    await reopened.close();
  });
});
