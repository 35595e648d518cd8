// The state of one in-progress HDFS file after a failed write or a crash: settled back to
// exactly the acknowledged bytes before anything more is written to it.
import type { Logger } from '../../core/log.js';
import type { WebHdfsClient } from './client.js';
import type { HdfsFile } from './hdfs-file.js';
import { webhdfsMetrics } from './metrics.js';

/** What settling a file needs of the sink. */
export interface Settling {
  client: WebHdfsClient;
  /** The last bytes of the file the sink kept (ending at its acknowledged length), if any. */
  tail(path: string): Buffer | undefined;
  logger: Logger;
  label: { component: string };
}

const EMPTY = Buffer.alloc(0);

/**
 * Bytes of each file's end the journal keeps. A DataNode that dies in the middle of an
 * append can come back with the replica cut to its last whole checksum chunk (512 bytes by
 * default, dfs.bytes-per-checksum), which drops the end of an acknowledged write; the sink
 * writes those bytes again from this copy.
 */
const TAIL_BYTES = 4096;

/**
 * Brings a file whose last write failed back to its acknowledged length: an empty APPEND
 * succeeds only once no one holds the file's lease (HDFS recovers the lease of a writer
 * that died with its DataNode), so the length read after it is final. Anything past the
 * acknowledged length is a write that was never acknowledged and is truncated; acknowledged
 * bytes HDFS lost (a DataNode that died mid-append keeps its replica only up to the last
 * whole checksum chunk) are written again from the tail the journal keeps.
 */
export async function settle(file: HdfsFile, s: Settling): Promise<void> {
  const st = await s.client.getFileStatus(file.path);
  if (st === undefined) {
    if (file.length > 0) lost(file, 0, s);
    file.created = false;
    file.suspect = false;
    return;
  }
  file.created = true;
  await s.client.append(file.path, EMPTY);
  const length = (await s.client.getFileStatus(file.path))?.length ?? 0;
  if (length > file.length) {
    s.logger.warn(
      { file: file.path, length, acknowledged: file.length },
      'cutting an unacknowledged write off an HDFS file before writing again',
    );
    webhdfsMetrics.cutBytes.inc(s.label, length - file.length);
    if (!(await s.client.truncate(file.path, file.length)))
      throw new Error(`${file.path}: truncating to ${file.length} bytes; HDFS is recovering its last block, the write is retried`);
  } else if (length < file.length) {
    const missing = file.length - length;
    const tail = s.tail(file.path);
    if (tail === undefined || tail.length < missing) lost(file, length, s);
    else {
      s.logger.warn(
        { file: file.path, length, acknowledged: file.length },
        'HDFS lost the end of an acknowledged write (a DataNode died mid-append); writing those bytes again',
      );
      await s.client.append(file.path, tail.subarray(tail.length - missing));
      const after = (await s.client.getFileStatus(file.path))?.length;
      if (after !== file.length)
        throw new Error(`${file.path} is ${after ?? 'missing'} bytes after restoring its end, expected ${file.length}; settled again`);
      webhdfsMetrics.restoredBytes.inc(s.label, missing);
    }
  }
  file.suspect = false;
}

/**
 * HDFS holds less of a file than was acknowledged and the journal has no copy of what is
 * missing (someone else cut or removed it, or HDFS lost more than a checksum chunk). Nothing
 * can bring those bytes back: it is said loudly and counted, and the file goes on from what
 * HDFS has, so it is still finished and never left in progress.
 */
export function lost(file: HdfsFile, length: number, s: Settling): void {
  s.logger.error(
    { file: file.path, length, acknowledged: file.length, lost_bytes: file.length - length },
    'HDFS holds less of a file than was acknowledged and the lost bytes cannot be written again: acknowledged events are missing from it',
  );
  webhdfsMetrics.lostBytes.inc(s.label, file.length - length);
  file.length = length;
}

/** The last TAIL_BYTES of a file whose previous tail was `before`, after `data` is appended. */
export function tailAfter(before: Buffer | undefined, data: Buffer): Buffer {
  if (data.length >= TAIL_BYTES) return Buffer.from(data.subarray(data.length - TAIL_BYTES));
  const prev = before ?? EMPTY;
  const keep = Math.min(prev.length, TAIL_BYTES - data.length);
  return Buffer.concat([prev.subarray(prev.length - keep), data]);
}
