import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * Builds dist/ once before any test file runs: tests that crash and restart real processes
 * (SIGKILL mid-write) run the compiled CLI and modules, exactly as users do, and building
 * here keeps test files from racing each other's tsc runs.
 */
export default function setup(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
