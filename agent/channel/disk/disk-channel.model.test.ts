import { rm } from 'node:fs/promises';
import { afterEach, describe, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import { runChannelModel } from '../channel-model.js';
import { tempDir } from '../../../test/support/index.js';
import { seededRandom } from '../testkit.js';
import { DiskChannel, type DiskChannelConfig } from './disk-channel.js';

// Small segments make rotation and deletion happen constantly; the read cache is on, off
// and tiny so both read paths (memory and disk) are checked; one seed in four fsyncs on a timer.
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('disk channel against a model', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed}`, async () => {
      const random = seededRandom(seed * 7919);
      const pick = (n: number) => Math.floor(random() * n);
      const { dir } = await tempDir('model');
      dirs.push(dir);
      const config: DiskChannelConfig = {
        path: dir,
        maxBytes: 64 * 1024 * 1024,
        segmentBytes: [4096, 9000, 32768][pick(3)]!,
        fsync: pick(4) === 0 ? 5 : 'always',
        commitFsync: pick(2) === 0 ? 5 : 'always',
        readCacheBytes: [0, 3000, 1 << 20][pick(3)]!,
        retryBackoffMaxMs: 100,
      };
      const open = async () => {
        const c = new DiskChannel(config, 'model', silentLogger());
        await c.open();
        return c;
      };
      await runChannelModel(seed, 250, {
        open,
        reopen: async (old) => {
          await old.close();
          return open();
        },
      });
    });
  }
});
