// `sluice search` against the real node (issue 17 "Terminals and logs", issue 12 "Untrusted
// values"): following prints each match once, in order, after the first lines; an event
// stamped in 2099 does not hide what comes after it; control characters are shown escaped
// unless --raw.
import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { ElasticsearchSink } from '../../sinks/elasticsearch/es-sink.js';
import { elasticsearchSinkOptions } from '../../sinks/elasticsearch/options.js';
import { dropIndices } from '../support/elasticsearch.js';
import { type TempDir, tempDir, waitFor } from '../support/index.js';
import { sluice, start, stopAll } from './harness.js';

const url = inject('elasticsearchUrl');
const prefix = `sluice-cli-search-${randomUUID().slice(0, 8)}`;
const admin = new Client({ node: url });
const at = ['--url', url, '--index', `${prefix}-*`];
let tmp: TempDir;
let sink: ElasticsearchSink;

function ev(id: string, timestamp: number, service: string, message: string, offset = 0): LogEvent {
  return { id, timestamp, message, service, module: 'api', host: 'web-1', source: { kind: 'file', path: '/log', offset }, fields: {} };
}

async function index(events: LogEvent[]): Promise<void> {
  await sink.write(events);
  await admin.indices.refresh({ index: `${prefix}-*` });
}

const messages = (out: string) =>
  out
    .trimEnd()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ').slice(4).join(' '));

beforeAll(async () => {
  tmp = await tempDir('cli-search');
  sink = new ElasticsearchSink(
    elasticsearchSinkOptions.parse({ url, index: `${prefix}-{service}-%Y.%m.%d`, template: { name: prefix, replicas: 0 } }),
    { name: 'cli-search', logger: silentLogger() },
  );
  await sink.open();
});
afterEach(stopAll);
afterAll(async () => {
  await sink.close();
  await dropIndices(admin, prefix);
  await admin.close();
  await tmp.cleanup();
});

describe('sluice search --follow', () => {
  it('-n 1 prints the newest line, then each new match once, in order, never the older ones of the window', async () => {
    const base = Date.now() - 5_000;
    // 600 lines of the last 5 s: all inside the window each poll re-reads.
    await index(Array.from({ length: 600 }, (_, i) => ev(`old-${i}`, base + i * 5, 'flw', `old ${i}`)));
    const follow = start(['search', ...at, '-s', 'flw', '-n', '1', '--follow', '--interval', '200ms']);
    await waitFor('the first line', () => follow.stdout().includes('old 599'), 30_000, follow.stderr);
    const now = Date.now();
    await index([ev('new-1', now, 'flw', 'new 1', 1), ev('new-2', now, 'flw', 'new 2', 2), ev('new-3', now + 1, 'flw', 'new 3')]);
    await waitFor('the new lines', () => follow.stdout().includes('new 3'), 30_000, follow.stdout);
    // One event from a wrong clock, far in the future; what comes after it is still printed.
    await index([ev('future', Date.UTC(2099, 0, 1), 'flw', 'from 2099')]);
    await waitFor('the future line', () => follow.stdout().includes('from 2099'), 30_000, follow.stdout);
    await index([ev('after', Date.now(), 'flw', 'after the future')]);
    await waitFor('the line after it', () => follow.stdout().includes('after the future'), 30_000, follow.stdout);
    await index([ev('last', Date.now(), 'flw', 'last')]);
    await waitFor('the last line', () => follow.stdout().includes('last'), 30_000, follow.stdout);
    expect(await follow.stop()).toBe(0);
    expect(messages(follow.stdout())).toEqual(['old 599', 'new 1', 'new 2', 'new 3', 'from 2099', 'after the future', 'last']);
  });
});

describe('control characters in stored lines', () => {
  const evil = 'title \x1b]0;pwned\x07 clear \x1b[2J csi \x9b31m end';

  beforeAll(async () => {
    await index([ev('evil', Date.now() - 1000, 'esc', evil)]);
  });

  it('are shown escaped, so a log line cannot drive the terminal', () => {
    const r = sluice(['search', ...at, '-s', 'esc']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(messages(r.stdout)).toEqual(['title \\x1b]0;pwned\\x07 clear \\x1b[2J csi \\x9b31m end']);
    expect(r.stdout).not.toMatch(/[\x1b\x07\x9b]/);
  });

  it('--json escapes them as JSON does, the C1 ones included; --raw prints them as stored', () => {
    const json = sluice(['search', ...at, '-s', 'esc', '--json']);
    expect(json.stdout).not.toMatch(/[\x1b\x07\x9b]/);
    expect((JSON.parse(json.stdout) as { message: string }).message).toBe(evil);
    const raw = sluice(['search', ...at, '-s', 'esc', '--raw']);
    expect(messages(raw.stdout)).toEqual([evil]);
  });
});
