import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from './log.js';
import { FileDeadLetter, formatEntry } from './dead-letter.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('dead-letter', () => {
  it('formats a bad record with its coordinates, keeping invalid UTF-8 as base64', () => {
    const line = formatEntry(
      {
        reason: 'not a Sluice event: invalid JSON',
        topic: 'logs',
        partition: 2,
        offset: '17',
        key: Buffer.from('k'),
        value: Buffer.from([0xff, 0xfe]),
      },
      0,
    );
    expect(JSON.parse(line)).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      reason: 'not a Sluice event: invalid JSON',
      topic: 'logs',
      partition: 2,
      offset: '17',
      key: 'k',
      value_base64: '//4=',
    });
  });

  it('formats an unrouted event with the event in the wire format', () => {
    const event = { id: 'a', timestamp: 5, message: 'hi', service: 's', module: 'm', host: 'h', source: { kind: 'demo' }, fields: {} };
    expect(JSON.parse(formatEntry({ reason: 'no route', event }, 0))).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      reason: 'no route',
      event: { v: 1, ...event },
    });
  });

  it('appends JSON lines to a file, one per entry, in write order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-dl-'));
    dirs.push(dir);
    const path = join(dir, 'sub', 'dl.jsonl');
    const dl = new FileDeadLetter(path, silentLogger());
    await dl.open();
    await Promise.all([
      dl.write([
        { reason: 'r1', value: Buffer.from('x') },
        { reason: 'r2', value: null },
      ]),
      dl.write([{ reason: 'r3', value: Buffer.from('{') }]),
    ]);
    await dl.close();
    const lines = readFileSync(path, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.reason, l.value])).toEqual([
      ['r1', 'x'],
      ['r2', null],
      ['r3', '{'],
    ]);
  });

  it('writes a record or event once, also when its batch is dead-lettered again after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-dl-'));
    dirs.push(dir);
    const path = join(dir, 'dl.jsonl');
    const event = { id: 'ev1', timestamp: 5, message: 'hi', service: 's', module: 'm', host: 'h', source: { kind: 'demo' }, fields: {} };
    const batch = [
      { reason: 'invalid JSON', topic: 'logs', partition: 1, offset: '7', value: Buffer.from('{') },
      { reason: 'invalid JSON', topic: 'logs', partition: 1, offset: '7', value: Buffer.from('{') },
      { reason: 'no route', event },
    ];
    const first = new FileDeadLetter(path, silentLogger());
    await first.open();
    await first.write(batch);
    await first.write(batch);
    await first.close();
    const again = new FileDeadLetter(path, silentLogger());
    await again.open();
    await again.write([...batch, { reason: 'invalid JSON', topic: 'logs', partition: 1, offset: '8', value: Buffer.from('[') }]);
    await again.close();
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.offset ?? l.event.id)).toEqual(['7', 'ev1', '8']);
  });
});
