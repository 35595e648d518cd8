// The real Kafka broker and Elasticsearch node that Sluice's integration tests and
// benchmarks run against, provisioned from Maven Central (pom.xml) and run as plain JVM
// processes: no Docker, no mocks. Everything lives under var/services (gitignored).
//
// Several test sessions may share one pair of services at once (people run their own
// integration tests side by side in one tree), so starting and stopping go through a lock
// file per instance, and each session holds a lease: the last session to leave stops what
// a session started, and never what `npm run services up` started for a person.
//
// Types: services.d.mts.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readSync,
  realpathSync,
  lstatSync,
  chmodSync,
  rmSync,
  statSync,
  writeFileSync,
  chownSync,
} from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const POM = join(REPO_ROOT, 'test', 'services', 'pom.xml');

/**
 * Root of every service's files: SLUICE_SERVICES_DIR (e.g. a bigger disk), else
 * var/services in the clone. Run as root, Elasticsearch runs as the unprivileged ES_USER,
 * which must reach its files: when a parent of the clone is private (a clone in /root, or
 * in any `mktemp -d`), the services live in SHARED_SERVICES_DIR instead, made for it.
 */
export function servicesDir() {
  if (process.env.SLUICE_SERVICES_DIR) return resolve(process.env.SLUICE_SERVICES_DIR);
  chosenServicesDir ??= defaultServicesDir();
  return chosenServicesDir;
}

let chosenServicesDir;

/** Where the services go when the clone is out of ES_USER's reach: /var/tmp survives reboots, so provisioning is kept. */
export function sharedServicesDir() {
  const base = existsSync('/var/tmp') ? '/var/tmp' : tmpdir();
  return join(base, `sluice-services-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`);
}

function defaultServicesDir() {
  const inClone = join(REPO_ROOT, 'var', 'services');
  const runsAsRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!runsAsRoot || privateAncestor(REPO_ROOT) === undefined) return inClone;
  const dir = sharedServicesDir();
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  // A directory in a world-writable place may have been planted: use it only when it is a
  // real directory of ours that nobody else can write to.
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid() || (st.mode & 0o022) !== 0) {
    throw new Error(
      `${REPO_ROOT} is not reachable by ${ES_USER} (${privateAncestor(REPO_ROOT)} is private), and ${dir}, where the services would go instead, is not a directory owned by you and writable by you alone; remove it, or set SLUICE_SERVICES_DIR`,
    );
  }
  chmodSync(dir, 0o755);
  return dir;
}

/** The first directory from `path` up that other users cannot search (no o+x), if any. */
function privateAncestor(path) {
  for (let p = path; ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return p;
    if (dirname(p) === p) return undefined;
  }
}

function envPort(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${name}=${JSON.stringify(raw)} is not a TCP port (1-65535)`);
  }
  return port;
}

function pomProperty(name) {
  const match = new RegExp(`<${name}>([^<]+)</${name}>`).exec(readFileSync(POM, 'utf8'));
  if (!match) throw new Error(`${POM} has no <${name}> property`);
  return match[1].trim();
}

export const KAFKA_VERSION = pomProperty('kafka.version');
export const ELASTICSEARCH_VERSION = pomProperty('elasticsearch.version');
export const HADOOP_VERSION = pomProperty('hadoop.version');

const defaultLog = (line) => process.stderr.write(`[services] ${line}\n`);

// ---------------------------------------------------------------------------------------
// Small process and file helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    // No procfs (macOS): ps gives the same arguments joined by spaces, good enough to match.
    try {
      return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' })
        .trim()
        .split(/\s+/);
    } catch {
      return [];
    }
  }
}

function readPid(file) {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function tail(file, lines = 40) {
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(length);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, length, size - length);
    } finally {
      closeSync(fd);
    }
    return buf
      .toString('utf8')
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trimEnd();
  } catch {
    return `(no log at ${file})`;
  }
}

function portInUse(port) {
  return new Promise((res) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      res(true);
    });
    socket.once('error', () => res(false));
  });
}

/**
 * `count` distinct free ports on 127.0.0.1. Every probe stays bound until all are found:
 * closing one before asking for the next lets the OS hand the same port out twice (seen as
 * a broker whose listener and controller got one port).
 */
export async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      servers.push(
        await new Promise((res, rej) => {
          const server = createServer();
          server.once('error', rej);
          server.listen(0, '127.0.0.1', () => res(server));
        }),
      );
    }
    return servers.map((server) => /** @type {import('node:net').AddressInfo} */ (server.address()).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((res) => server.close(res))));
  }
}

/** Replaces the zeros among `ports` ("any free one") with distinct free ports. */
async function fillFreePorts(ports) {
  const free = await freePorts(ports.filter((p) => p === 0).length);
  return ports.map((p) => (p === 0 ? free.shift() : p));
}

/**
 * Cross-process mutex: a file created exclusively, holding the owner's pid. A lock whose
 * owner died (a killed test run) is taken over instead of blocking everyone forever.
 */
async function withLock(file, timeoutMs, what, fn) {
  mkdirSync(dirname(file), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const owner = readPid(file);
      if (owner !== undefined && owner !== process.pid && !isAlive(owner)) {
        rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${file} (held by pid ${owner}) to ${what}`);
      }
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

function javaHome() {
  for (const name of ['ES_JAVA_HOME', 'JAVA_HOME']) {
    const home = process.env[name];
    if (home && existsSync(join(home, 'bin', 'java'))) return home;
  }
  for (const dir of (process.env.PATH || '').split(delimiter)) {
    const java = join(dir, 'java');
    if (existsSync(java)) return dirname(dirname(realpathSync(java)));
  }
  throw new Error('no Java found: install a JDK 17+ or set JAVA_HOME (or ES_JAVA_HOME for Elasticsearch)');
}

/** Terminates pid (SIGTERM, then SIGKILL after graceMs) and waits until it is gone. */
async function terminate(pid, graceMs) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) await kill(pid);
}

async function kill(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  // The port and the data directory lock are free only once the process is really gone.
  while (isAlive(pid)) await sleep(50);
}

/** Spawns a detached process whose output goes to logFile; it outlives the caller. */
function spawnDetached(command, args, { cwd, env, logFile, uid, gid }) {
  mkdirSync(dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', out, out],
      ...(uid === undefined ? {} : { uid, gid }),
    });
    child.unref();
    return child;
  } finally {
    closeSync(out);
  }
}

// ---------------------------------------------------------------------------------------
// Provisioning from Maven Central

function provisionStamp() {
  return join(servicesDir(), '.provisioned.json');
}

function provisioned() {
  const dir = servicesDir();
  try {
    const stamp = JSON.parse(readFileSync(provisionStamp(), 'utf8'));
    if (stamp.kafka !== KAFKA_VERSION || stamp.elasticsearch !== ELASTICSEARCH_VERSION) return false;
  } catch {
    return false;
  }
  return (
    existsSync(join(dir, 'kafka', 'libs', `kafka_2.13-${KAFKA_VERSION}.jar`)) &&
    existsSync(join(elasticsearchHome(), 'bin', 'elasticsearch'))
  );
}

function elasticsearchHome() {
  return join(servicesDir(), 'elasticsearch-dist', `elasticsearch-${ELASTICSEARCH_VERSION}`);
}

/**
 * Fetches Kafka's jars and Elasticsearch's distribution with Maven unless a complete copy of
 * the versions pom.xml names is already there (then it returns at once).
 */
export async function provision({ log = defaultLog } = {}) {
  if (provisioned()) return;
  await withLock(join(servicesDir(), '.provision.lock'), 20 * 60_000, 'provision', async () => {
    if (provisioned()) return;
    const dir = servicesDir();
    log(
      `provisioning Kafka ${KAFKA_VERSION} and Elasticsearch ${ELASTICSEARCH_VERSION} from Maven Central into ${dir} (first run only; about 200 MB)`,
    );
    rmSync(provisionStamp(), { force: true });
    // A version change leaves the old jars behind, and two kafka-clients on one class path
    // is a broken broker.
    rmSync(join(dir, 'kafka', 'libs'), { recursive: true, force: true });
    const started = Date.now();
    await runMaven([], { log, started, what: 'Maven provisioning' });
    if (!existsSync(join(elasticsearchHome(), 'bin', 'elasticsearch'))) {
      throw new Error(`Maven finished but ${elasticsearchHome()} has no bin/elasticsearch; see ${join(dir, 'provision.log')}`);
    }
    writeFileSync(provisionStamp(), `${JSON.stringify({ kafka: KAFKA_VERSION, elasticsearch: ELASTICSEARCH_VERSION })}\n`);
    log(`provisioned in ${Math.round((Date.now() - started) / 1000)} s`);
  });
}

/** Runs `mvn dependency:copy-dependencies dependency:unpack` on pom.xml with extra flags, logging progress. */
async function runMaven(extra, { log, started, what }) {
  const dir = servicesDir();
  const logFile = join(dir, 'provision.log');
  mkdirSync(dir, { recursive: true });
  const goals = extra.includes('-Dhdfs') ? ['dependency:copy-dependencies'] : ['dependency:copy-dependencies', 'dependency:unpack'];
  const args = ['-B', '-f', POM, `-Dservices.dir=${dir}`, ...extra, ...goals];
  await new Promise((res, rej) => {
    const logOut = openSync(logFile, 'w');
    const child = spawn('mvn', args, { cwd: dirname(POM), stdio: ['ignore', 'pipe', logOut] });
    let files = 0;
    let kilobytes = 0;
    let pending = '';
    child.stdout.on('data', (chunk) => {
      writeFileSync(logOut, chunk);
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const m = /Downloaded from [^:]+: \S+ \((\d+(?:\.\d+)?) (B|kB|MB)/.exec(line);
        if (!m) continue;
        files += 1;
        kilobytes += Number(m[1]) * (m[2] === 'MB' ? 1024 : m[2] === 'kB' ? 1 : 1 / 1024);
      }
    });
    const progress = setInterval(() => {
      log(`  ... ${files} files, ${(kilobytes / 1024).toFixed(1)} MB downloaded (${Math.round((Date.now() - started) / 1000)} s)`);
    }, 10_000);
    child.once('error', (err) => {
      clearInterval(progress);
      closeSync(logOut);
      rej(
        new Error(
          `cannot run Maven (mvn): ${err.message}; install Maven 3.6+ or point KAFKA_BROKERS / ELASTICSEARCH_URL / WEBHDFS_URL at running services`,
        ),
      );
    });
    child.once('exit', (code, signal) => {
      clearInterval(progress);
      closeSync(logOut);
      if (code === 0) res(undefined);
      else rej(new Error(`${what} failed (${signal ?? `exit ${code}`}); full output in ${logFile}:\n${tail(logFile, 30)}`));
    });
  });
}

function hdfsStamp() {
  return join(servicesDir(), '.provisioned-hdfs.json');
}

function hadoopLibs() {
  return join(servicesDir(), 'hadoop', 'libs');
}

function hdfsProvisioned() {
  try {
    if (JSON.parse(readFileSync(hdfsStamp(), 'utf8')).hadoop !== HADOOP_VERSION) return false;
  } catch {
    return false;
  }
  return existsSync(join(hadoopLibs(), `hadoop-client-minicluster-${HADOOP_VERSION}.jar`));
}

/**
 * Fetches Hadoop's jars (the `hdfs` profile of pom.xml, about 110 MB) unless present. Its own
 * stamp and Maven run: adding HDFS to a services directory whose Kafka is in use by others
 * never rewrites Kafka's jars under it.
 */
export async function provisionHdfs({ log = defaultLog } = {}) {
  if (hdfsProvisioned()) return;
  await withLock(join(servicesDir(), '.provision-hdfs.lock'), 20 * 60_000, 'provision HDFS', async () => {
    if (hdfsProvisioned()) return;
    log(`provisioning HDFS (Hadoop ${HADOOP_VERSION}) from Maven Central into ${servicesDir()} (first run only; about 110 MB)`);
    rmSync(hdfsStamp(), { force: true });
    rmSync(hadoopLibs(), { recursive: true, force: true });
    const started = Date.now();
    await runMaven(['-Dhdfs'], { log, started, what: 'Maven provisioning of HDFS' });
    writeFileSync(hdfsStamp(), `${JSON.stringify({ hadoop: HADOOP_VERSION })}\n`);
    log(`HDFS provisioned in ${Math.round((Date.now() - started) / 1000)} s`);
  });
}

// ---------------------------------------------------------------------------------------
// The common life cycle of a managed JVM service

/** The JVM heap of a service: as given, else from its environment variable, else 512m. */
function jvmHeap(heap, envVar) {
  return heap ?? process.env[envVar] ?? '512m';
}

class Service {
  /**
   * @param {string} kind 'Kafka' | 'Elasticsearch'
   * @param {string} name instance directory under servicesDir()
   * @param {string | undefined} external address from the environment; the service is then not ours to run
   * @param {string} envName the variable that points the tests at an external one
   * @param {string} logName its main log (the one shown when it fails to start), in logDir
   * @param {Record<string, number | undefined>} [ports] its ports by field name (0 or unset: any free one)
   */
  constructor(kind, name, external, envName, logName, ports = {}) {
    this.kind = kind;
    this.name = name;
    this.external = external;
    this.envName = envName;
    this.logName = logName;
    this.portFields = Object.keys(ports);
    Object.assign(this, ports);
  }

  get managed() {
    return this.external === undefined;
  }

  get dir() {
    return join(servicesDir(), this.name);
  }

  get pidFile() {
    return join(this.dir, 'run', 'pid');
  }

  get logDir() {
    return join(this.dir, 'logs');
  }

  get mainLog() {
    return join(this.logDir, this.logName);
  }

  /** Where its main port (`port`) answers on 127.0.0.1, after `scheme`. */
  localAddress(scheme) {
    if (!this.port) throw new Error(`${this.kind} instance ${this.name} has no port until it is started`);
    return `${scheme}127.0.0.1:${this.port}`;
  }

  /**
   * The ports it listens on. Port 0 means "any free one", fixed at first start so a
   * restarted instance comes back at the address its clients already know.
   */
  async ports() {
    const ports = await fillFreePorts(this.portFields.map((field) => this[field]));
    this.portFields.forEach((field, i) => {
      this[field] = ports[i];
    });
    return ports;
  }

  /** The shared instances serve every test run at once; any other one belongs to one process. */
  get shared() {
    return this.name === 'kafka' || this.name === 'elasticsearch';
  }

  get ownerFile() {
    return join(this.dir, 'run', 'owner');
  }

  /**
   * A private instance is driven by the one process that started it: a second test run using
   * the same name would stop and restart it under the first one's feet.
   */
  mustOwn(action) {
    if (this.shared) return;
    const owner = readPid(this.ownerFile);
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
      throw new Error(
        `cannot ${action} ${this.kind} instance "${this.name}": process ${owner} is using it; give private instances a name unique to the test run (e.g. "${this.name}-\${process.pid}")`,
      );
    }
  }

  /** Marks an instance a test session started, so the last session out stops it. */
  get sessionMarker() {
    return join(this.dir, 'run', 'started-by-session');
  }

  mustBeManaged(action) {
    if (!this.managed) {
      throw new Error(
        `cannot ${action} ${this.kind}: it is the external one at ${this.external} (from the environment), not run by test/services`,
      );
    }
  }

  /** Pid of this instance's live process, or undefined (a stale pid file is removed). */
  pid() {
    if (!this.managed) return undefined;
    const pid = readPid(this.pidFile);
    if (pid === undefined) return undefined;
    // Pids get reused: only a process running this very instance counts as ours.
    if (isAlive(pid) && this.ownsCommand(commandLine(pid))) return pid;
    rmSync(this.pidFile, { force: true });
    return undefined;
  }

  running() {
    return this.pid() !== undefined;
  }

  /**
   * Starts the instance unless it runs, and resolves once it answers. owner 'session': what
   * this call launches is marked as a test session's (stopped when the last session leaves);
   * 'person': it stays up whoever started it; unset (a test restarting what it killed): the
   * mark stays as it was.
   */
  async start({ log = defaultLog, timeoutMs = 180_000, owner } = {}) {
    this.mustBeManaged('start');
    this.mustOwn('start'); // again under the lock; this spares waiting for it
    await this.provision({ log });
    await withLock(join(this.dir, 'run', 'lock'), timeoutMs + 60_000, `start ${this.kind}`, async () => {
      if (owner === 'person') rmSync(this.sessionMarker, { force: true });
      this.mustOwn('start');
      if (!this.shared) {
        const orphan = readPid(this.ownerFile) !== process.pid ? this.pid() : undefined;
        if (orphan !== undefined) {
          // left running by a test run that died; its ports may not be this object's
          log(`stopping ${this.kind} instance "${this.name}" (pid ${orphan}) left behind by an ended process`);
          await terminate(orphan, 30_000);
        }
        writeFileSync(this.ownerFile, `${process.pid}\n`);
      }
      if (this.running()) {
        await this.waitReady(timeoutMs, undefined);
        return;
      }
      for (const port of await this.ports()) {
        if (await portInUse(port)) {
          throw new Error(
            `cannot start ${this.kind}: port ${port} on 127.0.0.1 is taken by a process test/services did not start; stop it, or choose other ports (test/services/README.md), or point ${this.envName} at it`,
          );
        }
      }
      const started = Date.now();
      log(`starting ${this.kind} (${this.address()}), logs in ${this.logDir}`);
      const child = await this.launch();
      if (owner === 'session') writeFileSync(this.sessionMarker, `${process.pid}\n`);
      await this.waitReady(timeoutMs, child);
      log(`${this.kind} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    });
  }

  /** Graceful stop (SIGTERM, then SIGKILL after graceMs); resolves when the process is gone. */
  async stop({ graceMs = 30_000 } = {}) {
    this.mustBeManaged('stop');
    this.mustOwn('stop');
    await withLock(join(this.dir, 'run', 'lock'), graceMs + 60_000, `stop ${this.kind}`, async () => {
      this.mustOwn('stop');
      const pid = this.pid();
      if (pid !== undefined) await terminate(pid, graceMs);
      rmSync(this.pidFile, { force: true });
      rmSync(this.sessionMarker, { force: true });
    });
  }

  /** SIGKILL, like a crash: no shutdown work, data as the kernel left it. */
  async kill() {
    this.mustBeManaged('kill');
    this.mustOwn('kill');
    const pid = this.pid();
    if (pid !== undefined) await kill(pid);
  }

  /** Stops this instance and deletes its data, logs and settings (for private instances tests create). */
  async destroy() {
    await this.stop();
    // Only the instance's own entries: the shared Kafka's directory also holds the jars.
    for (const entry of ['data', 'logs', 'run', 'config', 'tmp', 'server.properties', 'log4j.properties']) {
      rmSync(join(this.dir, entry), { recursive: true, force: true });
    }
    if (existsSync(this.dir) && readdirSync(this.dir).length === 0) rmSync(this.dir, { recursive: true });
  }

  startedBySession() {
    return existsSync(this.sessionMarker);
  }

  async waitReady(timeoutMs, child) {
    const deadline = Date.now() + timeoutMs;
    let exit;
    child?.once('exit', (code, signal) => {
      exit = signal ?? `exit code ${code}`;
    });
    let lastError = 'no answer yet';
    for (;;) {
      if (this.managed && exit !== undefined && !(await this.childMayExit(exit))) {
        throw new Error(`${this.kind} stopped during start-up (${exit}); last lines of ${this.mainLog}:\n${tail(this.mainLog)}`);
      }
      try {
        if (await this.ready()) return;
      } catch (err) {
        // fetch hides the reason (ECONNREFUSED, ...) in its cause
        lastError = err instanceof Error ? [err.message, err.cause?.message].filter(Boolean).join(': ') : String(err);
      }
      if (Date.now() > deadline) {
        const where = this.managed ? `; last lines of ${this.mainLog}:\n${tail(this.mainLog)}` : '';
        throw new Error(`${this.kind} at ${this.address()} not ready after ${timeoutMs} ms (${lastError})${where}`);
      }
      await sleep(250);
    }
  }

  /** Starts the JVM in the background (its output in stdout.log) and records its pid. */
  spawnJvm(java, args) {
    const child = spawnDetached(java, args, { cwd: this.dir, env: process.env, logFile: join(this.logDir, 'stdout.log') });
    writeFileSync(this.pidFile, `${child.pid}\n`);
    return child;
  }

  /** Fetches what the service runs from (Kafka's and Elasticsearch's by default). */
  provision(options) {
    return provision(options);
  }

  // The launched process is the service itself unless a subclass says otherwise.
  async childMayExit() {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Kafka: one KRaft node that is both broker and controller, PLAINTEXT on 127.0.0.1

export class KafkaService extends Service {
  /**
   * @param {{ name?: string, port?: number, controllerPort?: number, heap?: string, external?: string }} [options]
   */
  constructor({ name = 'kafka', port, controllerPort, heap, external } = {}) {
    super('Kafka', name, external, 'KAFKA_BROKERS', 'server.log', { port, controllerPort });
    this.heap = jvmHeap(heap, 'SLUICE_KAFKA_HEAP');
  }

  /** Bootstrap address list for clients, e.g. "127.0.0.1:19092". */
  get brokers() {
    return this.external ?? this.localAddress('');
  }

  address() {
    return this.brokers;
  }

  ownsCommand(argv) {
    return argv.includes('kafka.Kafka') && argv.includes(join(this.dir, 'server.properties'));
  }

  async launch() {
    const dataDir = join(this.dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    mkdirSync(this.logDir, { recursive: true });
    mkdirSync(join(this.dir, 'run'), { recursive: true });
    const properties = join(this.dir, 'server.properties');
    writeFileSync(
      properties,
      [
        '# written by test/services/services.mjs on every start',
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${this.controllerPort}`,
        `listeners=PLAINTEXT://127.0.0.1:${this.port},CONTROLLER://127.0.0.1:${this.controllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${this.port}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        `log.dirs=${dataDir}`,
        // one node: every internal topic has one replica
        'offsets.topic.replication.factor=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        // A broker killed with SIGKILL is registered again only once its old session expires
        // (9 s by default), which tests that kill and restart it wait out; 5 s still leaves
        // room for heartbeats delayed on a loaded machine.
        'broker.session.timeout.ms=5000',
        'broker.heartbeat.interval.ms=1000',
        // a consumer group's first join otherwise waits 3 s for more members
        'group.initial.rebalance.delay.ms=0',
        // The log cleaner allocates its 128 MiB dedupe buffer at start; in a small test heap
        // that ran a restarted broker out of memory. Only __consumer_offsets is compacted here.
        'log.cleaner.dedupe.buffer.size=8388608',
        '',
      ].join('\n'),
    );
    const log4j = join(this.dir, 'log4j.properties');
    writeFileSync(
      log4j,
      [
        'log4j.rootLogger=INFO, file',
        'log4j.appender.file=org.apache.log4j.RollingFileAppender',
        `log4j.appender.file.File=${this.mainLog}`,
        'log4j.appender.file.MaxFileSize=50MB',
        'log4j.appender.file.MaxBackupIndex=2',
        'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
        'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
        // the request logger at INFO writes a line per request
        'log4j.logger.kafka.request.logger=WARN',
        '',
      ].join('\n'),
    );
    const java = join(javaHome(), 'bin', 'java');
    const classPath = join(servicesDir(), 'kafka', 'libs', '*');
    const jvm = [
      `-Xmx${this.heap}`,
      '-Xms128m',
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${log4j}`,
      `-Dkafka.logs.dir=${this.logDir}`,
    ];
    if (!existsSync(join(dataDir, 'meta.properties'))) {
      // Kafka's own format: 16 random bytes, URL-safe base64 without padding, no leading '-'.
      let clusterId;
      do clusterId = randomBytes(16).toString('base64url');
      while (clusterId.startsWith('-'));
      try {
        execFileSync(java, [...jvm, '-cp', classPath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
        throw new Error(`formatting Kafka storage in ${dataDir} failed: ${String(err.stderr || err.stdout || err.message).trim()}`);
      }
    }
    return this.spawnJvm(java, [...jvm, '-cp', classPath, 'kafka.Kafka', properties]);
  }

  async ready() {
    const admin = new Kafka({
      clientId: 'sluice-services',
      brokers: this.brokers.split(','),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 3000,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.controller === null || cluster.controller < 0) throw new Error('no active controller yet');
      await admin.listTopics();
      return true;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Elasticsearch: one node from the integ-test distribution (Apache-licensed core, security
// off), single-node discovery on 127.0.0.1

const ES_USER = 'sluice-es';

export class ElasticsearchService extends Service {
  /**
   * @param {{ name?: string, port?: number, transportPort?: number, heap?: string, external?: string }} [options]
   */
  constructor({ name = 'elasticsearch', port, transportPort, heap, external } = {}) {
    // The main log is the one the CLI copies the node's console output to until the node has
    // started: where a failure before logging is set up (bad setting, wrong Java) shows.
    super('Elasticsearch', name, external, 'ELASTICSEARCH_URL', 'startup.log', { port, transportPort });
    this.heap = jvmHeap(heap, 'SLUICE_ES_HEAP');
  }

  /** Base URL for clients, e.g. "http://127.0.0.1:19200". */
  get url() {
    return this.external?.replace(/\/+$/, '') ?? this.localAddress('http://');
  }

  address() {
    return this.url;
  }

  get tmpDir() {
    return join(this.dir, 'tmp');
  }

  ownsCommand(argv) {
    // The node's command line names its home and its temp directory, not its config, and the
    // temp directory is per instance.
    return argv.includes(`-Des.path.home=${elasticsearchHome()}`) && argv.includes(`-Djava.io.tmpdir=${this.tmpDir}`);
  }

  /** Elasticsearch refuses to run as root; then it runs as an unprivileged system user. */
  runAs() {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
    const ids = () => {
      try {
        const uid = Number(execFileSync('id', ['-u', ES_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
        const gid = Number(execFileSync('id', ['-g', ES_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
        return { uid, gid };
      } catch {
        return undefined;
      }
    };
    let user = ids();
    if (user === undefined) {
      try {
        execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', ES_USER], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
        if (ids() === undefined) {
          throw new Error(
            `Elasticsearch cannot run as root and creating the user ${ES_USER} failed: ${String(err.stderr || err.message).trim()}`,
          );
        }
      }
      user = ids();
      if (user === undefined) throw new Error(`user ${ES_USER} still missing after useradd`);
    }
    return user;
  }

  async launch() {
    const home = elasticsearchHome();
    const config = join(this.dir, 'config');
    const dataDir = join(this.dir, 'data');
    for (const d of [join(config, 'jvm.options.d'), dataDir, this.logDir, this.tmpDir, join(this.dir, 'run')]) {
      mkdirSync(d, { recursive: true });
    }
    for (const file of ['jvm.options', 'log4j2.properties']) {
      writeFileSync(join(config, file), readFileSync(join(home, 'config', file)));
    }
    writeFileSync(
      join(config, 'elasticsearch.yml'),
      [
        '# written by test/services/services.mjs on every start',
        `cluster.name: sluice-test-${this.name}`,
        'node.name: sluice-test',
        // single-node discovery on loopback also skips the production bootstrap checks
        // (vm.max_map_count, file descriptors) that a CI machine would fail
        'discovery.type: single-node',
        'network.host: 127.0.0.1',
        `http.port: ${this.port}`,
        `transport.port: ${this.transportPort}`,
        `path.data: ${dataDir}`,
        `path.logs: ${this.logDir}`,
        // a nearly full disk would otherwise turn indices read-only mid-test
        'cluster.routing.allocation.disk.threshold_enabled: false',
        'xpack.security.enabled: false',
        // tests create indices freely; a stray wildcard delete must still name them
        'action.destructive_requires_name: true',
        '',
      ].join('\n'),
    );
    writeFileSync(join(config, 'jvm.options.d', 'sluice.options'), `-Xms${this.heap}\n-Xmx${this.heap}\n`);
    const user = this.runAs();
    if (user !== undefined) {
      chownTree(this.dir, user.uid, user.gid);
      checkTraversable(home, ES_USER);
    }
    rmSync(this.pidFile, { force: true });
    rmSync(this.mainLog, { force: true });
    const env = {
      ...process.env,
      ES_JAVA_HOME: javaHome(),
      ES_PATH_CONF: config,
      ES_TMPDIR: this.tmpDir,
      HOME: this.dir,
    };
    delete env.JAVA_HOME; // the launcher warns that it ignores it
    delete env.ES_JAVA_OPTS;
    // -d: the launcher starts the node, relays its output until it has started (or failed),
    // then exits; the node writes its pid file itself.
    return spawnDetached(join(home, 'bin', 'elasticsearch'), ['-d', '-p', this.pidFile], {
      cwd: home,
      env,
      logFile: this.mainLog,
      ...(user ?? {}),
    });
  }

  async childMayExit(exit) {
    // The launcher exits 0 once the daemonized node is up, and the node lives on.
    return exit === 'exit code 0' && this.running();
  }

  async ready() {
    const res = await fetch(`${this.url}/_cluster/health?wait_for_status=yellow&timeout=1s`, { signal: AbortSignal.timeout(5000) });
    const body = await res.json();
    if (res.status !== 200 || (body.status !== 'green' && body.status !== 'yellow')) {
      throw new Error(`cluster health ${res.status} ${body.status ?? JSON.stringify(body).slice(0, 200)}`);
    }
    return true;
  }
}

function chownTree(path, uid, gid) {
  chownSync(path, uid, gid);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

function checkTraversable(path, user) {
  const p = privateAncestor(path);
  if (p !== undefined) {
    throw new Error(
      `Elasticsearch runs as ${user} (it refuses root) but ${p} is not searchable by other users; chmod o+x ${p}, or set SLUICE_SERVICES_DIR to a directory it can reach (unset, a private clone uses ${sharedServicesDir()})`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// HDFS: a NameNode and a DataNode, each its own JVM (so a test can SIGKILL one and keep the
// other), run from the shaded hadoop-client-minicluster jars; WebHDFS on, everything on
// 127.0.0.1, replication 1, simple auth (user.name).

/** XML for a Hadoop *-site.xml file. */
function hadoopSite(properties) {
  const xml = (v) => String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return [
    '<?xml version="1.0"?>',
    '<!-- written by test/services/services.mjs on every start -->',
    '<configuration>',
    ...Object.entries(properties).map(([k, v]) => `  <property><name>${k}</name><value>${xml(v)}</value></property>`),
    '</configuration>',
    '',
  ].join('\n');
}

/** One node of an HdfsService: its own directory, conf, data, logs and pid under the cluster's. */
class HdfsNode extends Service {
  /**
   * @param {HdfsService} cluster
   * @param {'namenode' | 'datanode'} role
   */
  constructor(cluster, role) {
    super(
      role === 'namenode' ? 'HDFS NameNode' : 'HDFS DataNode',
      join(cluster.name, role),
      cluster.external,
      'WEBHDFS_URL',
      `${role}.log`,
    );
    this.cluster = cluster;
    this.role = role;
  }

  get shared() {
    return this.cluster.name === 'hdfs';
  }

  get confDir() {
    return join(this.dir, 'conf');
  }

  provision(options) {
    return provisionHdfs(options);
  }

  async ports() {
    const c = this.cluster;
    if (this.role === 'namenode') {
      [c.httpPort, c.rpcPort] = await fillFreePorts([c.httpPort, c.rpcPort]);
      return [c.httpPort, c.rpcPort];
    }
    [c.dataPort, c.dataHttpPort, c.dataIpcPort] = await fillFreePorts([c.dataPort, c.dataHttpPort, c.dataIpcPort]);
    return [c.dataPort, c.dataHttpPort, c.dataIpcPort];
  }

  address() {
    const c = this.cluster;
    return this.role === 'namenode' ? c.address() : `127.0.0.1:${c.dataHttpPort ?? '?'}`;
  }

  ownsCommand(argv) {
    return argv.includes(`-Dsluice.hdfs.node=${this.dir}`);
  }

  get mainClass() {
    return this.role === 'namenode' ? 'org.apache.hadoop.hdfs.server.namenode.NameNode' : 'org.apache.hadoop.hdfs.server.datanode.DataNode';
  }

  jvm() {
    return [
      `-Xmx${this.cluster.heap}`,
      '-Xms64m',
      // one small heap each: the serial collector needs no GC threads of its own
      '-XX:+UseSerialGC',
      '-Djava.awt.headless=true',
      '-Djava.net.preferIPv4Stack=true',
      `-Dsluice.hdfs.node=${this.dir}`,
      `-Dlog4j.configuration=file:${join(this.confDir, 'log4j.properties')}`,
      `-Dhadoop.log.dir=${this.logDir}`,
      '-cp',
      `${this.confDir}${delimiter}${join(hadoopLibs(), '*')}`,
    ];
  }

  writeConf() {
    const c = this.cluster;
    const data = join(this.dir, 'data');
    for (const d of [this.confDir, data, this.logDir, join(this.dir, 'run'), join(this.dir, 'tmp')]) mkdirSync(d, { recursive: true });
    writeFileSync(
      join(this.confDir, 'core-site.xml'),
      hadoopSite({ 'fs.defaultFS': `hdfs://127.0.0.1:${c.rpcPort}`, 'hadoop.tmp.dir': join(this.dir, 'tmp') }),
    );
    writeFileSync(
      join(this.confDir, 'hdfs-site.xml'),
      hadoopSite({
        'dfs.namenode.name.dir': data,
        'dfs.datanode.data.dir': data,
        'dfs.namenode.rpc-address': `127.0.0.1:${c.rpcPort}`,
        'dfs.namenode.http-address': `127.0.0.1:${c.httpPort}`,
        'dfs.namenode.secondary.http-address': '127.0.0.1:0',
        'dfs.datanode.address': `127.0.0.1:${c.dataPort}`,
        'dfs.datanode.http.address': `127.0.0.1:${c.dataHttpPort}`,
        'dfs.datanode.ipc.address': `127.0.0.1:${c.dataIpcPort}`,
        // WebHDFS redirects writes to the DataNode by this name: loopback, not the host name
        'dfs.datanode.hostname': '127.0.0.1',
        'dfs.webhdfs.enabled': 'true',
        'dfs.replication': '1',
        'dfs.permissions.enabled': 'true',
        // one DataNode: leave safe mode as soon as its block report is in
        'dfs.namenode.safemode.extension': '0',
        'dfs.namenode.safemode.min.datanodes': '0',
        'dfs.blockreport.initialDelay': '0',
        // A killed DataNode's WebHDFS writer leaves its lease behind; production waits 20 min
        // for the NameNode to recover it, tests that kill nodes should not.
        'dfs.namenode.lease-hard-limit-sec': '20',
        'dfs.heartbeat.interval': '1',
        'dfs.namenode.heartbeat.recheck-interval': '5000',
        'dfs.namenode.handler.count': '5',
        'dfs.namenode.service.handler.count': '3',
        'dfs.datanode.handler.count': '3',
        // tests fill small disks; the default 100 MB reserve would put the NameNode in safe mode
        'dfs.namenode.resource.du.reserved': '10485760',
      }),
    );
    writeFileSync(
      join(this.confDir, 'log4j.properties'),
      [
        'log4j.rootLogger=INFO, file',
        'log4j.appender.file=org.apache.log4j.RollingFileAppender',
        `log4j.appender.file.File=${this.mainLog}`,
        'log4j.appender.file.MaxFileSize=20MB',
        'log4j.appender.file.MaxBackupIndex=2',
        'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
        'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
        // a line per request and per block otherwise
        'log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN',
        'log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=WARN',
        'log4j.logger.org.apache.hadoop.hdfs.server.datanode.DataNode.clienttrace=WARN',
        'log4j.logger.BlockStateChange=WARN',
        '',
      ].join('\n'),
    );
    return data;
  }

  async launch() {
    const data = this.writeConf();
    const java = join(javaHome(), 'bin', 'java');
    if (this.role === 'namenode' && !existsSync(join(data, 'current', 'VERSION'))) {
      try {
        execFileSync(
          java,
          [...this.jvm(), this.mainClass, '-format', '-nonInteractive', '-force', '-clusterid', `sluice-${this.cluster.name}`],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
      } catch (err) {
        throw new Error(
          `formatting the HDFS NameNode in ${data} failed: ${String(err.stderr || err.stdout || err.message).trim()}\n${tail(this.mainLog)}`,
        );
      }
    }
    rmSync(this.pidFile, { force: true });
    return this.spawnJvm(java, [...this.jvm(), this.mainClass]);
  }

  async ready() {
    const c = this.cluster;
    if (this.role === 'namenode') {
      // Answers WebHDFS (not "Namenode is in startup mode")
      const res = await fetch(`${c.url}/webhdfs/v1/?op=GETFILESTATUS&user.name=${HDFS_SUPERUSER}`, { signal: AbortSignal.timeout(5000) });
      if (res.status !== 200) throw new Error(`WebHDFS answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      return true;
    }
    // The DataNode is up once it is registered with the NameNode and heartbeating.
    const res = await fetch(`http://127.0.0.1:${c.dataHttpPort}/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo`, {
      signal: AbortSignal.timeout(5000),
    });
    const bean = (await res.json()).beans?.[0];
    const actors = JSON.parse(bean?.BPServiceActorInfo ?? '[]');
    if (!actors.some((a) => a.ActorState === 'RUNNING' && Number(a.LastHeartbeat) < 10))
      throw new Error('DataNode not registered with the NameNode yet');
    return true;
  }
}

/** WebHDFS user the tests act as: the NameNode's superuser (the user running it). */
const HDFS_SUPERUSER = process.env.USER || process.env.LOGNAME || 'root';

/**
 * A small HDFS: one NameNode and one DataNode, separate JVMs. start() and stop() drive both;
 * `namenode` and `datanode` are started, stopped and killed on their own by failure tests.
 */
export class HdfsService {
  /**
   * @param {{ name?: string, httpPort?: number, rpcPort?: number, dataPort?: number, dataHttpPort?: number, dataIpcPort?: number, heap?: string, external?: string }} [options]
   */
  constructor({ name = 'hdfs', httpPort, rpcPort, dataPort, dataHttpPort, dataIpcPort, heap, external } = {}) {
    this.kind = 'HDFS';
    this.name = name;
    this.external = external;
    this.envName = 'WEBHDFS_URL';
    this.httpPort = httpPort;
    this.rpcPort = rpcPort;
    this.dataPort = dataPort;
    this.dataHttpPort = dataHttpPort;
    this.dataIpcPort = dataIpcPort;
    this.heap = heap ?? process.env.SLUICE_HDFS_HEAP ?? '256m';
    this.namenode = new HdfsNode(this, 'namenode');
    this.datanode = new HdfsNode(this, 'datanode');
  }

  get managed() {
    return this.external === undefined;
  }

  get dir() {
    return join(servicesDir(), this.name);
  }

  get logDir() {
    return this.dir;
  }

  get mainLog() {
    return this.namenode.mainLog;
  }

  /** NameNode HTTP base, e.g. "http://127.0.0.1:19870" (WebHDFS is under /webhdfs/v1). */
  get url() {
    if (this.external !== undefined) return this.external.replace(/\/+$/, '');
    if (!this.httpPort) throw new Error(`HDFS instance ${this.name} has no port until it is started`);
    return `http://127.0.0.1:${this.httpPort}`;
  }

  address() {
    return this.url;
  }

  /** The user whose WebHDFS requests are the superuser's. */
  get superuser() {
    return HDFS_SUPERUSER;
  }

  /** The NameNode's pid (the DataNode's when only it runs): what `down` and status look at. */
  pid() {
    return this.namenode.pid() ?? this.datanode.pid();
  }

  running() {
    return this.namenode.running() && this.datanode.running();
  }

  startedBySession() {
    return this.namenode.startedBySession();
  }

  /** Writable: the NameNode is out of safe mode and counts a live DataNode. */
  async ready() {
    const res = await fetch(`${this.url}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState`, { signal: AbortSignal.timeout(5000) });
    const bean = (await res.json()).beans?.[0];
    if (!bean) throw new Error('NameNode has no FSNamesystemState yet');
    if (bean.FSState !== 'Operational') throw new Error(`NameNode is in ${bean.FSState}`);
    if (!(bean.NumLiveDataNodes >= 1)) throw new Error('no live DataNode');
    return true;
  }

  async waitReady(timeoutMs = 180_000) {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      try {
        if (await this.ready()) return;
      } catch (err) {
        last = err instanceof Error ? [err.message, err.cause?.message].filter(Boolean).join(': ') : String(err);
      }
      if (Date.now() > deadline) throw new Error(`HDFS at ${this.address()} not writable after ${timeoutMs} ms (${last})`);
      await sleep(250);
    }
  }

  /** Starts whichever node is not running and resolves once HDFS takes writes. */
  async start({ log = defaultLog, timeoutMs = 180_000, owner } = {}) {
    if (!this.managed) {
      await this.waitReady(Math.min(timeoutMs, 30_000));
      return;
    }
    await this.namenode.start({ log, timeoutMs, owner });
    await this.datanode.start({ log, timeoutMs, owner });
    await this.waitReady(timeoutMs);
  }

  async stop(options) {
    await this.datanode.stop(options);
    await this.namenode.stop(options);
  }

  /** SIGKILL both nodes. */
  async kill() {
    await Promise.all([this.datanode.kill(), this.namenode.kill()]);
  }

  async destroy() {
    await this.stop();
    await this.datanode.destroy();
    await this.namenode.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------
// The shared default instances and the session API used by the vitest global setup and the CLI

// The global setup hands its addresses to test workers in KAFKA_BROKERS / ELASTICSEARCH_URL / WEBHDFS_URL,
// which would make them look external there; the SLUICE_MANAGED_* twin says they are ours,
// so a worker can still kill and restart them.
function externalFromEnv(name) {
  const value = process.env[name];
  return value && value !== process.env[`SLUICE_MANAGED_${name}`] ? value : undefined;
}

/** The shared broker: KAFKA_BROKERS if set, else ours on SLUICE_KAFKA_PORT (19092). */
export const kafka = new KafkaService({
  port: envPort('SLUICE_KAFKA_PORT', 19092),
  controllerPort: envPort('SLUICE_KAFKA_CONTROLLER_PORT', 19093),
  external: externalFromEnv('KAFKA_BROKERS'),
});

/** The shared node: ELASTICSEARCH_URL if set, else ours on SLUICE_ES_PORT (19200). */
export const elasticsearch = new ElasticsearchService({
  port: envPort('SLUICE_ES_PORT', 19200),
  transportPort: envPort('SLUICE_ES_TRANSPORT_PORT', 19300),
  external: externalFromEnv('ELASTICSEARCH_URL'),
});

/** The shared HDFS: WEBHDFS_URL if set, else ours with WebHDFS on SLUICE_HDFS_HTTP_PORT (19870). */
export const hdfs = new HdfsService({
  httpPort: envPort('SLUICE_HDFS_HTTP_PORT', 19870),
  rpcPort: envPort('SLUICE_HDFS_RPC_PORT', 19020),
  dataPort: envPort('SLUICE_HDFS_DATANODE_PORT', 19866),
  dataHttpPort: envPort('SLUICE_HDFS_DATANODE_HTTP_PORT', 19864),
  dataIpcPort: envPort('SLUICE_HDFS_DATANODE_IPC_PORT', 19867),
  external: externalFromEnv('WEBHDFS_URL'),
});

/**
 * Puts the shared addresses in process.env for child processes (test workers, a collector
 * under test): KAFKA_BROKERS and ELASTICSEARCH_URL, each with its SLUICE_MANAGED_* twin when
 * this module runs it. WEBHDFS_URL is put there by acquireHdfs(), once HDFS runs.
 */
export function exportAddresses(env = process.env) {
  env.KAFKA_BROKERS = kafka.brokers;
  env.ELASTICSEARCH_URL = elasticsearch.url;
  if (kafka.managed) env.SLUICE_MANAGED_KAFKA_BROKERS = kafka.brokers;
  if (elasticsearch.managed) env.SLUICE_MANAGED_ELASTICSEARCH_URL = elasticsearch.url;
}

/** WEBHDFS_URL, with its SLUICE_MANAGED_* twin when this module runs HDFS. */
export function exportHdfsAddress(env = process.env) {
  env.WEBHDFS_URL = hdfs.url;
  if (hdfs.managed) env.SLUICE_MANAGED_WEBHDFS_URL = hdfs.url;
}

const all = () => [kafka, elasticsearch, hdfs];
/** What every integration run needs; HDFS is leased on its own by the test files that use it (acquireHdfs). */
const common = () => [kafka, elasticsearch];

/** Provisions and starts `services` (external ones are only checked for readiness). */
async function bringUp(services, { log, timeoutMs, owner }) {
  if (services.some((s) => s !== hdfs && s.managed)) await provision({ log });
  if (services.includes(hdfs) && hdfs.managed) await provisionHdfs({ log });
  await Promise.all(
    services.map(async (service) => {
      if (service.managed) await service.start({ log, timeoutMs, owner });
      else await service.waitReady(Math.min(timeoutMs, 30_000), undefined);
    }),
  );
}

/**
 * Starts whichever shared service is not running, HDFS included (external ones are only
 * checked for readiness), and resolves with their addresses. owner: see Service.start
 * ('person' by default: they stay up until `down`).
 */
export async function up({ log = defaultLog, timeoutMs = 180_000, owner = 'person' } = {}) {
  await bringUp(all(), { log, timeoutMs, owner });
  return addresses();
}

/** Stops the shared services this module runs (whoever started them); external ones are left alone. */
export async function down({ log = defaultLog } = {}) {
  await Promise.all(
    all()
      .filter((s) => s.managed)
      .map(async (service) => {
        const pid = service.pid();
        if (pid === undefined) return;
        log(`stopping ${service.kind} (pid ${pid})`);
        await service.stop();
      }),
  );
}

/** What runs, where, and whose it is. */
export async function status() {
  return Promise.all(
    all().map(async (service) => {
      const pid = service.pid();
      let ready = false;
      if (pid !== undefined || !service.managed) {
        ready = await service.ready().catch(() => false);
      }
      return {
        service: service.kind,
        address: service.address(),
        managed: service.managed,
        pid,
        ready,
        startedBySession: service.managed && pid !== undefined && service.startedBySession(),
        logs: service.managed ? service.logDir : undefined,
      };
    }),
  );
}

export function addresses() {
  return { kafkaBrokers: kafka.brokers, elasticsearchUrl: elasticsearch.url, webhdfsUrl: hdfs.url };
}

/** Leases on Kafka and Elasticsearch ('leases'), and on HDFS ('leases-hdfs'). */
function leaseDir(name = 'leases') {
  return join(servicesDir(), name);
}

/** Takes a lease in `dir`, brings `services` up for a session, and gives back a release(). */
async function lease(dir, services, { log, timeoutMs }) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}-${randomBytes(4).toString('hex')}`);
  writeFileSync(file, `${process.pid}\n`);
  try {
    await bringUp(services, { log, timeoutMs, owner: 'session' });
    return () => release(file, dir, services, log);
  } catch (err) {
    rmSync(file, { force: true });
    throw err;
  }
}

/**
 * A test session's hold on the shared Kafka and Elasticsearch: started if need be, plus a
 * lease. Give the returned release() back when the session ends; the last session to leave
 * stops what sessions started, and leaves alone what a person started with `npm run services up`.
 * HDFS is not part of it: a machine where HDFS cannot run still runs every other test.
 */
export async function acquire({ log = defaultLog, timeoutMs = 180_000 } = {}) {
  const release = await lease(leaseDir(), common(), { log, timeoutMs });
  return { kafkaBrokers: kafka.brokers, elasticsearchUrl: elasticsearch.url, release };
}

/**
 * The same for the shared HDFS alone, for the test files and benchmarks that write to it
 * (in their beforeAll): provisioned and started on first use, WEBHDFS_URL exported, and
 * stopped when the last holder releases it, if a session started it.
 */
export async function acquireHdfs({ log = defaultLog, timeoutMs = 180_000 } = {}) {
  const release = await lease(leaseDir('leases-hdfs'), [hdfs], { log, timeoutMs });
  exportHdfsAddress();
  return { webhdfsUrl: hdfs.url, release };
}

async function release(file, dir, services, log) {
  rmSync(file, { force: true });
  for (const entry of readdirSync(dir)) {
    const pid = Number(entry.split('-')[0]);
    if (isAlive(pid)) return; // another session still uses them
    rmSync(join(dir, entry), { force: true });
  }
  await Promise.all(
    services
      .filter((s) => s.managed && s.startedBySession())
      .map(async (service) => {
        log(`stopping ${service.kind}: the last test session using it has ended`);
        await service.stop();
      }),
  );
}

/** Failure-path helpers on the shared instances. */
export const startKafka = (options) => kafka.start(options);
export const stopKafka = (options) => kafka.stop(options);
export const killKafka = () => kafka.kill();
export const startElasticsearch = (options) => elasticsearch.start(options);
export const stopElasticsearch = (options) => elasticsearch.stop(options);
export const killElasticsearch = () => elasticsearch.kill();
export const startHdfs = (options) => hdfs.start(options);
export const stopHdfs = (options) => hdfs.stop(options);
