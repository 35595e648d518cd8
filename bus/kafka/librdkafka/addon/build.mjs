#!/usr/bin/env node
// Builds Sluice's librdkafka addon (producer.c, consumer.c) against the librdkafka that
// @confluentinc/kafka-javascript built, into dist/native/. Run by `npm ci` (prepare) and
// `npm run build`. The librdkafka client is optional: when its package is not installed, or
// this machine has no C compiler or Node headers, it says why and exits 0, and the Kafka bus
// runs on kafkajs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../../..');
const out = join(root, 'dist/native/sluice-librdkafka.node');
const PACKAGE = '@confluentinc/kafka-javascript';

function skip(reason) {
  console.error(`librdkafka addon not built: ${reason}; the Kafka bus runs on kafkajs`);
  process.exit(0);
}

let deps;
try {
  deps = join(dirname(createRequire(join(root, 'package.json')).resolve(`${PACKAGE}/package.json`)), 'build/deps');
} catch {
  skip(`${PACKAGE} is not installed`);
}
if (!existsSync(join(deps, 'include/librdkafka/rdkafka.h')) || !existsSync(join(deps, 'librdkafka.so.1')))
  skip(`${PACKAGE} has no librdkafka build under ${deps}`);
const nodeHeaders = [process.env.npm_config_nodedir, dirname(dirname(process.execPath))]
  .filter(Boolean)
  .map((prefix) => join(prefix, 'include/node'))
  .find((dir) => existsSync(join(dir, 'node_api.h')));
if (!nodeHeaders) skip(`no Node headers (include/node/node_api.h) under npm_config_nodedir or ${dirname(dirname(process.execPath))}`);
mkdirSync(dirname(out), { recursive: true });
const cc = process.env.CC || 'cc';
const args = [
  '-shared',
  '-fPIC',
  '-O2',
  '-std=gnu11',
  '-Wall',
  '-o',
  out,
  join(here, 'producer.c'),
  join(here, 'consumer.c'),
  `-I${nodeHeaders}`,
  `-I${join(deps, 'include')}`,
  `-L${deps}`,
  // By soname: the binding has loaded this very library by the time the addon is loaded.
  '-l:librdkafka.so.1',
  `-Wl,-rpath,${deps}`,
  '-lpthread',
];
const run = spawnSync(cc, args, { encoding: 'utf8' });
if (run.error) skip(`${cc}: ${run.error.message}`);
if (run.status !== 0) skip(`${cc} failed:\n${run.stderr}`);
if (run.stderr) process.stderr.write(run.stderr);
console.error(`built the librdkafka addon: ${out}`);
