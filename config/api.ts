import { isScalar, type Document } from 'yaml';
import { z } from 'zod';
import { secret } from '../core/options/secret.js';
import { tlsOptions } from '../core/options/tls.js';
import { duration } from '../core/units.js';

/**
 * The `api:` section of every config (agent, collector, run): the HTTP server that serves
 * /metrics, /health, /ready, /reload and /tap (api/README.md).
 *
 *   api:
 *     address: 127.0.0.1:8686        # port 0 picks a free one and logs it
 *     token: ${SLUICE_API_TOKEN}     # required for /reload and /tap off loopback
 *     ready_failing_after: 30s
 *     max_taps: 8
 */
export const DEFAULT_API_ADDRESS = '127.0.0.1:8686';

export interface ApiAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:8686", "[::1]:8686", "0.0.0.0:0", "localhost:8686"; undefined when it is not one. */
export function parseAddress(text: string): ApiAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/** Only this machine can reach the address: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const apiSection = z
  .strictObject({
    enabled: z.boolean().default(true).describe('false: no HTTP server at all'),
    address: z
      .string()
      .default(DEFAULT_API_ADDRESS)
      .superRefine((v, ctx) => {
        if (!parseAddress(v))
          ctx.addIssue({
            code: 'custom',
            message: `expected host:port such as "127.0.0.1:8686", "[::1]:8686" or "0.0.0.0:8686" (port 0 picks a free one), got ${JSON.stringify(v)}`,
          });
      })
      .describe('host:port to listen on; loopback by default, port 0 picks a free port (logged)'),
    token: secret(z.string().min(16, 'api.token must be at least 16 characters (e.g. `openssl rand -hex 24`)'))
      .optional()
      .describe(
        'Bearer token for POST /reload and GET /tap, from the environment (${SLUICE_API_TOKEN}); without one, they answer only on loopback',
      ),
    ready_failing_after: duration()
      .default(30_000)
      .describe('/ready turns false once a sink (or the bus send) has been failing for longer than this'),
    max_taps: z
      .number()
      .int()
      .min(1)
      .default(8)
      .describe(
        'Most GET /tap streams open at once (each costs the pipeline a share of the batches it taps); one more is refused with 429',
      ),
    tls: tlsOptions.optional().describe('Serve HTTPS with cert_file and key_file (ca_file: require client certificates signed by it)'),
  })
  .superRefine((api, ctx) => {
    if (api.tls && (api.tls.cert_file === undefined || api.tls.key_file === undefined))
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'an HTTPS api needs tls.cert_file and tls.key_file' });
  });

export type ApiConfig = z.output<typeof apiSection>;

/**
 * A token written into the file itself leaks with the file (a ConfigMap, a repository):
 * it must come from the environment. Checked on the document before interpolation, the
 * only point where `${...}` can still be seen. Returns the problem, or undefined.
 */
export function literalTokenProblem(doc: Document): string | undefined {
  const node = doc.getIn(['api', 'token'], true);
  // One whole reference: a default (`${T:-secret}`) or an escaped `$${` writes the token into the file all the same.
  if (!isScalar(node) || typeof node.value !== 'string' || /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(node.value)) return undefined;
  return 'api.token must come from the environment, not be written in the file (no default, no text around it): token: ${SLUICE_API_TOKEN}';
}
