import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogEvent } from '../../core/event.js';
import { type Logger, silentLogger } from '../../core/log.js';
import { decodeEvent } from '../../core/wire.js';
import { captureLogger } from '../../test/support/index.js';
import { WriteJournal } from './journal.js';
import { FileSink } from './file-sink.js';
import { fileSinkOptions, type FileSinkInput } from './index.js';
import { gzipMember } from './gzip.js';

let dir: string;
let root: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-file-sink-'));
  root = join(dir, 'out');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

let seq = 0;
function ev(over: Partial<LogEvent> & { at?: string } = {}): LogEvent {
  const { at, ...rest } = over;
  seq++;
  return {
    id: `id-${seq}`,
    timestamp: Date.parse(at ?? '2024-05-01T12:00:00Z'),
    message: `line ${seq}`,
    service: 'shop',
    module: 'web',
    host: 'h1',
    source: { kind: 'test' },
    fields: {},
    ...rest,
  };
}

function sink(options: FileSinkInput = {}, logger: Logger = silentLogger()): FileSink {
  return new FileSink(fileSinkOptions.parse({ root, idle_timeout: 0, roll_age: 0, ...options }), { name: 'files', logger });
}

/** Every file under root, relative, with its content. */
function tree(base = root): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(base, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(base);
  return out;
}

describe('file sink: partitioning', () => {
  it('writes mixed services, modules and days into their own files, in order', async () => {
    const s = sink();
    await s.open();
    const a = ev({ service: 'shop', module: 'web', at: '2024-05-01T23:59:59.999Z' });
    const b = ev({ service: 'shop', module: 'api', at: '2024-05-01T10:00:00Z' });
    const c = ev({ service: 'billing', module: 'web', host: 'h2', at: '2024-05-02T00:00:00Z' });
    const d = ev({ service: 'shop', module: 'web', at: '2024-05-02T00:00:00.001Z' });
    const e = ev({ service: 'shop', module: 'web', at: '2024-05-01T01:00:00Z', message: 'multi\n\tline' });
    await s.write([a, b, c, d]);
    await s.write([e]);
    expect(s.openFiles).toBe(4);
    await s.close();
    expect(tree()).toEqual({
      'shop/web/2024-05-01/h1.000001.log': `${a.message}\nmulti\n\tline\n`,
      'shop/api/2024-05-01/h1.000001.log': `${b.message}\n`,
      'billing/web/2024-05-02/h2.000001.log': `${c.message}\n`,
      'shop/web/2024-05-02/h1.000001.log': `${d.message}\n`,
    });
  });

  it('puts events either side of local midnight on their local day (Asia/Kolkata, America/Los_Angeles on a DST day)', async () => {
    const s = sink({ time_zone: 'Asia/Kolkata', path: '%Y-%m-%d/{service}.log' });
    await s.open();
    await s.write([ev({ at: '2024-03-01T18:29:59.999Z', message: 'before' }), ev({ at: '2024-03-01T18:30:00Z', message: 'after' })]);
    await s.close();
    expect(tree()).toEqual({ '2024-03-01/shop.000001.log': 'before\n', '2024-03-02/shop.000001.log': 'after\n' });

    rmSync(root, { recursive: true });
    // 2024-03-10 is 23 hours long in Los Angeles: midnight is 08:00Z, the next one 07:00Z.
    const la = sink({ time_zone: 'America/Los_Angeles', path: '%Y-%m-%d/{service}.log' });
    await la.open();
    await la.write(
      ['2024-03-10T07:59:59Z', '2024-03-10T08:00:00Z', '2024-03-11T06:59:59Z', '2024-03-11T07:00:00Z'].map((at) => ev({ at, message: at })),
    );
    await la.close();
    expect(tree()).toEqual({
      '2024-03-09/shop.000001.log': '2024-03-10T07:59:59Z\n',
      '2024-03-10/shop.000001.log': '2024-03-10T08:00:00Z\n2024-03-11T06:59:59Z\n',
      '2024-03-11/shop.000001.log': '2024-03-11T07:00:00Z\n',
    });
  });

  it('keeps path traversal attempts in service, module and host inside root as one segment each', async () => {
    const s = sink();
    await s.open();
    await s.write([
      ev({ service: '../../escape', module: '..', host: '/etc/passwd', message: 'one' }),
      ev({ service: '..\\..\\win', module: 'a/b', host: '.hidden', message: 'two' }),
      ev({ service: '', module: 'nul\u0000\nctl', host: '..', message: 'three' }),
    ]);
    await s.close();
    expect(readdirSync(dir)).toEqual(['out']);
    expect(tree()).toEqual({
      '______escape/__/2024-05-01/_etc_passwd.000001.log': 'one\n',
      '______win/a_b/2024-05-01/_hidden.000001.log': 'two\n',
      'unknown/nul__ctl/2024-05-01/__.000001.log': 'three\n',
    });
  });

  it('refuses to follow a symlink planted in the tree out of root: its events are refused, the others written', async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    mkdirSync(root);
    execFileSync('ln', ['-s', outside, join(root, 'shop')]);
    const s = sink();
    await s.open();
    const linked = ev({ message: 'linked' });
    const { refused, retry } = await s.write([linked, ev({ service: 'bank', message: 'fine' })]);
    await s.close();
    expect(retry).toEqual([]);
    expect(refused.map((r) => r.event)).toEqual([linked]);
    expect(refused[0]!.reason).toMatch(/^path "shop\/web\/2024-05-01\/h1.log" under .* refused: .*shop: it is a symbolic link/);
    expect(readdirSync(outside)).toEqual([]);
    expect(readdirSync(root).sort()).toEqual(['bank', 'shop']);
    expect(tree(join(root, 'bank'))).toEqual({ 'web/2024-05-01/h1.000001.log': 'fine\n' });
  });

  it('refuses only the events of a service whose directory is a plain file; every other event is written once', async () => {
    const dataDir = join(dir, 'state');
    // Two files open at a time: the batch goes in waves, so a refusal in one wave leaves the others journaled.
    const options = fileSinkOptions.parse({ root, path: '{service}/{host}.log', idle_timeout: 0, roll_age: 0, max_open_files: 2 });
    const s = new FileSink(options, { name: 'files', logger: silentLogger(), dataDir });
    await s.open();
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'a'), 'in the way');
    const batch: LogEvent[] = [];
    for (let i = 0; i < 300; i++) batch.push(ev({ service: ['a', 'b', 'c'][i % 3]!, host: `h${i % 2}`, message: `m${i}` }));
    const first = await s.write(batch);
    expect(first.retry).toEqual([]);
    const ids = (events: LogEvent[]) => events.map((e) => e.id).sort();
    expect(ids(first.refused.map((r) => r.event))).toEqual(ids(batch.filter((e) => e.service === 'a')));
    for (const r of first.refused) expect(r.reason).toContain(`refusing to write under ${join(root, 'a')}: it is not a directory`);
    // A redelivery (the batch was not acked yet, say): the written events are skipped, the refused ones refused again.
    const again = await s.write(batch);
    expect(again.refused).toHaveLength(100);
    await s.close();
    const lines = Object.entries(tree())
      .filter(([path]) => path !== 'a')
      .flatMap(([, text]) => text.trimEnd().split('\n'));
    expect(lines.sort()).toEqual(
      batch
        .filter((e) => e.service !== 'a')
        .map((e) => e.message)
        .sort(),
    );
    expect(readFileSync(join(root, 'a'), 'utf8')).toBe('in the way');
  });

  it('writes JSON lines with every field in the wire format', async () => {
    const s = sink({ encoding: 'json' });
    await s.open();
    const events = [ev({ fields: { user: 'u1', n: 3 }, message: 'a "quoted"\nmessage' }), ev()];
    await s.write(events);
    await s.close();
    const lines = tree()['shop/web/2024-05-01/h1.000001.log']!.trimEnd().split('\n');
    expect(lines.map((l) => decodeEvent(l))).toEqual(events);
  });
});

describe('file sink: one tree per sink', () => {
  it('refuses to open on a root another open sink uses, or one inside or around it; opens once that one closed', async () => {
    const named = (name: string, at: string) =>
      new FileSink(fileSinkOptions.parse({ root: at, idle_timeout: 0, roll_age: 0 }), { name, logger: silentLogger() });
    const first = named('archive', root);
    await first.open();
    for (const at of [root, join(root, 'shop'), dir]) {
      await expect(named('archive2', at).open()).rejects.toThrow(
        `sink archive2: root ${at} overlaps the root ${root} of sink archive: each would take the other's in-progress files for its own`,
      );
    }
    const beside = named('beside', join(dir, 'other'));
    await beside.open();
    await first.close();
    const second = named('archive2', root);
    await second.open();
    await second.close();
    await beside.close();
  });
});

describe('file sink: rolling', () => {
  const inProgress = '.h1.000001.log.inprogress';
  const dayDir = () => join(root, 'shop/web/2024-05-01');

  it('rolls by size after the batch that reaches it, numbering the files', async () => {
    const s = sink({ roll_size: '20B' });
    await s.open();
    await s.write([ev({ message: 'aaaaaaaaa' })]); // 10 bytes
    expect(readdirSync(dayDir())).toEqual([inProgress]);
    await s.write([ev({ message: 'bbbbbbbbb' })]); // 20: finished
    await s.write([ev({ message: 'ccccccccccccccccccccccccc' })]); // one batch over the limit stays whole
    await s.write([ev({ message: 'd' })]);
    await s.close();
    expect(tree()).toEqual({
      'shop/web/2024-05-01/h1.000001.log': 'aaaaaaaaa\nbbbbbbbbb\n',
      'shop/web/2024-05-01/h1.000002.log': 'ccccccccccccccccccccccccc\n',
      'shop/web/2024-05-01/h1.000003.log': 'd\n',
    });
  });

  it('rolls by age and by idleness; a later event opens the next number, never the finished file', async () => {
    const s = sink({ roll_age: '60s', idle_timeout: '10s' });
    await s.open();
    const t0 = Date.now();
    await s.write([ev({ message: 'a1' }), ev({ service: 'idle', message: 'i1' })]);
    // "idle" was last written by now; every write after the pause is stamped later. Taking
    // the roll time from these two marks, not from a Date.now() after the writes, keeps a
    // slow machine from making "shop" look idle too (it did under CI load).
    const idleWritten = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await s.rollExpired(t0 + 5_000);
    expect(s.openFiles).toBe(2);
    for (let i = 0; i < 3; i++) await s.write([ev({ message: `a${i + 2}` })]);
    await s.rollExpired(idleWritten + 10_001); // "idle" has been idle for 10 s; "shop" was written 5 ms or more later
    expect(s.openFiles).toBe(1);
    expect(readdirSync(join(root, 'idle/web/2024-05-01'))).toEqual(['h1.000001.log']);
    await s.rollExpired(t0 + 60_000); // "shop" reached its age although it is busy
    expect(s.openFiles).toBe(0);
    await s.write([ev({ message: 'a5' }), ev({ service: 'idle', message: 'i2' })]);
    await s.close();
    expect(tree()).toEqual({
      'shop/web/2024-05-01/h1.000001.log': 'a1\na2\na3\na4\n',
      'shop/web/2024-05-01/h1.000002.log': 'a5\n',
      'idle/web/2024-05-01/h1.000001.log': 'i1\n',
      'idle/web/2024-05-01/h1.000002.log': 'i2\n',
    });
  });

  it('finishes idle files from its own timer', async () => {
    const s = sink({ idle_timeout: '60ms' });
    await s.open();
    await s.write([ev({ message: 'x' })]);
    const deadline = Date.now() + 10_000;
    while (!readdirSync(dayDir()).includes('h1.000001.log') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(readdirSync(dayDir())).toEqual(['h1.000001.log']);
    expect(s.openFiles).toBe(0);
    await s.close();
  });

  it('keeps at most max_open_files open, finishing the least recently written first', async () => {
    const s = sink({ max_open_files: 2 });
    await s.open();
    await s.write([ev({ host: 'a' })]);
    await s.write([ev({ host: 'b' })]);
    await s.write([ev({ host: 'a' })]);
    await s.write([ev({ host: 'c' })]); // b is least recently written
    expect(readdirSync(dayDir()).sort()).toEqual(['.a.000001.log.inprogress', '.c.000001.log.inprogress', 'b.000001.log']);
    await s.write([ev({ host: 'd' }), ev({ host: 'e' }), ev({ host: 'f' })]); // more paths than may be open: in waves
    expect(s.openFiles).toBe(2);
    await s.close();
    expect(Object.keys(tree()).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f'].map((h) => `shop/web/2024-05-01/${h}.000001.log`));
  });
});

describe('file sink: a failed batch', () => {
  it('is cut back out of every file it touched, so its retry writes each line once', async () => {
    const s = sink();
    await s.open();
    await s.write([ev({ host: 'a', message: 'a1' }), ev({ host: 'b', message: 'b1' })]);
    // The disk fails for b: its descriptor is closed behind the sink's back.
    const files = (s as unknown as { files: Map<string, { handle: { close(): Promise<void> } }> }).files;
    await files.get('shop/web/2024-05-01/b.log')!.handle.close();
    const batch = [ev({ host: 'a', message: 'a2' }), ev({ host: 'b', message: 'b2' })];
    await expect(s.write(batch)).rejects.toThrow(
      /sink files: writing .*\.b\.000001\.log\.inprogress failed .* cut back out of every file it touched/,
    );
    expect(readFileSync(join(root, 'shop/web/2024-05-01/.a.000001.log.inprogress'), 'utf8')).toBe('a1\n');
    await s.write(batch); // the collector's retry
    await s.close();
    // b's broken file was let go in progress; the next start finishes it.
    const again = sink();
    await again.open();
    await again.close();
    expect(tree()).toEqual({
      'shop/web/2024-05-01/a.000001.log': 'a1\na2\n',
      'shop/web/2024-05-01/b.000001.log': 'b1\n',
      'shop/web/2024-05-01/b.000002.log': 'b2\n',
    });
  });
});

describe('file sink with its write journal: a failed batch', () => {
  it('is written by the retry exactly once: the journaled wave is skipped, the failed one written', async () => {
    const dataDir = join(dir, 'state');
    const options = fileSinkOptions.parse({ root, idle_timeout: 0, roll_age: 0, max_open_files: 1 });
    const s = new FileSink(options, { name: 'files', logger: silentLogger(), dataDir });
    await s.open();
    // One file open at a time: the batch goes in two waves, web (journaled) then api, whose write fails (EIO, faked).
    const internals = s as unknown as { append(file: unknown, lines: string[]): Promise<void> };
    const append = internals.append.bind(s);
    internals.append = async (file, lines) => {
      if (lines[0] === 'p1') throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      return append(file, lines);
    };
    const batch = [ev({ message: 'w1' }), ev({ module: 'api', message: 'p1' }), ev({ message: 'w2' })];
    await expect(s.write(batch)).rejects.toThrow(/EIO/);
    internals.append = append;
    await s.write(batch); // the collector's retry
    await s.write(batch); // and a redelivery after it: all skipped
    await s.close();
    const expected = {
      'shop/web/2024-05-01/h1.000001.log': 'w1\nw2\n',
      'shop/api/2024-05-01/h1.000001.log': 'p1\n',
    };
    expect(tree()).toEqual(expected);
    const again = new FileSink(options, { name: 'files', logger: silentLogger(), dataDir });
    await again.open();
    await again.write(batch); // after a restart too
    await again.close();
    expect(tree()).toEqual(expected);
  });
});

describe('file sink with its write journal: a file that cannot be finished', () => {
  it('keeps the batch that filled it written once, and finishes the file on the next start', async () => {
    const dataDir = join(dir, 'state');
    const options = fileSinkOptions.parse({ root, idle_timeout: 0, roll_age: 0, roll_size: '20B' });
    const s = new FileSink(options, { name: 'files', logger: silentLogger(), dataDir });
    await s.open();
    await s.write([ev({ message: 'aaaaaaaaa' })]);
    // The file's final name is taken (by a directory, as a failing rename would be): finishing it fails.
    const blocked = join(root, 'shop/web/2024-05-01/h1.000001.log');
    mkdirSync(blocked);
    const batch = [ev({ message: 'bbbbbbbbb' })]; // 20 bytes: the file is rolled
    await s.write(batch);
    await s.write(batch); // a redelivery: skipped, not written into a new file
    await s.close();
    expect(tree()).toEqual({ 'shop/web/2024-05-01/.h1.000001.log.inprogress': 'aaaaaaaaa\nbbbbbbbbb\n' });
    rmdirSync(blocked);
    const again = new FileSink(options, { name: 'files', logger: silentLogger(), dataDir });
    await again.open();
    await again.close();
    expect(tree()).toEqual({ 'shop/web/2024-05-01/h1.000001.log': 'aaaaaaaaa\nbbbbbbbbb\n' });
  });
});

describe('file sink: a file whose finish fails on a roll tick', () => {
  it('keeps it in progress and finishes it on a later tick', async () => {
    const dataDir = join(dir, 'state');
    const options = fileSinkOptions.parse({ root, idle_timeout: '10s', roll_age: 0 });
    const s = new FileSink(options, { name: 'files', logger: silentLogger(), dataDir });
    await s.open();
    await s.write([ev({ message: 'one' })]);
    // Its final name is taken (by a directory, as a failing rename would be).
    const blocked = join(root, 'shop/web/2024-05-01/h1.000001.log');
    mkdirSync(blocked);
    await s.rollExpired(Date.now() + 20_000);
    expect(s.openFiles).toBe(0);
    expect(readdirSync(join(root, 'shop/web/2024-05-01')).sort()).toEqual(['.h1.000001.log.inprogress', 'h1.000001.log']);
    rmdirSync(blocked);
    await s.rollExpired(Date.now() + 20_000);
    expect(tree()).toEqual({ 'shop/web/2024-05-01/h1.000001.log': 'one\n' });
    await s.close();
    const journal = await WriteJournal.open(join(dataDir, 'journal'), 1000);
    expect([...journal.lengths]).toEqual([]);
    await journal.close();
  });
});

describe('file sink with its write journal: finished files', () => {
  it('are left out of the journal after a clean stop, and after a start that finds them gone', async () => {
    const dataDir = join(dir, 'state');
    const options = fileSinkOptions.parse({ root, idle_timeout: 0, roll_age: 0 });
    const s = new FileSink(options, { name: 'files', logger: silentLogger(), dataDir });
    await s.open();
    await s.write([ev({ message: 'one' })]);
    await s.close();
    const journalDir = join(dataDir, 'journal');
    const after = await WriteJournal.open(journalDir, 1000);
    expect([...after.lengths]).toEqual([]);
    // A run that stopped after finishing a file and before writing that down.
    await after.commit([{ path: 'shop/web/2024-05-01/.h1.000009.log.inprogress', length: 4 }], new Uint32Array(0));
    await after.close();
    const again = new FileSink(options, { name: 'files', logger: silentLogger(), dataDir });
    await again.open();
    await again.close();
    const last = await WriteJournal.open(journalDir, 1000);
    expect([...last.lengths]).toEqual([]);
    await last.close();
    expect(tree()).toEqual({ 'shop/web/2024-05-01/h1.000001.log': 'one\n' });
  });
});

describe('file sink: gzip', () => {
  it('writes gzip members that zcat reads while the file is in progress and after it is finished', async () => {
    const s = sink({ compression: 'gzip' });
    await s.open();
    await s.write([ev({ message: 'one' }), ev({ message: 'two' })]);
    await s.write([ev({ message: 'three' })]);
    const open = join(root, 'shop/web/2024-05-01/.h1.000001.log.gz.inprogress');
    expect(execFileSync('zcat', [open], { encoding: 'utf8' })).toBe('one\ntwo\nthree\n');
    await s.write([ev({ message: 'four' })]);
    await s.close();
    expect(execFileSync('zcat', [join(root, 'shop/web/2024-05-01/h1.000001.log.gz')], { encoding: 'utf8' })).toBe(
      'one\ntwo\nthree\nfour\n',
    );
  });
});

describe('file sink: recovery', () => {
  it('finishes in-progress files left by a crash: partial line cut off, gzip torn member cut off, empty file removed', async () => {
    const d = join(root, 'shop/web/2024-05-01');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, '.h1.000001.log.inprogress'), 'whole 1\nwhole 2\npart');
    const members = Buffer.concat([await gzipMember(Buffer.from('g1\n'), 6), await gzipMember(Buffer.from('g2\n'), 6)]);
    const torn = await gzipMember(Buffer.from('g3 never acknowledged\n'), 6);
    writeFileSync(join(d, '.h2.000001.log.gz.inprogress'), Buffer.concat([members, torn.subarray(0, torn.length - 3)]));
    writeFileSync(join(d, '.h3.000001.log.inprogress'), 'no newline at all');
    // A foreign gzip member (no length field) is not ours to trust: cut.
    writeFileSync(join(d, '.h4.000001.log.gz.inprogress'), gzipSync('x\n'));
    const s = sink();
    await s.open();
    await s.write([ev({ message: 'new' })]);
    await s.close();
    const files = tree();
    expect(Object.keys(files).sort()).toEqual([
      'shop/web/2024-05-01/h1.000001.log',
      'shop/web/2024-05-01/h1.000002.log',
      'shop/web/2024-05-01/h2.000001.log.gz',
    ]);
    expect(files['shop/web/2024-05-01/h1.000001.log']).toBe('whole 1\nwhole 2\n');
    expect(files['shop/web/2024-05-01/h1.000002.log']).toBe('new\n');
    expect(execFileSync('zcat', [join(d, 'h2.000001.log.gz')], { encoding: 'utf8' })).toBe('g1\ng2\n');
    expect(statSync(join(d, 'h2.000001.log.gz')).size).toBe(members.length);
  });
});

describe('file sink: retention', () => {
  it('deletes only day directories older than the days kept, in the sink time zone, and logs each', async () => {
    const days = ['2024-04-25', '2024-04-28', '2024-04-29', '2024-04-30', '2024-05-01', '2024-05-02'];
    const makeDays = () => {
      for (const service of ['shop', 'billing']) for (const day of days) mkdirSync(join(root, service, 'web', day), { recursive: true });
    };
    makeDays();
    mkdirSync(join(root, 'shop/web/not-a-day'));
    mkdirSync(join(root, 'shop/web/2024-02-30'));
    writeFileSync(join(root, 'shop/web/2024-04-25/h1.000001.log'), 'old\n');
    const s = sink({ retention_days: 3, time_zone: 'Asia/Kolkata' });
    // Its first pass runs against the real clock, years past the newest day: the last three
    // days with data stay.
    await s.open();
    expect(Object.keys(tree())).toEqual([]);
    expect(readdirSync(join(root, 'shop/web')).sort()).toEqual(['2024-02-30', '2024-04-30', '2024-05-01', '2024-05-02', 'not-a-day']);
    makeDays();
    // 2024-05-01T20:00Z is May 2nd in Kolkata (May 1st in UTC): keep May 2nd, May 1st, April 30th.
    const deleted = await s.applyRetention(Date.parse('2024-05-01T20:00:00Z'));
    expect(deleted.map((d) => relative(root, d)).sort()).toEqual(
      ['billing', 'shop'].flatMap((sv) => ['2024-04-25', '2024-04-28', '2024-04-29'].map((day) => `${sv}/web/${day}`)),
    );
    expect(readdirSync(join(root, 'shop/web')).sort()).toEqual(['2024-02-30', '2024-04-30', '2024-05-01', '2024-05-02', 'not-a-day']);
    await s.close();
  });

  it('keeps the newest days of data when the clock is ahead of them, and a future-dated day does not move the cut', async () => {
    for (const day of ['2024-04-28', '2024-04-29', '2024-04-30', '2024-05-01', '2099-01-01'])
      mkdirSync(join(root, 'shop/web', day), { recursive: true });
    const { logger, lines } = captureLogger();
    const s = sink({ retention_days: 2 }, logger);
    await s.open();
    // The clock (2026) is years past the data: 2024-05-01 and the day before it stay, as does
    // the day of an event from a clock far ahead.
    expect(readdirSync(join(root, 'shop/web')).sort()).toEqual(['2024-04-30', '2024-05-01', '2099-01-01']);
    const warn = lines.find((l) => String(l.msg).startsWith('retention: fewer days with data than retention_days'));
    expect(warn).toMatchObject({ oldest_kept: '2024-04-30', held_back: 2, retention_days: 2 });
    // With the clock on the data's day, the cut is the clock's.
    expect((await s.applyRetention(Date.parse('2024-05-01T12:00:00Z'))).map((d) => relative(root, d))).toEqual([]);
    mkdirSync(join(root, 'shop/web/2024-05-04'));
    mkdirSync(join(root, 'shop/web/2024-05-05'));
    expect((await s.applyRetention(Date.parse('2024-05-05T12:00:00Z'))).map((d) => relative(root, d))).toEqual([
      'shop/web/2024-04-30',
      'shop/web/2024-05-01',
    ]);
    await s.close();
  });

  it('with events put in the day of their arrival on a clock far ahead, the days of data still go one a day, not all at once', async () => {
    for (const day of ['2024-04-28', '2024-04-29', '2024-04-30', '2024-05-01']) mkdirSync(join(root, 'shop/web', day), { recursive: true });
    const s = sink({ retention_days: 3, max_event_age: '1d' });
    // Collector and sink open on a clock 30 days ahead: every event is "too old" and lands in
    // the clock's day, which is then the newest day with data.
    const ahead = Date.parse('2024-05-31T12:00:00Z');
    mkdirSync(join(root, 'shop/web/2024-05-31'));
    expect((await s.applyRetention(ahead)).map((d) => relative(root, d)).sort()).toEqual(['shop/web/2024-04-28', 'shop/web/2024-04-29']);
    expect(readdirSync(join(root, 'shop/web')).sort()).toEqual(['2024-04-30', '2024-05-01', '2024-05-31']);
    mkdirSync(join(root, 'shop/web/2024-06-01'));
    expect((await s.applyRetention(ahead + 86_400_000)).map((d) => relative(root, d))).toEqual(['shop/web/2024-04-30']);
  });

  it('rejects retention when the path has no day directory', () => {
    const r = fileSinkOptions.safeParse({ path: '{service}/%Y-%m-%d.log', retention_days: 7 });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/retention_days needs a day directory .* its time format is in the file name/);
    expect(fileSinkOptions.safeParse({ path: '{service}/../x.log' }).error!.issues[0]!.message).toMatch(/segment "\.\." is not allowed/);
    expect(fileSinkOptions.safeParse({ path: '/abs/{service}.log' }).error!.issues[0]!.message).toMatch(/must be relative to root/);
    expect(fileSinkOptions.safeParse({ time_zone: 'Nowhere/City' }).error!.issues[0]!.message).toMatch(/unknown time zone/);
  });
});
