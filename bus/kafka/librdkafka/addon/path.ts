import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where build.mjs puts the producer addon: dist/native/ of the package, whichever of its
 * files asks (a source under vitest, dist/ after tsc, a rolldown bundle).
 */
export function addonPath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sluice')
      return join(dir, 'dist/native/sluice-librdkafka.node');
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}
