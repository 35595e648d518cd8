#!/usr/bin/env node
// node docker/librdkafka-runtime.mjs <built package dir> <destination dir>
//
// Copies what @confluentinc/kafka-javascript needs at run time out of its build: its
// JavaScript, its native module and the shared librdkafka it links to (which Sluice's addon,
// dist/native/, links to as well). The built package is ~290 MiB, of which librdkafka's
// sources and static archives are nearly all; the image keeps ~20 MiB (less once stripped).
// Fails, naming the file, if the package was not built from source (no librdkafka.so.1): an
// image whose librdkafka client silently did not build would run on kafkajs.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [from, to] = process.argv.slice(2);
if (!from || !to) {
  console.error('usage: node docker/librdkafka-runtime.mjs <built package dir> <destination dir>');
  process.exit(2);
}
const KEEP = [
  'package.json',
  'LICENSE.txt',
  'LICENSE.node-rdkafka',
  'LICENSE.kafkajs',
  'librdkafka.js',
  'lib',
  'build/Release/confluent-kafka-javascript.node',
  'build/deps/librdkafka.so.1',
  'build/deps/librdkafka++.so.1',
];
const REQUIRED = new Set([
  'package.json',
  'librdkafka.js',
  'lib',
  'build/Release/confluent-kafka-javascript.node',
  'build/deps/librdkafka.so.1',
]);

rmSync(to, { recursive: true, force: true });
for (const path of KEEP) {
  const source = join(from, path);
  if (!existsSync(source)) {
    if (!REQUIRED.has(path)) continue;
    console.error(`librdkafka client not built: ${source} is missing (was the package built from source?)`);
    process.exit(1);
  }
  mkdirSync(dirname(join(to, path)), { recursive: true });
  cpSync(source, join(to, path), { recursive: true });
}
// Debug symbols are most of the libraries' size; strip is there where they were built.
const libraries = ['build/Release/confluent-kafka-javascript.node', 'build/deps/librdkafka.so.1', 'build/deps/librdkafka++.so.1']
  .map((p) => join(to, p))
  .filter((p) => existsSync(p));
for (const library of libraries) chmodSync(library, 0o755);
const strip = spawnSync('strip', ['--strip-unneeded', ...libraries], { encoding: 'utf8' });
if (strip.error || strip.status !== 0) console.error(`libraries not stripped: ${strip.error?.message ?? strip.stderr.trim()}`);
console.error(`librdkafka client runtime copied to ${to}`);
