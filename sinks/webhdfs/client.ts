import http from 'node:http';
import https from 'node:https';
import type { TlsSettings } from '../../core/options/tls.js';

/**
 * A WebHDFS client on Node's http/https (no dependency: the protocol is a handful of REST
 * calls, and owning the redirect step is what lets the sink tell a NameNode failure from a
 * DataNode one). Writes go in two steps, as the protocol wants: the NameNode answers
 * CREATE/APPEND with a 307 to a DataNode, which takes the bytes.
 *
 * NameNode failover: `namenodes` is an ordered list (an HA pair, or more). A request that
 * cannot connect, or that a standby answers with StandbyException, goes to the next one; the
 * one that answered stays current.
 */

/** HDFS said no: its RemoteException, with the HTTP status. */
export class HdfsError extends Error {
  constructor(
    /** The Java exception's simple name: "AccessControlException", "StandbyException", ... */
    readonly exception: string,
    message: string,
    readonly status: number,
  ) {
    super(`${exception}: ${message}`);
    this.name = 'HdfsError';
  }
}

/** Exceptions that say the path itself is refused, whatever is retried: such events go to the dead-letter. */
const REFUSED = new Set([
  'AccessControlException',
  'ParentNotDirectoryException',
  'InvalidPathException',
  'PathComponentTooLongException',
  'MaxDirectoryItemsExceededException',
  'IllegalArgumentException',
  'UnresolvedPathException',
]);

export function isRefusedPath(err: unknown): err is HdfsError {
  return err instanceof HdfsError && REFUSED.has(err.exception);
}

export type Auth = { user: string } | { delegation: string };

export interface WebHdfsClientOptions {
  namenodes: readonly string[];
  auth: Auth;
  tls?: TlsSettings;
  /** Longest wait for an answer (or for the next bytes of one), in ms. */
  timeoutMs: number;
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface FileStatus {
  length: number;
  type: 'FILE' | 'DIRECTORY' | 'SYMLINK';
  pathSuffix: string;
}

export class WebHdfsClient {
  private current = 0;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent: https.Agent;

  constructor(private readonly options: WebHdfsClientOptions) {
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, ...(options.tls ?? {}) });
  }

  /** The NameNode requests go to now. */
  get namenode(): string {
    return this.options.namenodes[this.current]!;
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  async getFileStatus(path: string): Promise<FileStatus | undefined> {
    try {
      const body = await this.json('GET', path, 'GETFILESTATUS');
      return (body as { FileStatus: FileStatus }).FileStatus;
    } catch (err) {
      if (err instanceof HdfsError && err.exception === 'FileNotFoundException') return undefined;
      throw err;
    }
  }

  /** Entries of a directory; undefined when it does not exist. */
  async listStatus(path: string): Promise<FileStatus[] | undefined> {
    try {
      const body = await this.json('GET', path, 'LISTSTATUS');
      return (body as { FileStatuses: { FileStatus: FileStatus[] } }).FileStatuses.FileStatus;
    } catch (err) {
      if (err instanceof HdfsError && err.exception === 'FileNotFoundException') return undefined;
      throw err;
    }
  }

  async mkdirs(path: string): Promise<void> {
    const body = (await this.json('PUT', path, 'MKDIRS')) as { boolean: boolean };
    if (!body.boolean) throw new HdfsError('IOException', `MKDIRS ${path} returned false`, 200);
  }

  /** Renames; false when the source is missing or the destination exists. */
  async rename(from: string, to: string): Promise<boolean> {
    return ((await this.json('PUT', from, 'RENAME', { destination: to })) as { boolean: boolean }).boolean;
  }

  async delete(path: string, recursive: boolean): Promise<boolean> {
    return ((await this.json('DELETE', path, 'DELETE', { recursive: String(recursive) })) as { boolean: boolean }).boolean;
  }

  /** Cuts the file to `length`; false when HDFS must first recover the last block (the file is closed once that is done). */
  async truncate(path: string, length: number): Promise<boolean> {
    return ((await this.json('POST', path, 'TRUNCATE', { newlength: String(length) })) as { boolean: boolean }).boolean;
  }

  /** Creates a file that must not exist yet, holding `data` (FileAlreadyExistsException if it does). */
  async create(path: string, data: Buffer): Promise<void> {
    await this.write('PUT', path, 'CREATE', { overwrite: 'false' }, data, 201);
  }

  /** Appends `data`; an empty append only takes and gives back the lease (a closed file proves no one writes it). */
  async append(path: string, data: Buffer): Promise<void> {
    await this.write('POST', path, 'APPEND', {}, data, 200);
  }

  /** The whole content of a file (OPEN, through the DataNode the NameNode redirects to); FileNotFoundException if it is missing. */
  async read(path: string): Promise<Buffer> {
    const res = await this.namenodeRequest('GET', path, 'OPEN', {});
    if (res.status !== 307) throw errorOf(res, `OPEN ${path}`);
    const location = res.headers.location;
    if (!location) throw new HdfsError('IOException', `OPEN ${path}: the NameNode redirect has no Location`, res.status);
    let dn: Response;
    try {
      dn = await this.request('GET', new URL(location));
    } catch (err) {
      throw new Error(`DataNode ${new URL(location).host} (OPEN ${path}): ${(err as Error).message}`);
    }
    if (dn.status !== 200) throw errorOf(dn, `OPEN ${path} at DataNode ${new URL(location).host}`);
    return dn.body;
  }

  private async write(method: string, path: string, op: string, params: Record<string, string>, data: Buffer, ok: number): Promise<void> {
    const res = await this.namenodeRequest(method, path, op, params);
    if (res.status !== 307) throw errorOf(res, `${op} ${path}`);
    const location = res.headers.location;
    if (!location) throw new HdfsError('IOException', `${op} ${path}: the NameNode redirect has no Location`, res.status);
    let dn: Response;
    try {
      dn = await this.request(method, new URL(location), data);
    } catch (err) {
      throw new Error(`DataNode ${new URL(location).host} (${op} ${path}): ${(err as Error).message}`);
    }
    if (dn.status !== ok) throw errorOf(dn, `${op} ${path} at DataNode ${new URL(location).host}`);
  }

  private async json(method: string, path: string, op: string, params: Record<string, string> = {}): Promise<unknown> {
    const res = await this.namenodeRequest(method, path, op, params);
    if (res.status !== 200) throw errorOf(res, `${op} ${path}`);
    return JSON.parse(res.body.toString('utf8'));
  }

  /** One NameNode request, failing over through the list on connection errors and standbys. */
  private async namenodeRequest(method: string, path: string, op: string, params: Record<string, string>): Promise<Response> {
    const failures: string[] = [];
    const count = this.options.namenodes.length;
    for (let i = 0; i < count; i++) {
      const index = (this.current + i) % count;
      const base = this.options.namenodes[index]!;
      const url = new URL(`${base.replace(/\/+$/, '')}/webhdfs/v1${encodePath(path)}`);
      url.searchParams.set('op', op);
      if ('user' in this.options.auth) url.searchParams.set('user.name', this.options.auth.user);
      else url.searchParams.set('delegation', this.options.auth.delegation);
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      let res: Response;
      try {
        res = await this.request(method, url);
      } catch (err) {
        failures.push(`${base}: ${(err as Error).message}`);
        continue;
      }
      if (isStandby(res)) {
        failures.push(`${base}: standby`);
        continue;
      }
      this.current = index;
      return res;
    }
    throw new Error(`no active NameNode answered ${op} ${path} (${failures.join('; ')})`);
  }

  private request(method: string, url: URL, body?: Buffer): Promise<Response> {
    const secure = url.protocol === 'https:';
    const lib = secure ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        url,
        {
          method,
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: body ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : { 'content-length': 0 },
          timeout: this.options.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ? `${err.code} ${err.message}` : err.message)));
      req.end(body);
    });
  }
}

/** Each segment percent-encoded, the slashes kept. */
function encodePath(path: string): string {
  return path
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

function remoteException(res: Response): { exception: string; message: string } | undefined {
  try {
    const r = (JSON.parse(res.body.toString('utf8')) as { RemoteException?: { exception?: string; message?: string } }).RemoteException;
    if (r?.exception) return { exception: r.exception, message: r.message ?? '' };
  } catch {
    // not JSON: a proxy's page, say
  }
  return undefined;
}

function isStandby(res: Response): boolean {
  return res.status >= 400 && remoteException(res)?.exception === 'StandbyException';
}

function errorOf(res: Response, what: string): HdfsError {
  const r = remoteException(res);
  if (r) return new HdfsError(r.exception, `${what}: ${r.message}`, res.status);
  return new HdfsError('HttpError', `${what}: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 200)}`, res.status);
}
