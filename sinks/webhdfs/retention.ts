import { type DayLayout, type ExpiredDay, expiredDays } from '../file/retention.js';
import type { WebHdfsClient } from './client.js';

/** Day directories under `root` on HDFS whose day is before `firstKept`: the file sink's retention walk, over LISTSTATUS. */
export function expiredDaysOnHdfs(client: WebHdfsClient, root: string, layout: DayLayout, firstKept: number): Promise<ExpiredDay[]> {
  return expiredDays(root, layout, firstKept, {
    subdirs: async (dir) => ((await client.listStatus(dir)) ?? []).filter((e) => e.type === 'DIRECTORY').map((e) => e.pathSuffix),
    child: (dir, name) => `${dir === '/' ? '' : dir}/${name}`,
  });
}
