import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { build } from 'rolldown';
import config from '../rolldown.config.js';

/**
 * Builds dist/ once before any test file runs: tests that crash and restart real processes
 * (SIGKILL mid-write) run the compiled CLI and modules, exactly as users do, and building
 * here keeps test files from racing each other's tsc runs. Then the bundle the pipeline
 * processes run on, as `npm run build` makes it.
 */
export default async function setup(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  await build({ ...config, logLevel: 'warn' });
}
