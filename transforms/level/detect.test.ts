import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/support/index.js';
import { detectLevel, detectLevels, levelInText } from './detect.js';
import { levelOfWord, normalizeLevel } from './normalize.js';

describe('levelInText', () => {
  it.each([
    // log4j / logback default layouts
    ['2024-03-01 12:00:00,123 ERROR [main] com.acme.Billing - charge failed', 'error'],
    ['2024-03-01 12:00:00.123 [http-nio-8080-exec-1] WARN  c.a.web.Controller - slow request', 'warn'],
    ['15:04:05.123 [main] DEBUG org.hibernate.SQL - select 1', 'debug'],
    // Python logging
    ['WARNING:root:disk almost full', 'warn'],
    ['2024-03-01 12:00:00,123 - payments - CRITICAL - ledger out of balance', 'fatal'],
    // Go: zap console, zerolog console, logrus text, slog text
    ['2024-03-01T12:00:00.000Z\tINFO\tserver/main.go:42\tlistening', 'info'],
    ['12:00AM WRN cache miss rate high', 'warn'],
    ['ERRO[0001] cannot connect to the Docker daemon', 'error'],
    ['time=2024-03-01T12:00:00Z level=info msg="started"', 'info'],
    ['time="2024-03-01T12:00:00Z" level="warning" msg=slow', 'warn'],
    ['ts=1 lvl=dbug msg=x', 'debug'],
    // klog (Kubernetes)
    ['E0301 12:00:00.123456       1 reflector.go:138] failed to list', 'error'],
    ['I0301 12:00:00.123456       1 leaderelection.go:248] attempting to acquire', 'info'],
    // Apache and nginx error logs (lower case in brackets)
    ['[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6', 'error'],
    ['[Wed Oct 11 14:32:52.123 2023] [core:notice] [pid 1] AH00094: Command line', 'info'],
    ['2024/03/01 12:00:00 [crit] 1234#0: *1 open() failed', 'fatal'],
    // .NET console logger
    ['fail: Microsoft.AspNetCore.Server.Kestrel[13]', 'error'],
    // Go runtime
    ['panic: runtime error: index out of range', 'fatal'],
    // syslog PRI
    ['<11>Mar  1 12:00:00 host app[1]: boom', 'error'],
    ['<134>1 2024-03-01T12:00:00Z host app 1 - - hello', 'info'],
    ['<15>Mar  1 12:00:00 host app: detail', 'debug'],
    // JSON
    ['{"ts":"2024-03-01T12:00:00Z","level":"WARNING","msg":"slow"}', 'warn'],
    ['{"level":50,"time":1709294400000,"msg":"boom"}', 'error'],
    ['{"@t":"2024-03-01T12:00:00Z","@l":"Fatal","@m":"down"}', 'fatal'],
    ['{"log":{"level":"debug"},"message":"x"}', 'debug'],
    ['{"severity": "ERROR", "message": "x"}', 'error'],
    // Hadoop, Zookeeper, Spark, OpenStack (Loghub formats)
    ['2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created', 'info'],
    ['2015-07-29 19:04:29,071 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@688] - Send worker leaving', 'warn'],
    ['17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers', 'info'],
    ['nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-38101a0b]', 'info'],
  ])('%s -> %s', (line, level) => expect(levelInText(line)).toBe(level));

  it.each([
    'connection error while reading the response', // prose, lower case
    'GET /INFO/errors 200', // not a standalone word
    'ERROR_CODE=7 returned',
    'INFO2 is not a level',
    'Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186',
    '{"message":"level is fine"}',
    '<999>not syslog',
    '',
    `${'x '.repeat(150)}ERROR after the head`,
  ])('finds no level in %j', (line) => expect(levelInText(line)).toBeUndefined());
});

describe('detectLevel', () => {
  it('falls back to error for stderr lines that name no level', () => {
    expect(detectLevel(makeEvent({ message: 'segmentation fault in worker', source: { kind: 'docker', stream: 'stderr' } }))).toBe('error');
    expect(detectLevel(makeEvent({ message: 'INFO starting', source: { kind: 'docker', stream: 'stderr' } }))).toBe('info');
    expect(detectLevel(makeEvent({ message: 'plain', fields: { stream: 'stderr' } }))).toBe('error');
    expect(detectLevel(makeEvent({ message: 'plain', source: { kind: 'docker', stream: 'stdout' } }))).toBeUndefined();
  });

  it('keeps a level an event already has', () => {
    const events = [makeEvent({ message: 'ERROR x', level: 'debug' }), makeEvent({ message: 'ERROR x' }), makeEvent({ message: 'x' })];
    detectLevels(events);
    expect(events.map((e) => e.level)).toEqual(['debug', 'error', undefined]);
  });
});

describe('normalizeLevel', () => {
  it.each([
    ['WARNING', 'warn'],
    ['Err', 'error'],
    ['critical', 'fatal'],
    ['notice', 'info'],
    ['audit', 'audit'],
    [30, 'info'],
    [60, 'fatal'],
    [35, undefined],
    ['a whole sentence here', undefined],
    [{ x: 1 }, undefined],
  ])('%j -> %j', (v, level) => expect(normalizeLevel(v as never)).toBe(level));
});

describe('levelOfWord', () => {
  it('knows a level word in any case, and nothing an object inherits', () => {
    expect(['warning', 'WARNING', 'Warning', 'wArNiNg', 'informational', 'ERR'].map(levelOfWord)).toEqual([
      'warn',
      'warn',
      'warn',
      'warn',
      'info',
      'error',
    ]);
    expect(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'informationals', ''].map(levelOfWord)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(normalizeLevel('constructor')).toBe('constructor');
  });
});
