import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { Readiness } from '../api/readiness.js';
import { startApiServer } from '../api/server.js';
import { Taps } from '../api/tap.js';
import { apiSection } from '../config/api.js';
import { probeLibrdkafka } from '../bus/kafka/client.js';
import { silentLogger } from '../core/log.js';

/**
 * The packaging in docker/: no Docker engine runs in CI, so what can be checked without one
 * is checked — the compose file by docker-compose itself, every Sluice config shipped here
 * by `sluice validate`, the health check against real processes, the Dockerfile's inputs.
 */
const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist/bin/sluice.js');
const tmp = mkdtempSync(join(tmpdir(), 'sluice-docker-pkg-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;

describe(`docker-compose.yml${hasCompose ? '' : ' — SKIPPED: docker-compose is not installed (apt-get install -y docker-compose)'}`, () => {
  test.skipIf(!hasCompose)('is valid for docker-compose (config -q)', () => {
    const r = spawnSync('docker-compose', ['-f', join(ROOT, 'docker/docker-compose.yml'), 'config', '-q'], {
      env: { ...process.env, ELASTIC_PASSWORD: 'test-elastic', KIBANA_PASSWORD: 'test-kibana' },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test.skipIf(!hasCompose)('refuses to start without the Elasticsearch passwords', () => {
    const env = { ...process.env };
    delete env.ELASTIC_PASSWORD;
    delete env.KIBANA_PASSWORD;
    const r = spawnSync('docker-compose', ['-f', join(ROOT, 'docker/docker-compose.yml'), 'config', '-q'], { env, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('set ELASTIC_PASSWORD');
  });
});

function validate(file: string, role: string, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [CLI, 'validate', '-c', file, '--as', role], { encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('configs shipped in docker/', () => {
  test('docker/config/agent.yaml and collector.yaml are valid for their commands', () => {
    expect(validate(join(ROOT, 'docker/config/agent.yaml'), 'agent')).toMatch(/valid \(1 source\(s\), channel disk, bus kafka\)/);
    expect(validate(join(ROOT, 'docker/config/collector.yaml'), 'collector', { ELASTICSEARCH_PASSWORD: 'x' })).toMatch(
      /valid \(bus kafka, 2 sink\(s\), dead_letter file\)/,
    );
  });

  test('the Kubernetes ConfigMaps hold valid agent configs (the DaemonSet one with a docker source)', () => {
    const found: string[] = [];
    for (const name of ['sidecar.yaml', 'daemonset.yaml']) {
      for (const doc of parseAllDocuments(readFileSync(join(ROOT, 'docker/kubernetes', name), 'utf8'))) {
        expect(doc.errors).toEqual([]);
        const o = doc.toJS() as { kind?: string; data?: Record<string, string> };
        if (o.kind !== 'ConfigMap') continue;
        const file = join(tmp, `${name}-agent.yaml`);
        writeFileSync(file, o.data!['agent.yaml']!);
        expect(validate(file, 'agent', { SERVICE_NAME: 'shop', KAFKA_BROKERS: 'k:9092', CLUSTER_NAME: 'c1' })).toContain(
          'valid (1 source(s), channel disk, bus kafka)',
        );
        found.push(name);
      }
    }
    expect(found).toEqual(['sidecar.yaml', 'daemonset.yaml']);
    expect(readFileSync(join(ROOT, 'docker/kubernetes/daemonset.yaml'), 'utf8')).toContain('type: docker');
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'docker/Dockerfile'), 'utf8');

  test('copies only paths that exist, runs unprivileged, has a health check and the sluice entrypoint', () => {
    const sources = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' ').filter((w) => !w.startsWith('--')));
    expect(sources.length).toBeGreaterThan(5);
    for (const s of sources) expect(existsSync(join(ROOT, s)), s).toBe(true);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^HEALTHCHECK .*\n\s+CMD \["node", "\/app\/docker\/healthcheck.mjs"\]$/m);
    // The shell entrypoint, which execs Node (bin/sluice.sh), copied where it is run from, executable.
    expect(text).toContain('ENTRYPOINT ["/app/bin/sluice.sh"]');
    expect(text).toMatch(/^COPY --chmod=755 bin\/sluice\.sh \/app\/bin\/sluice\.sh$/m);
    expect(statSync(join(ROOT, 'bin/sluice.sh')).mode & 0o111).toBe(0o111);
  });

  test('builds the librdkafka client from source and keeps its runtime, with the shared libraries it links to', () => {
    expect(text).toMatch(
      /CKJS_LINKING=dynamic npm_config_nodedir=\/usr\/local npm_config_build_from_source=true \\\n\s+npm rebuild @confluentinc\/kafka-javascript/,
    );
    expect(text).toContain('node bus/kafka/librdkafka/addon/build.mjs && test -f dist/native/sluice-librdkafka.node');
    expect(text).toContain('npm prune --omit=dev');
    expect(text).toContain('node docker/librdkafka-runtime.mjs node_modules/@confluentinc/kafka-javascript');
    expect(text).toContain('COPY --from=build /app/node_modules ./node_modules');
  });

  // This machine runs the image's Debian (bookworm): the packages its build of librdkafka
  // links to are the ones the runtime stage must install.
  const built = join(ROOT, 'node_modules/@confluentinc/kafka-javascript/build');
  const canCheck = existsSync(join(built, 'deps/librdkafka.so.1')) && spawnSync('dpkg', ['--version'], { stdio: 'ignore' }).status === 0;
  test.skipIf(!canCheck)('the runtime stage installs every Debian package the librdkafka client links to', () => {
    const stage = /FROM node:\S+ AS runtime[\s\S]*?apt-get install -y --no-install-recommends ([^\\\n]+)/.exec(text);
    expect(stage).not.toBeNull();
    const installed = stage![1]!.trim().split(/\s+/);
    // The Node image has these: Node itself links to them.
    const base = new Set(['libc6', 'libstdc++6', 'libgcc-s1']);
    const libraries = new Set<string>();
    for (const file of [join(built, 'deps/librdkafka.so.1'), join(built, 'Release/confluent-kafka-javascript.node')]) {
      for (const line of execFileSync('ldd', [file], { encoding: 'utf8' }).split('\n')) {
        const m = /=> (\/\S+)/.exec(line);
        if (m && !m[1]!.includes('kafka-javascript')) libraries.add(m[1]!);
      }
    }
    expect(libraries.size).toBeGreaterThan(3);
    const packages = new Set<string>();
    for (const library of libraries) {
      // dpkg knows a file by the path its package ships it at, /lib or /usr/lib.
      const other = library.startsWith('/usr/') ? library.slice(4) : `/usr${library}`;
      const query = spawnSync('dpkg', ['-S', library, other], { encoding: 'utf8' });
      const owner = /^([^:\s]+)(?::\w+)?: /m.exec(query.stdout)?.[1];
      expect(owner, library).toBeDefined();
      packages.add(owner!);
    }
    const missing = [...packages].filter((p) => !base.has(p) && !installed.includes(p));
    expect(missing).toEqual([]);
  });
});

const librdkafka = probeLibrdkafka();

describe(`the librdkafka client the image keeps (docker/librdkafka-runtime.mjs)${librdkafka.installed ? '' : ` — SKIPPED: ${librdkafka.reason}`}`, () => {
  test.skipIf(!librdkafka.installed)(
    "loads from the copy alone, and Sluice's addon runs on the copy's librdkafka",
    () => {
      // Inside the repository, so that the copy's own dependencies (bindings) resolve from
      // node_modules as they do in the image.
      mkdirSync(join(ROOT, 'var'), { recursive: true });
      const dir = mkdtempSync(join(ROOT, 'var/librdkafka-runtime-'));
      try {
        const pkg = join(dir, 'node_modules/@confluentinc/kafka-javascript');
        execFileSync(
          process.execPath,
          [join(ROOT, 'docker/librdkafka-runtime.mjs'), join(ROOT, 'node_modules/@confluentinc/kafka-javascript'), pkg],
          {
            stdio: 'ignore',
          },
        );
        const size = execFileSync('du', ['-sk', pkg], { encoding: 'utf8' });
        expect(Number(size.split('\t')[0]) / 1024).toBeLessThan(40);
        // The binding first, then the addon (as native.ts loads them); the addon links to
        // librdkafka by soname and so shares the binding's, which must be the copy's.
        const script = join(dir, 'probe.cjs');
        writeFileSync(
          script,
          `const native = require('@confluentinc/kafka-javascript/lib/rdkafka.js');
const addon = require(${JSON.stringify(join(ROOT, 'dist/native/sluice-librdkafka.node'))});
const maps = require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes('librdkafka.so'));
const paths = [...new Set(maps.map((l) => l.slice(l.indexOf('/'))))];
console.log(JSON.stringify({ version: native.librdkafkaVersion, error: addon.errorName(-195), paths }));
`,
        );
        const out = JSON.parse(execFileSync(process.execPath, [script], { cwd: dir, encoding: 'utf8' })) as {
          version: string;
          error: string;
          paths: string[];
        };
        expect(out.version).toBe(librdkafka.installed && librdkafka.version);
        expect(out.error).toBe('Local: Broker transport failure');
        expect(out.paths).toEqual([join(pkg, 'build/deps/librdkafka.so.1')]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});

describe('healthcheck.mjs', () => {
  // The real API server over a readiness model the test drives: the script is checked
  // against what Sluice answers, healthy or not.
  const check = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const c = spawn(process.execPath, [join(ROOT, 'docker/healthcheck.mjs'), ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
      let stdout = '';
      c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      c.on('exit', (status) => resolve({ status, stdout }));
    });
  const serve = async () => {
    const readiness = new Readiness(30_000);
    const server = await startApiServer(
      apiSection.parse({ address: '127.0.0.1:0' }),
      {
        probes: readiness,
        taps: new Taps(),
        metrics: async () => ({ contentType: 'text/plain', body: '' }),
        reload: async () => ({ result: 'unchanged', changes: [], problems: [] }),
        about: {},
      },
      silentLogger(),
    );
    servers.push(server!);
    return { readiness, url: server!.url };
  };
  const servers: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  test('healthy: /health answers 200 and the state directory takes writes (the probe file is removed)', async () => {
    const { url } = await serve();
    expect(await check(['--url', url, '--data-dir', tmp])).toEqual({ status: 0, stdout: 'healthy\n' });
    expect(readdirSync(tmp).filter((f) => f.startsWith('.health-'))).toEqual([]);
  });

  test('--ready: not ready with the reasons Sluice gives, then ready', async () => {
    const { readiness, url } = await serve();
    const bus = readiness.add('bus', 'bus', 'kafka', 'must-run');
    readiness.pipelineRunning();
    bus.failed(new Error('kafka unreachable: connect ECONNREFUSED'));
    // The seconds count from the failure to the answer: a slow machine may show 1s or more.
    const notReady = await check(['--ready', '--url', url, '--data-dir', tmp]);
    expect(notReady.status).toBe(1);
    expect(notReady.stdout).toMatch(/^unhealthy: \/ready answered 503: bus failing for \d+s: kafka unreachable: connect ECONNREFUSED\n$/);
    bus.ok();
    expect(await check(['--ready', '--url', url, '--data-dir', tmp])).toEqual({ status: 0, stdout: 'ready\n' });
  });

  test('unhealthy: a crashed component, nothing answering, a state directory that takes no writes', async () => {
    const { readiness, url } = await serve();
    readiness.add('sources.app', 'source', 'file', 'informative').crashed(new Error('loop ended'));
    expect(await check(['--url', url, '--data-dir', tmp])).toEqual({
      status: 1,
      stdout: 'unhealthy: /health answered 503: sources.app crashed: loop ended\n',
    });
    expect(await check(['--url', 'http://127.0.0.1:1', '--data-dir', tmp])).toEqual({
      status: 1,
      stdout: 'unhealthy: no answer from the Sluice api at http://127.0.0.1:1 (ECONNREFUSED)\n',
    });
    const { url: fine } = await serve();
    expect(await check(['--url', fine, '--data-dir', join(tmp, 'missing')])).toEqual({
      status: 1,
      stdout: `unhealthy: state directory ${join(tmp, 'missing')} does not take writes (ENOENT)\n`,
    });
  });
});
