import { type DayLayout, type DayDir, dayDirs } from '../file/retention.js';
import type { WebHdfsClient } from './client.js';

/** The day directories under `root` on HDFS: the file sink's retention walk, over LISTSTATUS. */
export function dayDirsOnHdfs(client: WebHdfsClient, root: string, layout: DayLayout): Promise<DayDir[]> {
  return dayDirs(root, layout, {
    subdirs: async (dir) => ((await client.listStatus(dir)) ?? []).filter((e) => e.type === 'DIRECTORY').map((e) => e.pathSuffix),
    child: (dir, name) => `${dir === '/' ? '' : dir}/${name}`,
  });
}
