/**
 * The api over HTTPS (issue 14): the `tls:` block of `api:` (core/options/tls.ts) with a
 * certificate signed by a CA made here with openssl, scraped with that CA the way
 * Prometheus would be configured (`tls_config.ca_file`), and `sluice top` with the right
 * CA, with a wrong one (one line, exit 1) and with none.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call, type ApiTarget } from '../../api/client.js';
import { parsePrometheusText } from '../../api/prometheus.js';
import { type TempDir, tempDir, waitFor } from '../support/index.js';
import { CLI, start, stopAll, waitForLog, writeFile } from './harness.js';

let tmp: TempDir;
const LINES = 250;

const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: tmp.dir, stdio: 'pipe' });
}

/** A CA (self-signed, `openssl req -x509`) and the api's certificate for 127.0.0.1 signed by it; another CA that signed nothing. */
function makeCertificates(): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=sluice test CA']);
  openssl(['req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', '2', '-subj', '/CN=another CA']);
  openssl(['req', ...ec, '-keyout', 'api.key', '-out', 'api.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(tmp.dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl([
    'x509',
    '-req',
    '-in',
    'api.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'api.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  ]);
}

beforeAll(async () => {
  tmp = await tempDir('cli-api-tls');
  if (hasOpenssl) makeCertificates();
});
afterEach(stopAll);
afterAll(() => tmp.cleanup());

function top(args: string[]) {
  return spawnSync(process.execPath, [CLI, 'top', '--once', '--interval', '200ms', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH },
  });
}

describe(`the api over https${hasOpenssl ? '' : ' — SKIPPED: openssl is not installed'}`, () => {
  it.skipIf(!hasOpenssl)('serves /metrics and /health to a client with the CA; top says in one line when the CA is wrong', async () => {
    const logs = join(tmp.dir, 'logs');
    const text = Array.from({ length: LINES }, (_, i) => `line ${i}\n`).join('');
    mkdirSync(logs, { recursive: true });
    writeFileSync(join(logs, 'app.log'), text);
    const config = writeFile(
      tmp.dir,
      'tls.yaml',
      [
        `data_dir: ${join(tmp.dir, 'data')}`,
        'sources:',
        `  app: { type: file, include: ["${join(logs, '*.log')}"] }`,
        'channel: { type: memory }',
        'sinks:',
        `  out: { type: file, root: "${join(tmp.dir, 'out')}" }`,
        'api:',
        '  address: 127.0.0.1:0',
        `  tls: { cert_file: "${join(tmp.dir, 'api.pem')}", key_file: "${join(tmp.dir, 'api.key')}" }`,
        '',
      ].join('\n'),
    );
    const run = start(['run', '-c', config]);
    const listening = await waitForLog(run, 'api listening');
    const url = new URL(listening.url as string);
    expect(url.protocol).toBe('https:');
    expect(listening.tls).toBe(true);

    const target: ApiTarget = { url, ca: readFileSync(join(tmp.dir, 'ca.pem')) };
    const metric = (families: ReturnType<typeof parsePrometheusText>, name: string, labels: Record<string, string>) =>
      families.get(name)?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    let families = parsePrometheusText('');
    await waitFor(
      `${LINES} events written by sinks.out`,
      async () => {
        const answer = await call(target, '/metrics');
        families = parsePrometheusText(answer.body);
        return metric(families, 'sluice_component_sent_events_total', { component: 'sinks.out' }) === LINES;
      },
      60_000,
    );
    expect(metric(families, 'sluice_component_received_events_total', { component: 'sources.app' })).toBe(LINES);
    expect(metric(families, 'sluice_file_source_bytes_total', { component: 'app' })).toBe(Buffer.byteLength(text));
    expect(metric(families, 'sluice_file_source_lag_bytes', { component: 'app' })).toBe(0);
    expect(metric(families, 'sluice_channel_buffered_events', { component: 'channel' })).toBe(0);
    expect(metric(families, 'sluice_channel_oldest_event_age_seconds', { component: 'channel' })).toBe(0);

    const health = await call(target, '/health');
    expect(health.status).toBe(200);
    const body = JSON.parse(health.body) as { status: string; components: { component: string; state: string }[] };
    expect(body.status).toBe('ok');
    expect(body.components.find((c) => c.component === 'sources.app')?.state).toBe('running');

    // Without the CA the server's certificate is not trusted.
    await expect(call({ url }, '/health')).rejects.toThrow(
      `cannot reach the Sluice api at ${url.origin}: its TLS certificate is not trusted (unable to verify the first certificate): give the CA that signed it with --ca-file (or --insecure to skip the check)`,
    );

    const good = top(['--api', url.origin, '--ca-file', join(tmp.dir, 'ca.pem')]);
    expect(good.stderr).toBe('');
    expect(good.status).toBe(0);
    expect(good.stdout.split('\n')[0]).toMatch(
      new RegExp(`^sluice top — ${url.origin.replace(/\./g, '\\.')} \\(run\\) — up \\d+:\\d\\d:\\d\\d — ready — `),
    );
    expect(good.stdout).toMatch(/^sources\.app\s+source\s+file\s+running\s/m);

    const wrongCa = join(tmp.dir, 'other-ca.pem');
    const wrong = top(['--api', url.origin, '--ca-file', wrongCa]);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toBe(
      `sluice top: cannot reach the Sluice api at ${url.origin}: its TLS certificate is not trusted (unable to verify the first certificate): it is not signed by the CA in ${wrongCa}\n`,
    );
    expect(wrong.status).toBe(1);

    const insecure = top(['--api', url.origin, '--insecure']);
    expect(insecure.status).toBe(0);
    expect(await run.stop('SIGTERM')).toBe(0);
  });
});
