#!/usr/bin/env node
// The image's HEALTHCHECK: asks the running Sluice itself, through its API, then checks that
// its state directory takes writes.
//   node healthcheck.mjs [--ready] [--url URL] [--data-dir DIR]    exit 0 healthy, 1 not (one line why)
//
// - GET /health (liveness: the process answers and no component crashed), or GET /ready with
//   --ready (the channel open, the bus connected, no sink failing for longer than
//   api.ready_failing_after); a 503 prints the reasons Sluice gives, component by component.
// - A state volume that is full or read-only stops the disk channel and the checkpoints, and
//   then every source pauses: better an unhealthy container than silence.
// URL: --url, else $SLUICE_API_URL, else http://127.0.0.1:8686 (the api's default address).
import { closeSync, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const probe = args.includes('--ready') ? '/ready' : '/health';
const base = arg('--url', process.env.SLUICE_API_URL ?? 'http://127.0.0.1:8686');
const dataDir = arg('--data-dir', process.env.SLUICE_DATA_DIR ?? '/var/lib/sluice');

function fail(why) {
  process.stdout.write(`unhealthy: ${why}\n`);
  process.exit(1);
}

const answer = await new Promise((resolve) => {
  const req = request(new URL(probe, base), { timeout: 4000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => (body += c));
    res.on('end', () => resolve({ status: res.statusCode, body }));
    res.on('error', (err) => resolve({ error: err.message }));
  });
  req.on('timeout', () => req.destroy(new Error('no answer within 4 s')));
  req.on('error', (err) => resolve({ error: err.code ?? err.message }));
  req.end();
});
if (answer.error) fail(`no answer from the Sluice api at ${base} (${answer.error})`);
if (answer.status !== 200) {
  let reasons;
  try {
    reasons = JSON.parse(answer.body).reasons?.join('; ');
  } catch {
    // not Sluice's JSON: the status says it
  }
  fail(`${probe} answered ${answer.status}${reasons ? `: ${reasons}` : ''}`);
}

const file = join(dataDir, `.health-${process.pid}`);
try {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, 'ok');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  unlinkSync(file);
} catch (err) {
  fail(`state directory ${dataDir} does not take writes (${err.code ?? err.message})`);
}
process.stdout.write(probe === '/ready' ? 'ready\n' : 'healthy\n');
