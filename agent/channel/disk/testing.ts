import { rm } from 'node:fs/promises';
import { afterEach } from 'vitest';
import { captureLogger, tempDir } from '../../../test/support/index.js';
import { DiskChannel, type DiskChannelConfig } from './disk-channel.js';

/**
 * Test support for a test file of the disk channel: `setup()` makes a channel directory
 * (removed after the test) and a config with test timings; `open()` opens a channel on it
 * whose log lines are captured.
 */
export function diskChannelsUnderTest(prefix: string) {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  return async function setup(overrides: Partial<DiskChannelConfig> = {}) {
    const { dir } = await tempDir(prefix);
    dirs.push(dir);
    const config: DiskChannelConfig = {
      path: dir,
      maxBytes: 64 * 1024 * 1024,
      segmentBytes: 1024 * 1024,
      fsync: 'always',
      commitFsync: 'always',
      readCacheBytes: 0,
      retryBackoffMaxMs: 50,
      ...overrides,
    };
    const open = async (name = 'disk-test') => {
      const captured = captureLogger();
      const channel = new DiskChannel(config, name, captured.logger);
      await channel.open();
      return { channel, lines: captured.lines };
    };
    return { dir, config, open };
  };
}
