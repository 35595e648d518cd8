import { appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureLogger, tempDir, waitFor } from '../../../test/support/index.js';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FileEventIds } from '../../../core/event-id.js';
import { type Logger, silentLogger } from '../../../core/log.js';
import { metrics } from '../../../core/metrics.js';
import type { ComponentContext } from '../../../core/pipeline.js';
import { RecordingChannel } from '../file/testing.js';
import { criLines, dockerConfig, dockerLines, dockerRecord, SPLIT } from './fixtures.js';
import { dockerSourceOptions, dockerSourceSpec, type DockerSourceInput } from './index.js';
import type { DockerSource } from './source.js';

let dir: string;
let cleanup: () => Promise<void>;
const running: DockerSource[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('docker'));
});
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  await cleanup();
});

async function start(
  options: DockerSourceInput,
  ch: RecordingChannel,
  name = 'containers',
  logger: Logger = silentLogger(),
): Promise<DockerSource> {
  const dataDir = join(dir, 'data', name);
  mkdirSync(dataDir, { recursive: true });
  const ctx: ComponentContext = { name, logger, dataDir, host: 'node-1' };
  const parsed = dockerSourceOptions.parse({
    poll_interval: '20ms',
    rescan_interval: '100ms',
    rotate_wait: '200ms',
    checkpoint_interval: '50ms',
    ...options,
  });
  await dockerSourceSpec.load?.();
  const s = dockerSourceSpec.create(parsed, ctx) as DockerSource;
  running.push(s);
  await s.start(ch);
  return s;
}

async function stop(s: DockerSource): Promise<void> {
  running.splice(running.indexOf(s), 1);
  await s.stop();
}

const ID = 'a1b2c3d4e5f6'.padEnd(64, '0');

function dockerContainer(id = ID, labels: Record<string, string> = {}, name = 'shop-api-1', image = 'shop/api:1.4'): string {
  const cdir = join(dir, 'containers', id);
  mkdirSync(cdir, { recursive: true });
  writeFileSync(join(cdir, 'config.v2.json'), dockerConfig(id, name, image, labels));
  return join(cdir, `${id}-json.log`);
}

async function counter(name: string, component = 'containers'): Promise<number> {
  const m = await metrics.getSingleMetric(name)!.get();
  return m.values.filter((v) => v.labels.component === component).reduce((a, v) => a + v.value, 0);
}

const dockerInclude = () => ({ include: [join(dir, 'containers/*/*-json.log'), join(dir, 'containers/*/*-json.log.[0-9]*')] });

describe('docker json-file', () => {
  test('interleaved streams, 16 KiB splits with a cut character, runtime time, metadata, ids from the first record', async () => {
    const log = dockerContainer(ID, { 'com.docker.compose.service': 'api', 'sluice.module': 'checkout', team: 'payments' });
    // 3-byte "€" straddling the 16 KiB cut: 2 bytes end the first piece, 1 starts the second.
    const long = `${'a'.repeat(SPLIT - 2)}€${'b'.repeat(SPLIT + 100)}end`;
    const times: number[] = [];
    const outTimes: number[] = [];
    let text = dockerLines('hello out', 'stdout', outTimes);
    const longStart = Buffer.byteLength(text);
    const longLines = dockerLines(long, 'stdout', times);
    const [p1, p2, p3] = longLines.trimEnd().split('\n');
    const errTimes: number[] = [];
    const err = dockerLines('oops on stderr <&>', 'stderr', errTimes);
    // stderr's line lands between the pieces of stdout's long line: the streams are copied concurrently.
    text += `${p1}\n${err}${p2}\n${p3}\n`;
    writeFileSync(log, text);
    expect(p1!.endsWith(`\\ufffd\\ufffd","stream":"stdout","time":"${JSON.parse(p1!).time}"}`)).toBe(true);

    const ch = new RecordingChannel();
    await start(dockerInclude(), ch);
    await waitFor('3 events', () => ch.events.length === 3);
    const [hello, oops, big] = ch.events;
    expect(hello!.message).toBe('hello out');
    expect(oops!.message).toBe('oops on stderr <&>');
    // Docker wrote each byte of the cut "€" as U+FFFD: the character is lost upstream, nothing else is.
    expect(big!.message).toBe(`${'a'.repeat(SPLIT - 2)}\ufffd\ufffd\ufffd${'b'.repeat(SPLIT + 100)}end`);
    expect(big!.timestamp).toBe(times[0]);
    expect(oops!.timestamp).toBe(errTimes[0]);
    expect(hello!.timestamp).toBe(outTimes[0]);
    expect([hello!.source.stream, oops!.source.stream, big!.source.stream]).toEqual(['stdout', 'stderr', 'stdout']);
    const ids = new FileEventIds(big!.source.fileId!);
    expect(big!.id).toBe(ids.id(longStart));
    expect(big!.source).toMatchObject({ kind: 'docker', container: ID, offset: longStart, path: log });
    expect(big!.service).toBe('api');
    expect(big!.module).toBe('checkout');
    expect(big!.fields).toEqual({
      'container.id': ID,
      'container.name': 'shop-api-1',
      'container.image': 'shop/api:1.4',
      'container.labels': { 'com.docker.compose.service': 'api', 'sluice.module': 'checkout', team: 'payments' },
    });
    expect(big!.host).toBe('node-1');
  });

  test('rotation <id>-json.log -> <id>-json.log.1: every line once, in order', async () => {
    const log = dockerContainer();
    // Compressed rotations match the include glob; the default exclude keeps them out.
    writeFileSync(`${log}.5.gz`, dockerLines('inside a gzip', 'stdout'));
    const ch = new RecordingChannel();
    await start(dockerInclude(), ch);
    const expected: string[] = [];
    for (let gen = 0; gen < 3; gen++) {
      for (let i = 0; i < 200; i++) {
        const stream = i % 3 === 0 ? 'stderr' : 'stdout';
        const m = `gen ${gen} line ${i} ${stream}`;
        expected.push(m);
        appendFileSync(log, dockerLines(m, stream));
      }
      // Docker's rotation (max-size, max-file=4): the older copies move up, the live file becomes .1.
      for (let k = gen; k >= 1; k--) renameSync(`${log}.${k}`, `${log}.${k + 1}`);
      renameSync(log, `${log}.1`);
      writeFileSync(log, '');
      if (gen === 0) await waitFor('the first events', () => ch.events.length > 0);
    }
    await waitFor(`${expected.length} events`, () => ch.events.length >= expected.length);
    await new Promise((r) => setTimeout(r, 300));
    // Files are read in turn, so generations may interleave; within a file the order is the file's.
    expect([...ch.messages()].sort()).toEqual([...expected].sort());
    for (let gen = 0; gen < 3; gen++) {
      const mine = (m: string) => m.startsWith(`gen ${gen} `);
      expect(ch.messages().filter(mine)).toEqual(expected.filter(mine));
    }
    expect(new Set(ch.events.map((e) => e.id)).size).toBe(expected.length);
  });

  test('malformed lines are emitted raw, flagged, counted; the good lines around them are kept', async () => {
    const log = dockerContainer();
    const before = await counter('sluice_docker_source_malformed_lines_total');
    const good1 = dockerLines('first', 'stdout');
    const broken = '{"log":"half a record","stream":"std';
    const noLog = '{"stream":"stdout","time":"2024-05-01T12:00:00Z"}';
    const good2 = dockerLines('second', 'stderr');
    writeFileSync(log, `${good1}${broken}\n${noLog}\n\n${good2}`);
    const ch = new RecordingChannel();
    await start(dockerInclude(), ch);
    await waitFor('5 events', () => ch.events.length === 5);
    expect(ch.messages()).toEqual(['first', broken, noLog, '', 'second']);
    expect(ch.events.map((e) => e.fields['log.malformed'])).toEqual([
      undefined,
      'not valid JSON',
      'JSON without string "log", "stream" and "time"',
      'empty line',
      undefined,
    ]);
    expect(ch.events[1]!.source.offset).toBe(Buffer.byteLength(good1));
    expect(await counter('sluice_docker_source_malformed_lines_total')).toBe(before + 3);
  });

  test('a split line held at a checkpoint is read again and emitted whole, once, with the same id', async () => {
    const log = dockerContainer();
    const long = 'z'.repeat(SPLIT + 10);
    const [p1, p2] = dockerLines(long, 'stdout').trimEnd().split('\n');
    const head = dockerLines('before', 'stdout') + dockerLines('err 1', 'stderr');
    writeFileSync(log, `${head}${p1}\n${dockerLines('err 2', 'stderr')}`);
    const ch = new RecordingChannel();
    const s = await start({ ...dockerInclude(), partial_line_timeout: 0 }, ch);
    await waitFor('3 events', () => ch.events.length === 3);
    await stop(s);
    expect(ch.messages()).toEqual(['before', 'err 1', 'err 2']);
    // The checkpoint stops at the held piece: after it, err 2 is read again (same id), the long line whole.
    expect(Object.values((ch.checkpoints.at(-1)!.state as { files: object }).files)).toMatchObject([{ pos: Buffer.byteLength(head) }]);
    appendFileSync(log, `${p2}\n`);
    const ch2 = new RecordingChannel(ch.checkpoints.at(-1));
    await start({ ...dockerInclude(), partial_line_timeout: 0 }, ch2);
    await waitFor('2 events', () => ch2.events.length === 2);
    expect(ch2.messages()).toEqual(['err 2', long]);
    expect(ch2.events[0]!.id).toBe(ch.events[2]!.id);
    expect(ch2.events[1]!.source.offset).toBe(Buffer.byteLength(head));
  });

  test('multiline joins after reassembly, per stream', async () => {
    const log = dockerContainer();
    const trace = ['java.lang.IllegalStateException: boom', '\tat a.B.c(B.java:10)', '\tat a.B.main(B.java:3)'];
    let text = dockerLines('ERROR request failed', 'stderr');
    text += dockerLines('INFO unrelated', 'stdout');
    text += dockerLines(trace[0]!, 'stderr') + dockerLines(trace[1]!, 'stderr');
    text += dockerLines('INFO still unrelated', 'stdout');
    text += dockerLines(trace[2]!, 'stderr') + dockerLines('INFO next', 'stderr');
    writeFileSync(log, text);
    const ch = new RecordingChannel();
    await start({ ...dockerInclude(), multiline: { preset: 'java', flush_timeout: '50ms' } }, ch);
    await waitFor('5 events', () => ch.events.length === 5);
    const byStream = (s: string) => ch.events.filter((e) => e.source.stream === s).map((e) => e.message);
    expect(byStream('stdout')).toEqual(['INFO unrelated', 'INFO still unrelated']);
    expect(byStream('stderr')).toEqual(['ERROR request failed', trace.join('\n'), 'INFO next']);
  });

  test('include / exclude by name, image and label; a broken config.v2.json is reported and its logs still read', async () => {
    const ids = ['1', '2', '3', '4'].map((c) => c.repeat(64));
    writeFileSync(dockerContainer(ids[0], { tier: 'web' }, 'web-1', 'nginx:1.27'), dockerLines('web', 'stdout'));
    writeFileSync(
      dockerContainer(ids[1], { tier: 'web', 'sluice.exclude': 'true' }, 'web-2', 'nginx:1.27'),
      dockerLines('excluded by label', 'stdout'),
    );
    writeFileSync(dockerContainer(ids[2], { tier: 'db' }, 'db-1', 'postgres:16'), dockerLines('excluded: no tier=web', 'stdout'));
    const broken = dockerContainer(ids[3]);
    writeFileSync(join(dir, 'containers', ids[3]!, 'config.v2.json'), '{"Name": "/half');
    writeFileSync(broken, dockerLines('no metadata', 'stdout'));
    const errors = await counter('sluice_docker_source_metadata_errors_total');
    const ch = new RecordingChannel();
    await start({ ...dockerInclude(), exclude_labels: ['sluice.exclude=true'], exclude_images: ['^postgres:'] }, ch);
    await waitFor('2 events', () => ch.events.length === 2);
    await new Promise((r) => setTimeout(r, 250));
    expect(ch.messages().sort()).toEqual(['no metadata', 'web']);
    const bare = ch.events.find((e) => e.message === 'no metadata')!;
    expect(bare.fields).toEqual({ 'container.id': ids[3] });
    expect(bare.service).toBe(ids[3]!.slice(0, 12));
    expect(await counter('sluice_docker_source_metadata_errors_total')).toBe(errors + 1);

    const ch2 = new RecordingChannel();
    await start({ ...dockerInclude(), include_labels: ['tier=web'], include_names: ['^web-'] }, ch2, 'only-web');
    await waitFor('2 events', () => ch2.events.length === 2);
    await new Promise((r) => setTimeout(r, 250));
    expect(ch2.messages().sort()).toEqual(['excluded by label', 'web']);
    expect(ch2.events.every((e) => e.service === e.fields['container.name'])).toBe(true);
  });

  test('a line without end on one stream (a progress bar) holds no position: a clean restart emits nothing again', async () => {
    const log = dockerContainer();
    // tqdm's "\r" updates and no "\n": Docker writes a 16 KiB partial record whenever its buffer is full, for hours.
    const bar = (i: number) => `\r${i}% ${'#'.repeat(SPLIT)}`.slice(0, SPLIT);
    let text = '';
    for (let i = 0; i < 20; i++) text += dockerRecord(bar(i), 'stdout') + dockerLines(`err ${i}`, 'stderr');
    writeFileSync(log, text);
    // The file never goes quiet that long while the bar runs.
    const options = { ...dockerInclude(), max_event_bytes: '64KiB', partial_line_timeout: '1min' };
    const ch = new RecordingChannel();
    const s = await start(options, ch);
    await waitFor('the stderr lines', () => ch.messages().includes('err 19'));
    await stop(s);
    appendFileSync(log, dockerLines('after the restart', 'stderr'));
    const ch2 = new RecordingChannel(ch.checkpoints.at(-1));
    await start(options, ch2);
    await waitFor('the new line', () => ch2.messages().includes('after the restart'));
    const before = new Set(ch.events.map((e) => e.id));
    expect(ch2.events.filter((e) => before.has(e.id)).map((e) => e.message)).toEqual([]);
    expect(ch2.messages()).toEqual(['after the restart']);
    // The bar's head was handed on when it reached max_event_bytes, once.
    const out = ch.events.filter((e) => e.source.stream === 'stdout');
    expect(out.map((e) => e.message)).toEqual([bar(0) + bar(1) + bar(2) + bar(3)]);
    expect(out[0]!.fields['log.truncated']).toBe(true);
    expect(out[0]!.source.offset).toBe(0);
  });

  test('a held piece whose stream stays quiet for partial_line_timeout by the runtime clock is emitted while the other stream writes', async () => {
    const log = dockerContainer();
    const t0 = Date.UTC(2024, 4, 1, 13);
    writeFileSync(
      log,
      dockerRecord('progress 1', 'stdout', t0) +
        dockerRecord('a\n', 'stderr', t0 + 10) +
        dockerRecord('b\n', 'stderr', t0 + 3000) +
        dockerRecord('progress 2', 'stdout', t0 + 3010) +
        dockerRecord('c\n', 'stderr', t0 + 3020),
    );
    const ch = new RecordingChannel();
    await start({ ...dockerInclude(), partial_line_timeout: '2s' }, ch);
    await waitFor('4 events', () => ch.events.length >= 4);
    // stdout wrote nothing for 3 s before "b": its piece ended there, whenever it is read.
    expect(ch.messages().slice(0, 4)).toEqual(['a', 'progress 1', 'b', 'c']);
    expect(ch.events[1]!.timestamp).toBe(t0);
  });

  test('NUL bytes a crash left before a record are skipped and counted as malformed; the record is parsed', async () => {
    const log = dockerContainer();
    const before = await counter('sluice_docker_source_malformed_lines_total');
    const times: number[] = [];
    const first = `${'\0'.repeat(4096)}${dockerLines('after the crash', 'stderr', times)}`;
    // A run of NULs ending in a newline holds no record: no event.
    writeFileSync(log, `${first}${'\0'.repeat(100)}\n${dockerLines('next', 'stdout')}`);
    const ch = new RecordingChannel();
    await start(dockerInclude(), ch);
    await waitFor('the next line', () => ch.messages().includes('next'));
    expect(ch.events).toHaveLength(2);
    const [e, next] = ch.events;
    expect(e!.message).toBe('after the crash');
    expect(e!.source).toMatchObject({ stream: 'stderr', offset: 4096 });
    expect(e!.timestamp).toBe(times[0]);
    expect(e!.fields['log.malformed']).toBeUndefined();
    expect(next!.message).toBe('next');
    expect(await counter('sluice_docker_source_malformed_lines_total')).toBe(before + 2);
  });

  test('a malformed line is cut at max_event_bytes and marked; one over the record line limit says what sets the limit', async () => {
    const log = dockerContainer();
    const junk = 'x'.repeat(10_000);
    const huge = `{"log":"${'y'.repeat(200_000)}`;
    writeFileSync(log, `${junk}\n${huge}\n${dockerLines('fine', 'stdout')}`);
    const ch = new RecordingChannel();
    await start({ ...dockerInclude(), max_event_bytes: '2KiB' }, ch);
    await waitFor('3 events', () => ch.events.length === 3);
    const [j, h, fine] = ch.events;
    expect(j!.message.length).toBe(2048);
    expect(j!.message).toBe(junk.slice(0, 2048));
    expect(j!.fields).toMatchObject({ 'log.truncated': true, 'log.malformed': 'neither JSON nor "<time> <stream> <tag> <text>"' });
    expect(h!.message.length).toBe(2048);
    expect(h!.message).toBe(huge.slice(0, 2048));
    expect(h!.fields['log.truncated']).toBe(true);
    expect(h!.fields['log.malformed']).toContain('max_event_bytes');
    expect(h!.fields['log.malformed']).not.toContain('max_line_bytes');
    expect(fine!.message).toBe('fine');
  });

  test('max_event_bytes below the 16 KiB of a record: one event per line, its head, also when escapes make the record 6 times longer', async () => {
    const log = dockerContainer();
    const long = 'a'.repeat(40 * 1024);
    // One record: Docker writes each "<" as "\u003c".
    const escaped = '<'.repeat(SPLIT - 1);
    writeFileSync(log, dockerLines(long, 'stdout') + dockerLines(escaped, 'stdout') + dockerLines('next', 'stdout'));
    const ch = new RecordingChannel();
    await start({ ...dockerInclude(), max_event_bytes: '2KiB' }, ch);
    await waitFor('3 events', () => ch.events.length >= 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(ch.messages()).toEqual([long.slice(0, 2048), escaped.slice(0, 2048), 'next']);
    expect(ch.events.map((e) => e.fields['log.truncated'])).toEqual([true, true, undefined]);
    expect(ch.events.map((e) => e.fields['log.malformed'])).toEqual([undefined, undefined, undefined]);
  });

  test('max_event_bytes below 16 KiB with long_lines: skip: a long line is skipped whole, its last piece too, counted once', async () => {
    const log = dockerContainer();
    const before = await counter('sluice_file_source_skipped_events_total', 'small-skip');
    writeFileSync(
      log,
      dockerLines('a'.repeat(2 * SPLIT + 100), 'stdout') + dockerLines('<'.repeat(SPLIT - 1), 'stdout') + dockerLines('next', 'stdout'),
    );
    const ch = new RecordingChannel();
    await start({ ...dockerInclude(), max_event_bytes: '2KiB', long_lines: 'skip' }, ch, 'small-skip');
    await waitFor('the next line', () => ch.messages().includes('next'));
    await new Promise((r) => setTimeout(r, 200));
    expect(ch.messages()).toEqual(['next']);
    expect(await counter('sluice_file_source_skipped_events_total', 'small-skip')).toBe(before + 2);
  });

  test('a new container whose log starts like a removed one is read from its start, not from where the removed one was left', async () => {
    // Replicas of one image: the first 256 bytes of their logs hold the same first line and no time.
    const banner = `starting shop-api ${'-'.repeat(300)}`;
    const [a, b] = ['a'.repeat(64), 'b'.repeat(64)];
    const logA = dockerContainer(a, {}, 'shop-api-1');
    let textA = dockerLines(banner, 'stdout');
    for (let i = 0; textA.length < 4000; i++) textA += dockerLines(`a line ${i}`, 'stdout');
    writeFileSync(logA, textA);
    const cap = captureLogger();
    const ch = new RecordingChannel();
    await start(dockerInclude(), ch, 'containers', cap.logger);
    await waitFor("A's lines", () => ch.messages().includes('a line 0'));
    rmSync(join(dir, 'containers', a), { recursive: true });
    await waitFor('A let go', () => cap.lines.some((l) => l.msg === 'file let go'));
    const logB = dockerContainer(b, {}, 'shop-api-2');
    const linesB = [banner];
    let textB = dockerLines(banner, 'stdout');
    for (let i = 0; textB.length < 10_000; i++) {
      linesB.push(`b line ${i}`);
      textB += dockerLines(`b line ${i}`, 'stdout');
    }
    // First seen whole, longer than A's position.
    writeFileSync(`${logB}.tmp`, textB);
    renameSync(`${logB}.tmp`, logB);
    await waitFor("B's last line", () => ch.messages().includes(linesB.at(-1)!));
    const fromB = ch.events.filter((e) => e.source.container === b);
    expect(fromB.map((e) => e.message)).toEqual(linesB);
    expect(fromB[0]!.source.offset).toBe(0);
  });

  test('a replica running beside a container whose log starts alike is read at once (not held as its copy)', async () => {
    const banner = `starting shop-api ${'-'.repeat(300)}`;
    const [a, b] = ['c'.repeat(64), 'd'.repeat(64)];
    writeFileSync(dockerContainer(a, {}, 'shop-api-1'), dockerLines(banner, 'stdout'));
    const ch = new RecordingChannel();
    await start({ ...dockerInclude(), rotate_wait: '1min' }, ch);
    await waitFor("A's line", () => ch.events.length === 1);
    const logB = dockerContainer(b, {}, 'shop-api-2');
    writeFileSync(`${logB}.tmp`, dockerLines(banner, 'stdout') + dockerLines('b', 'stdout'));
    renameSync(`${logB}.tmp`, logB);
    await waitFor("B's lines", () => ch.events.length === 3, 5000);
    expect(ch.events.filter((e) => e.source.container === b).map((e) => e.message)).toEqual([banner, 'b']);
  });
});

describe('CRI (containerd, Kubernetes)', () => {
  test('P/F pieces joined as bytes (a character cut between pieces comes out whole), streams and pod metadata', async () => {
    const cdir = join(dir, 'pods', 'shop_api-7d9f-x2x_0b8e6c1a-1111-2222-3333-444455556666', 'server');
    mkdirSync(cdir, { recursive: true });
    const log = join(cdir, '0.log');
    const long = Buffer.from(`${'x'.repeat(SPLIT - 1)}😀${'y'.repeat(SPLIT)}tail`);
    const times: number[] = [];
    const pieces = criLines(long, 'stdout', times).toString('latin1').trimEnd().split('\n');
    expect(pieces.map((p) => p.split(' ')[2])).toEqual(['P', 'P', 'F']);
    const err = criLines('stderr says hi', 'stderr');
    const empty = criLines('', 'stdout');
    writeFileSync(
      log,
      Buffer.concat([
        Buffer.from(`${pieces[0]}\n`, 'latin1'),
        err,
        Buffer.from(`${pieces[1]}\n${pieces[2]}\n`, 'latin1'),
        empty,
        Buffer.from('not a record at all\n'),
      ]),
    );
    const ch = new RecordingChannel();
    await start({ include: [join(dir, 'pods/*/*/*.log')] }, ch);
    await waitFor('4 events', () => ch.events.length === 4);
    const [hi, big, blank, bad] = ch.events;
    expect(hi!.message).toBe('stderr says hi');
    expect(hi!.source.stream).toBe('stderr');
    expect(big!.message).toBe(long.toString('utf8'));
    expect(big!.message).toContain('x😀y');
    expect(big!.timestamp).toBe(times[0]);
    expect(big!.source).toMatchObject({ kind: 'docker', stream: 'stdout', offset: 0, container: 'shop/api-7d9f-x2x/server' });
    expect(blank!.message).toBe('');
    expect(bad!.fields['log.malformed']).toBe('neither JSON nor "<time> <stream> <P|F> <text>"');
    expect(big!.fields).toEqual({
      'kubernetes.namespace': 'shop',
      'kubernetes.pod': 'api-7d9f-x2x',
      'kubernetes.pod_uid': '0b8e6c1a-1111-2222-3333-444455556666',
      'kubernetes.container': 'server',
      'container.name': 'server',
    });
    expect(big!.service).toBe('server');
  });

  test('max_event_bytes cuts a reassembled message at a character boundary and marks it', async () => {
    const cdir = join(dir, 'pods', 'ns_p_u', 'c');
    mkdirSync(cdir, { recursive: true });
    writeFileSync(join(cdir, '0.log'), criLines('é'.repeat(SPLIT * 2), 'stdout'));
    const ch = new RecordingChannel();
    await start({ include: [join(dir, 'pods/*/*/*.log')], max_event_bytes: '20001B' }, ch);
    await waitFor('1 event', () => ch.events.length === 1);
    expect(ch.events[0]!.message).toBe('é'.repeat(10_000));
    expect(ch.events[0]!.fields['log.truncated']).toBe(true);
  });

  test('long_lines: skip drops a reassembled message over max_event_bytes (counted); its neighbours arrive, positions move on', async () => {
    const cdir = join(dir, 'pods', 'ns_p_u', 'c');
    mkdirSync(cdir, { recursive: true });
    const file = join(cdir, '0.log');
    writeFileSync(
      file,
      Buffer.concat([criLines('before', 'stdout'), criLines('x'.repeat(SPLIT * 3), 'stdout'), criLines('after', 'stderr')]),
    );
    const ch = new RecordingChannel();
    await start({ include: [join(dir, 'pods/*/*/*.log')], max_event_bytes: '20KiB', long_lines: 'skip' }, ch, 'skipper');
    await waitFor('2 events', () => ch.events.length === 2);
    expect(ch.events.map((e) => [e.message, e.source.stream])).toEqual([
      ['before', 'stdout'],
      ['after', 'stderr'],
    ]);
    const skipped = (await metrics.getSingleMetric('sluice_file_source_skipped_events_total')?.get())?.values.find(
      (v) => v.labels.component === 'skipper',
    );
    expect(skipped?.value).toBe(1);
  });
});
