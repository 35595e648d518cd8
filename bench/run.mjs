#!/usr/bin/env node
// `npm run bench -- NAME`: builds, then runs dist/bench/NAME.js, which prints its result
// as a final JSON line. Benchmarks are TypeScript beside the code they measure's users.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const name = process.argv[2];
const available = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- NAME [args]\navailable benchmarks: ${available.join(', ') || '(none)'}`);
  process.exit(2);
}
// As `npm run build`: the pipeline processes a benchmark starts run on the bundle.
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
execFileSync(process.execPath, [join(root, 'node_modules/rolldown/bin/cli.mjs'), '-c', 'rolldown.config.ts', '--logLevel', 'warn'], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
});
const script = join(root, 'dist/bench', `${name}.js`);
if (!existsSync(script)) {
  console.error(`benchmark ${name} did not build to ${script}`);
  process.exit(1);
}
// Benchmarks against real services get them the way the integration tests do: started if
// not running (KAFKA_BROKERS / ELASTICSEARCH_URL point at existing ones instead), and
// stopped afterwards only if this run started them.
const NEEDS_SERVICES = new Set(['bus', 'chaos', 'es-sink', 'idle', 'latency']);
const NEEDS_HDFS = new Set(['webhdfs']);
let release = async () => {};
if (NEEDS_SERVICES.has(name)) {
  const services = await import('../test/services/services.mjs');
  const held = await services.acquire();
  services.exportAddresses();
  release = held.release;
} else if (NEEDS_HDFS.has(name)) {
  const services = await import('../test/services/services.mjs');
  release = (await services.acquireHdfs()).release;
}
const r = spawnSync(process.execPath, ['--expose-gc', script, ...process.argv.slice(3)], { stdio: 'inherit', cwd: root, env: process.env });
await release();
process.exit(r.status ?? 1);
