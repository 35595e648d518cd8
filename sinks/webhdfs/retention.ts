import { type DayLayout, type ExpiredDay, oldestFirst } from '../file/retention.js';
import type { WebHdfsClient } from './client.js';

/**
 * Day directories under `root` on HDFS whose day is before `firstKept` (days since the epoch):
 * the file sink's retention walk (sinks/file/retention.ts), over LISTSTATUS. Only
 * directories are followed, so a symlink or a file named like a day is never deleted.
 */
export async function expiredDaysOnHdfs(client: WebHdfsClient, root: string, layout: DayLayout, firstKept: number): Promise<ExpiredDay[]> {
  const found: ExpiredDay[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = (await client.listStatus(dir)) ?? [];
    for (const entry of entries) {
      if (entry.type !== 'DIRECTORY') continue;
      const path = `${dir === '/' ? '' : dir}/${entry.pathSuffix}`;
      if (depth < layout.above.length) {
        const literal = layout.above[depth];
        if (literal === undefined || literal === entry.pathSuffix) await walk(path, depth + 1);
        continue;
      }
      const day = layout.parse(entry.pathSuffix);
      if (day !== undefined && day < firstKept) found.push({ dir: path, day });
    }
  };
  await walk(root, 0);
  return found.sort(oldestFirst);
}
