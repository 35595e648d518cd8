/**
 * Realistic log lines for the demo source: web access logs, Java application logs with
 * multi-line stack traces, and JSON logs, for a few services and modules. Random but
 * reproducible from a seed, so tests can compare exact output.
 */

export type DemoFormat = 'access' | 'java' | 'json';

export interface DemoStream {
  service: string;
  module: string;
  format: DemoFormat;
  /** Share of the total rate. */
  weight: number;
}

export const DEMO_STREAMS: readonly DemoStream[] = [
  { service: 'shop', module: 'web', format: 'access', weight: 5 },
  { service: 'shop', module: 'checkout', format: 'java', weight: 2 },
  { service: 'billing', module: 'api', format: 'json', weight: 2 },
  { service: 'billing', module: 'invoicing', format: 'java', weight: 1 },
];

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  hex(chars: number): string {
    let s = '';
    while (s.length < chars)
      s += Math.floor(this.next() * 0x100000000)
        .toString(16)
        .padStart(8, '0');
    return s.slice(0, chars);
  }
}

const PATHS = [
  '/',
  '/products',
  '/products/{id}',
  '/cart',
  '/cart/items',
  '/checkout',
  '/api/search?q=shoes',
  '/static/app.{hex}.js',
  '/healthz',
];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'curl/8.5.0',
  'kube-probe/1.29',
];
const THREADS = ['http-nio-8080-exec-1', 'http-nio-8080-exec-4', 'http-nio-8080-exec-7', 'scheduler-1', 'kafka-consumer-0'];
const JAVA_INFO = [
  (r: Random) => `Order ${r.int(10000, 99999)} placed for customer ${r.int(100, 999)} (${r.int(1, 6)} items)`,
  (r: Random) => `Cache refresh finished in ${r.int(3, 900)} ms (${r.int(100, 5000)} entries)`,
  (r: Random) => `Invoice INV-${r.int(100000, 999999)} rendered (${r.int(1, 12)} pages)`,
  (r: Random) => `Connection pool stats: active=${r.int(0, 20)} idle=${r.int(0, 10)} waiting=${r.int(0, 3)}`,
];
const JAVA_WARN = [
  (r: Random) => `Slow query: ${r.int(1000, 9000)} ms for SELECT * FROM orders WHERE customer_id = ?`,
  (r: Random) => `Retrying call to payment-gateway (attempt ${r.int(2, 4)} of 5)`,
];
const EXCEPTIONS = [
  { type: 'java.lang.IllegalStateException', message: 'payment declined: insufficient funds', cause: undefined },
  {
    type: 'org.springframework.dao.DataAccessResourceFailureException',
    message: 'Unable to acquire JDBC Connection',
    cause: 'java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.',
  },
  {
    type: 'java.io.UncheckedIOException',
    message: 'java.net.SocketTimeoutException: Read timed out',
    cause: 'java.net.SocketTimeoutException: Read timed out',
  },
];
const JSON_EVENTS = ['invoice created', 'payment captured', 'refund requested', 'customer updated', 'webhook delivered'];

const iso = (ms: number) => new Date(ms).toISOString();
const javaTime = (ms: number) => iso(ms).replace('T', ' ').slice(0, 23);

/** One event of a stream: one line, or several for a Java stack trace. */
export function demoEvent(stream: DemoStream, r: Random, now: number): string[] {
  switch (stream.format) {
    case 'access': {
      const path = r
        .pick(PATHS)
        .replace('{id}', String(r.int(1, 5000)))
        .replace('{hex}', r.hex(8));
      const status = r.next() < 0.9 ? 200 : r.pick([301, 304, 404, 500, 502]);
      const method = path.startsWith('/cart/items') || path === '/checkout' ? 'POST' : 'GET';
      const time = iso(now).replace('Z', '+00:00');
      return [
        `10.${r.int(0, 3)}.${r.int(0, 255)}.${r.int(1, 254)} - - [${time}] "${method} ${path} HTTP/1.1" ${status} ${r.int(120, 48000)} "-" "${r.pick(AGENTS)}" ${(r.int(1, 900) / 1000).toFixed(3)}`,
      ];
    }
    case 'java': {
      const logger = `com.acme.${stream.service}.${stream.module === 'checkout' ? 'CheckoutService' : 'InvoiceJob'}`;
      const head = (level: string, text: string) => `${javaTime(now)} ${level.padEnd(5)} [${r.pick(THREADS)}] ${logger} - ${text}`;
      const roll = r.next();
      if (roll < 0.85) return [head('INFO', r.pick(JAVA_INFO)(r))];
      if (roll < 0.95) return [head('WARN', r.pick(JAVA_WARN)(r))];
      const ex = r.pick(EXCEPTIONS);
      const lines = [
        head('ERROR', `Request failed: ${ex.message}`),
        `${ex.type}: ${ex.message}`,
        `\tat ${logger}.process(${logger.split('.').pop()}.java:${r.int(40, 400)})`,
        `\tat com.acme.${stream.service}.web.Controller.handle(Controller.java:${r.int(20, 200)})`,
        '\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)',
        '\tat java.base/java.lang.Thread.run(Thread.java:1583)',
      ];
      if (ex.cause)
        lines.push(
          `Caused by: ${ex.cause}`,
          '\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)',
          `\t... ${r.int(8, 30)} more`,
        );
      return lines;
    }
    case 'json': {
      const level = r.next() < 0.9 ? 'info' : r.pick(['warn', 'error']);
      return [
        JSON.stringify({
          ts: iso(now),
          level,
          logger: `${stream.service}.${stream.module}`,
          msg: r.pick(JSON_EVENTS),
          invoice_id: `INV-${r.int(100000, 999999)}`,
          amount: r.int(100, 99999) / 100,
          duration_ms: r.int(1, 1500),
          trace_id: r.hex(32),
        }),
      ];
    }
  }
}
