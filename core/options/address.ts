import { z } from 'zod';

/**
 * Network addresses, checked when the config loads: `brokers: localhost` (no port) or
 * `url: localhost:9200` (no scheme) are config errors with the fix in the message, not a
 * client retrying forever on "Port should be >= 0 ... NaN" after "started".
 *
 *   brokers: z.array(hostPort({ defaultPort: 9092, example: 'kafka-1:9092' }))
 *   url: httpUrl({ defaultPort: 9200 })
 */

const HOSTNAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})$/;

/** What a `host:port` string holds, or why it is not one. */
export function parseHostPort(text: string): { host: string; port: number } | { problem: string; host?: string } {
  if (text.trim() !== text || text === '') return { problem: 'no spaces around it, and not empty' };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return { problem: 'no scheme (kafka://, http://): just host:port' };
  let host: string;
  let port: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(.*))?$/.exec(text);
  if (v6) {
    host = v6[1]!;
    port = v6[2];
  } else if (text.split(':').length > 2) {
    return { problem: 'an IPv6 address goes in brackets: [::1]:9092' };
  } else {
    const i = text.lastIndexOf(':');
    host = i === -1 ? text : text.slice(0, i);
    port = i === -1 ? undefined : text.slice(i + 1);
    if (!HOSTNAME.test(host)) return { problem: `"${host}" is not a host name or IP address` };
  }
  if (port === undefined) return { problem: 'no port', host };
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
    return { problem: `port "${port}" is not a number from 1 to 65535`, host };
  return { host, port: Number(port) };
}

export interface HostPortOptions {
  /** Offered in the hint when the port is missing ("did you mean kafka:9092?"). */
  defaultPort?: number;
  /** Shown in the message as a good value. */
  example?: string;
}

/** A `host:port` string: a name or IPv4 address, or `[IPv6]`, and a port from 1 to 65535. */
export function hostPort(options: HostPortOptions = {}) {
  const example = options.example ?? `kafka-1:${options.defaultPort ?? 9092}`;
  return z.string().superRefine((v, ctx) => {
    const parsed = parseHostPort(v);
    if (!('problem' in parsed)) return;
    const withoutScheme = v.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '');
    const hint =
      parsed.problem === 'no port' && options.defaultPort !== undefined
        ? ` (did you mean "${v}:${options.defaultPort}"?)`
        : withoutScheme !== v && !('problem' in parseHostPort(withoutScheme))
          ? ` (did you mean "${withoutScheme}"?)`
          : '';
    ctx.addIssue({
      code: 'custom',
      message: `expected host:port such as "${example}", got ${JSON.stringify(v)}: ${parsed.problem}${hint}`,
    });
  });
}

export interface HttpUrlOptions {
  /** The port the service usually listens on, for the hint when the scheme is missing. */
  defaultPort?: number;
  example?: string;
}

/**
 * The URL as it may be shown: user and password (secrets) taken out, up to the last `@`,
 * also when there is no scheme (`user:pass@host:9200`, a value the check refuses and then
 * shows) or the password holds a `/`. A path with an `@` is shown cut: never a secret shown.
 */
export function displayUrl(text: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? '';
  const at = text.lastIndexOf('@');
  return at < scheme.length ? text : scheme + text.slice(at + 1);
}

/** An http:// or https:// URL with a host (a path prefix is allowed, for a proxy). */
export function httpUrl(options: HttpUrlOptions = {}) {
  const example = options.example ?? `http://127.0.0.1:${options.defaultPort ?? 9200}`;
  return z.string().superRefine((v, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(v);
    } catch {
      // reported below
    }
    if (url && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '') return;
    const shown = JSON.stringify(displayUrl(v));
    let hint = '';
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
      if (URL.canParse(`http://${v}`)) {
        const guess = new URL(`http://${v}`);
        if (guess.port === '' && options.defaultPort !== undefined) guess.port = String(options.defaultPort);
        const text = guess.pathname === '/' && !v.endsWith('/') ? guess.toString().slice(0, -1) : guess.toString();
        hint = ` (no scheme: did you mean ${JSON.stringify(displayUrl(text))}?)`;
      }
    } else if (url && url.protocol !== 'http:' && url.protocol !== 'https:') {
      hint = ` (scheme "${url.protocol.slice(0, -1)}" is not http or https)`;
    }
    ctx.addIssue({ code: 'custom', message: `expected an http:// or https:// URL such as "${example}", got ${shown}${hint}` });
  });
}
