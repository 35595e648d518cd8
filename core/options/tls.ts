import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { fileErrorText } from '../fs-errors.js';

/**
 * The one `tls:` block of every component that talks TLS (Kafka, Elasticsearch, WebHDFS,
 * the HTTP API). Present means TLS on; absent means plain text.
 *
 *   tls: { ca_file: /etc/ssl/ca.pem, cert_file: client.pem, key_file: client.key, verify: true }
 */
export const tlsOptions = z
  .strictObject({
    ca_file: z
      .string()
      .min(1)
      .optional()
      .describe("PEM file with the CA certificate(s) that signed the server's certificate (default: the system CAs)"),
    cert_file: z.string().min(1).optional().describe('PEM client certificate, for servers that require mutual TLS'),
    key_file: z.string().min(1).optional().describe('PEM private key of cert_file'),
    verify: z.boolean().default(true).describe('Refuse servers whose certificate does not verify (turn off only for testing)'),
    server_name: z.string().min(1).optional().describe('Name to verify the server certificate against, when it differs from the address'),
  })
  .superRefine((v, ctx) => {
    if ((v.cert_file === undefined) !== (v.key_file === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'cert_file and key_file go together: give both or neither',
        path: [v.cert_file ? 'key_file' : 'cert_file'],
      });
    }
  });

export type TlsOptions = z.infer<typeof tlsOptions>;

/** What Node's tls.connect / https.Agent take. */
export interface TlsSettings {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

/**
 * Reads the files of a `tls:` block. Throws one Error that names the component, the option
 * and the file ("sinks.es: tls.ca_file /etc/ca.pem: no such file"), so a startup mistake is
 * a one-line error before anything starts, never a stack trace after "started".
 */
export function loadTls(options: TlsOptions, component: string): TlsSettings {
  const read = (key: 'ca_file' | 'cert_file' | 'key_file'): Buffer | undefined => {
    const file = options[key];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${component}: tls.${key} ${file}: ${fileErrorText(err)}`);
    }
  };
  const settings: TlsSettings = { rejectUnauthorized: options.verify };
  const ca = read('ca_file');
  const cert = read('cert_file');
  const key = read('key_file');
  if (ca) settings.ca = ca;
  if (cert) settings.cert = cert;
  if (key) settings.key = key;
  if (options.server_name) settings.servername = options.server_name;
  return settings;
}
