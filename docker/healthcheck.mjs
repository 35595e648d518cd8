#!/usr/bin/env node
// The image's HEALTHCHECK: healthy when the Sluice process is alive and its state directory
// takes writes. A state volume that is full or read-only stops the disk channel and the
// checkpoints, and then every source pauses: better an unhealthy container than silence.
//   node healthcheck.mjs [--pid N] [--data-dir DIR]     exit 0 healthy, 1 unhealthy (one line why)
import { closeSync, fsyncSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const pid = arg('--pid', process.env.SLUICE_HEALTH_PID ?? '1');
const dataDir = arg('--data-dir', process.env.SLUICE_DATA_DIR ?? '/var/lib/sluice');

function unhealthy(why) {
  process.stdout.write(`unhealthy: ${why}\n`);
  process.exit(1);
}

let cmdline;
try {
  cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
} catch {
  unhealthy(`no process ${pid}`);
}
if (!cmdline.includes('sluice')) unhealthy(`process ${pid} is not sluice (${cmdline.trim().slice(0, 80)})`);

const probe = join(dataDir, `.health-${process.pid}`);
try {
  const fd = openSync(probe, 'w');
  try {
    writeSync(fd, 'ok');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  unlinkSync(probe);
} catch (err) {
  unhealthy(`state directory ${dataDir} does not take writes (${err.code ?? err.message})`);
}
process.stdout.write('healthy\n');
