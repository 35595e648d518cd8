import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isSecret, REDACTED, redactSecrets, secret, secretValues } from './secret.js';

const schema = z.strictObject({
  url: z.string(),
  password: secret().optional().describe('kept secret through wrappers'),
  sasl: secret(z.strictObject({ user: z.string(), token: z.string() })).optional(),
  list: z.array(secret()).default([]),
});

describe('secret options', () => {
  it('are marked through optional, default and describe', () => {
    expect(isSecret(schema.shape.password)).toBe(true);
    expect(isSecret(schema.shape.url)).toBe(false);
  });

  it('redactSecrets gives a copy safe to log, whole secret blocks included', () => {
    const value = { url: 'http://x', password: 'p4ss', sasl: { user: 'u', token: 't0k' }, list: ['a1', 'b2'] };
    expect(redactSecrets(schema, value)).toEqual({
      url: 'http://x',
      password: REDACTED,
      sasl: { user: REDACTED, token: REDACTED },
      list: [REDACTED, REDACTED],
    });
    expect(value.password).toBe('p4ss');
  });

  it('secretValues lists what must be scrubbed from messages, also values of the wrong type', () => {
    expect(secretValues(schema, { url: 'u', password: 12345, sasl: { user: 'x', token: 'y' } }).sort()).toEqual(['12345', 'x', 'y']);
  });
});
