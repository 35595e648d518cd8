import { describe, expect, test } from 'vitest';
import { captureLogger } from '../../test/support/index.js';
import { GroupBacklog } from './probe.js';

const progressLines = (lines: Record<string, unknown>[]) =>
  lines.filter((l) => String(l.msg).startsWith('consumer group')).map(({ level: _l, time: _t, pid: _p, hostname: _h, ...rest }) => rest);

describe('GroupBacklog', () => {
  test('logs a group far behind, its progress from committed offsets, and when it is caught up', () => {
    const { logger, lines } = captureLogger();
    const g = new GroupBacklog(logger, 100_000, 10_000);
    g.update(0, { lag: 50_000, committed: 0, partitions: 6 }); // under progress_after: nothing
    g.update(5_000, { lag: 200_000, committed: 10_000, partitions: 6 });
    // 60,000 committed in 10 s while 10,000 more arrived: 150,000 left at 6,000/s.
    g.update(15_000, { lag: 150_000, committed: 70_000, partitions: 6 });
    g.update(20_000, { lag: 9_999, committed: 210_001, partitions: 6 }); // under a tenth: caught up
    g.update(25_000, { lag: 0, committed: 220_000, partitions: 6 });
    expect(progressLines(lines)).toEqual([
      { msg: 'consumer group behind', total_records: 200_000, partitions: 6 },
      {
        msg: 'consumer group catching up',
        done_records: 60_000,
        total_records: 210_000,
        percent: 28.6,
        records_per_second: 6_000,
        seconds_left: 25,
        partitions: 6,
      },
      { msg: 'consumer group caught up', done_records: 200_001, seconds: 15, records_per_second: 13_333 },
    ]);
  });

  test('progress_after 0 logs nothing, and offsets moving back are no progress', () => {
    const { logger, lines } = captureLogger();
    const off = new GroupBacklog(logger, 0, 10_000);
    off.update(0, { lag: 10_000_000, committed: 0, partitions: 1 });
    off.update(20_000, { lag: 10_000_000, committed: 5, partitions: 1 });
    expect(progressLines(lines)).toEqual([]);
    const g = new GroupBacklog(logger, 10, 10_000);
    g.update(0, { lag: 100, committed: 1_000, partitions: 1 });
    g.update(10_000, { lag: 100, committed: 0, partitions: 1 });
    expect(progressLines(lines).at(-1)).toMatchObject({ msg: 'consumer group catching up', done_records: 0 });
  });
});
