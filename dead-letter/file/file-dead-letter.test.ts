import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeadLetterEntry } from '../../core/dead-letter.js';
import { silentLogger } from '../../core/log.js';
import { makeEvent, tempDir, type TempDir } from '../../test/support/index.js';
import { FileDeadLetter } from './file-dead-letter.js';
import { fileDeadLetterSpec } from './index.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await tempDir('dl');
});
afterEach(() => tmp.cleanup());

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown> & { event?: { id: string } });

describe('file dead-letter', () => {
  it('appends JSON lines to a file, one per entry, in write order', async () => {
    const path = join(tmp.dir, 'sub', 'dl.jsonl');
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
    expect(lines(path).map((l) => [l.reason, l.value])).toEqual([
      ['r1', 'x'],
      ['r2', null],
      ['r3', '{'],
    ]);
  });

  it('writes a record or event once, also when its batch is dead-lettered again after a restart', async () => {
    const path = join(tmp.dir, 'dl.jsonl');
    const event = makeEvent({ id: 'ev1' });
    // A destination's error text can be long: the key is a hash of it, so remembering it costs the same.
    const longReason = `sinks.es: mapper_parsing_exception ${'x'.repeat(2000)}`;
    const batch: DeadLetterEntry[] = [
      { reason: 'invalid JSON', topic: 'logs', partition: 1, offset: '7', value: Buffer.from('{') },
      { reason: 'invalid JSON', topic: 'logs', partition: 1, offset: '7', value: Buffer.from('{') },
      { reason: 'no route', event },
      { reason: longReason, event },
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
    expect(lines(path).map((l) => `${l.offset ?? l.event!.id} ${String(l.reason).slice(0, 10)}`)).toEqual([
      '7 invalid JS',
      'ev1 no route',
      'ev1 sinks.es: ',
      '8 invalid JS',
    ]);
  });
});

describe('file dead-letter spec', () => {
  it('writes DATA_DIR/dead-letter/NAME.jsonl without a path: the collector and the agent each their own file', async () => {
    await fileDeadLetterSpec.load?.();
    const dir = join(tmp.dir, 'dead-letter');
    const options = fileDeadLetterSpec.options.parse({});
    const ctx = { dataDir: dir, host: 'h', logger: silentLogger() };
    const collector = fileDeadLetterSpec.create(options, { ...ctx, name: 'dead-letter' });
    const agent = fileDeadLetterSpec.create(options, { ...ctx, name: 'agent' });
    for (const [dl, reason] of [
      [collector, 'no route'],
      [agent, 'MESSAGE_TOO_LARGE'],
    ] as const) {
      await dl.open();
      await dl.write([{ reason, event: makeEvent() }]);
      await dl.close();
    }
    expect(lines(join(dir, 'dead-letter.jsonl')).map((l) => l.reason)).toEqual(['no route']);
    expect(lines(join(dir, 'agent.jsonl')).map((l) => l.reason)).toEqual(['MESSAGE_TOO_LARGE']);
  });

  it('writes to its path when given one, and declares the keys it remembers', async () => {
    await fileDeadLetterSpec.load?.();
    const path = join(tmp.dir, 'elsewhere', 'dl.jsonl');
    const options = fileDeadLetterSpec.options.parse({ path });
    const dl = fileDeadLetterSpec.create(options, {
      name: 'dead-letter',
      dataDir: join(tmp.dir, 'dead-letter'),
      host: 'h',
      logger: silentLogger(),
    });
    await dl.open();
    await dl.write([{ reason: 'no route', event: makeEvent() }]);
    await dl.close();
    expect(lines(path)).toHaveLength(1);
    expect(existsSync(join(tmp.dir, 'dead-letter', 'dead-letter.jsonl'))).toBe(false);
    expect(fileDeadLetterSpec.memory?.(options)).toEqual([{ what: 'remembered entries (200,000 keys)', bytes: 200_000 * 64 }]);
  });

  it('keeps a file per collector worker after the first: two processes never append to one file', async () => {
    await fileDeadLetterSpec.load?.();
    const dir = join(tmp.dir, 'dead-letter');
    const ctx = { name: 'dead-letter', dataDir: dir, host: 'h', logger: silentLogger() };
    const given = join(tmp.dir, 'dl.jsonl');
    for (const [options, worker] of [
      [{}, 0],
      [{}, 2],
      [{ path: given }, 0],
      [{ path: given }, 3],
    ] as const) {
      const dl = fileDeadLetterSpec.create(fileDeadLetterSpec.options.parse(options), { ...ctx, worker });
      await dl.open();
      await dl.write([{ reason: `worker ${worker}`, event: makeEvent() }]);
      await dl.close();
    }
    expect(lines(join(dir, 'dead-letter.jsonl')).map((l) => l.reason)).toEqual(['worker 0']);
    expect(lines(join(dir, 'dead-letter.worker-2.jsonl')).map((l) => l.reason)).toEqual(['worker 2']);
    expect(lines(given).map((l) => l.reason)).toEqual(['worker 0']);
    expect(lines(join(tmp.dir, 'dl.worker-3.jsonl')).map((l) => l.reason)).toEqual(['worker 3']);
  });

  it('rejects unknown options', () => {
    expect(fileDeadLetterSpec.options.safeParse({ topic: 'x' }).success).toBe(false);
  });
});
