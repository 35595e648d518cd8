import { describe, expect, it } from 'vitest';
import { secretValues } from '../../core/options/secret.js';
import { webhdfsSinkOptions } from './options.js';

const problems = (input: unknown) =>
  webhdfsSinkOptions.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

describe('webhdfs sink options', () => {
  it('takes a NameNode list and fills the defaults', () => {
    const o = webhdfsSinkOptions.parse({ namenodes: ['http://nn1:9870', 'http://nn2:9870'] });
    expect(o).toMatchObject({
      root: '/sluice',
      path: '{service}/{module}/%Y-%m-%d/{host}.log',
      auth: 'simple',
      roll_size: 128 * 1024 * 1024,
      roll_age: 3_600_000,
      idle_timeout: 300_000,
      dedupe_window: 500_000,
    });
  });

  it('refuses kerberos as not available yet, pointing at delegation tokens', () => {
    expect(problems({ namenodes: ['http://nn:9870'], auth: 'kerberos' })).toEqual([
      expect.stringMatching(/^auth: kerberos \(SPNEGO\) is not available yet: use auth: delegation_token/),
    ]);
  });

  it('needs a token for delegation_token auth, and user only with simple auth', () => {
    expect(problems({ namenodes: ['http://nn:9870'], auth: 'delegation_token' })).toEqual([
      'delegation_token: auth: delegation_token needs delegation_token',
    ]);
    expect(problems({ namenodes: ['http://nn:9870'], auth: 'delegation_token', delegation_token: 't', user: 'u' })).toEqual([
      'user: user is for auth: simple; a delegation token names its user itself',
    ]);
    expect(problems({ namenodes: ['http://nn:9870'], delegation_token: 't' })).toEqual([
      'delegation_token: delegation_token is only used with auth: delegation_token',
    ]);
  });

  it('refuses tls with an http:// NameNode, a relative root, bare numbers for sizes and times, a ":" in the path', () => {
    expect(problems({ namenodes: ['http://nn:9870'], tls: { ca_file: '/ca.pem' } })).toEqual([
      'tls: tls is set but a NameNode address is http://: use https:// addresses',
    ]);
    expect(problems({ namenodes: ['nn:9870'] })).toEqual([expect.stringMatching(/^namenodes\.0: a NameNode is "http:\/\/host:port"/)]);
    expect(problems({ namenodes: ['http://nn:9870'], root: 'logs' })).toEqual([expect.stringMatching(/^root: an absolute HDFS directory/)]);
    expect(problems({ namenodes: ['http://nn:9870'], roll_size: 1000, roll_age: 60 }).map((p) => p.split(':')[0])).toEqual([
      'roll_size',
      'roll_age',
    ]);
    expect(problems({ namenodes: ['http://nn:9870'], path: '{service}/%H:%M.log' })).toEqual([
      expect.stringMatching(/^path: .*HDFS names cannot hold ":"/),
    ]);
  });

  it('refuses retention without a day directory in the path', () => {
    expect(problems({ namenodes: ['http://nn:9870'], path: '{service}/{host}.log', retention_days: 7 })).toEqual([
      expect.stringMatching(/^retention_days: /),
    ]);
  });
});

describe('webhdfs secrets', () => {
  it('hides the delegation token from errors and logs', () => {
    const o = webhdfsSinkOptions.parse({ namenodes: ['http://nn:9870'], auth: 'delegation_token', delegation_token: 'tok-hidden-123' });
    expect(secretValues(webhdfsSinkOptions, o)).toEqual(['tok-hidden-123']);
  });
});
