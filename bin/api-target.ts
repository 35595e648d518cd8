import { readFileSync } from 'node:fs';
import { ApiUnreachable, apiUrl, DEFAULT_API_URL, type ApiTarget } from '../api/client.js';
import { CliFailure } from './cli-failure.js';

export interface ApiTargetOptions {
  api?: string;
  caFile?: string;
  insecure?: boolean;
}

/** Where `sluice top` and `sluice tap` connect: --api, else $SLUICE_API_URL, else the default address; the token from $SLUICE_API_TOKEN. */
export function apiTarget(opts: ApiTargetOptions, env: NodeJS.ProcessEnv): ApiTarget {
  let url: URL;
  try {
    url = apiUrl(opts.api ?? env.SLUICE_API_URL ?? DEFAULT_API_URL);
  } catch (err) {
    throw new CliFailure((err as Error).message, true);
  }
  const target: ApiTarget = { url, insecure: opts.insecure ?? false };
  if (env.SLUICE_API_TOKEN) target.token = env.SLUICE_API_TOKEN;
  if (opts.caFile) {
    try {
      target.ca = readFileSync(opts.caFile);
      target.caFile = opts.caFile;
    } catch (err) {
      throw new CliFailure(
        `--ca-file ${opts.caFile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
        true,
      );
    }
  }
  return target;
}

/** An unreachable API as the one-line failure of the command. */
export function unreachable(err: unknown): never {
  if (err instanceof ApiUnreachable) throw new CliFailure(err.message);
  throw err;
}
