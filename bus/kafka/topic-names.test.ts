import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppendFile } from '../../core/append-file.js';
import { syncDir } from '../../core/durable-file.js';
import type { LogEvent } from '../../core/event.js';
import { silentLogger } from '../../core/log.js';
import { metrics } from '../../core/metrics.js';
import { captureLogger, makeEvent, type TempDir, tempDir } from '../../test/support/index.js';
import { kafkaBusSpec } from './index.js';
import { kafkaBusOptions, type TopicPattern, topicSubscription } from './options.js';
import { TOPIC_DECISIONS_FILE, type TopicCapOptions, TopicNamer } from './topic-names.js';

// Spied on, to see which directories a new decisions file makes durable.
vi.mock('../../core/durable-file.js', async (original) => {
  const real = await original<typeof import('../../core/durable-file.js')>();
  return { ...real, syncDir: vi.fn(real.syncDir) };
});

const event = (over: Partial<LogEvent>): LogEvent => makeEvent({ service: 'pay', module: 'api', host: 'h1', ...over });

const capped = (topic: string, maxDistinct: number) => new TopicNamer(topic, { maxDistinct, component: 'bus', logger: silentLogger() });

const names = (namer: TopicNamer, services: string[]) => services.map((service) => namer.name(event({ service })));

const fails = () => Promise.reject(new Error('boom'));

const hash = (name: string) => createHash('sha256').update(name).digest('hex').slice(0, 12);

describe('topic names', () => {
  it("renders topics from event values, each value sanitized to Kafka's characters", () => {
    const topic = new TopicNamer('logs.{service}.{fields.team}');
    expect(topic.name(event({ fields: { team: 'core' } }))).toBe('logs.pay.core');
    expect(topic.name(event({ service: 'a/b c', fields: { team: 'ü' } }))).toBe('logs.a_b_c._');
    expect(topic.name(event({ service: '..', fields: {} }))).toBe('logs.__.unknown');
    expect(topic.name(event({ service: '' }))).toBe('logs.unknown.unknown');
    expect(new TopicNamer('logs.{fields.team:-shared}').name(event({}))).toBe('logs.shared');
  });

  it('makes at most topic_max_distinct topics, the rest going to the _other topic', async () => {
    const topic = capped('logs.{service}', 2);
    await topic.prepare(async () => [], String);
    expect(names(topic, ['a', 'b', 'c', 'a', 'd'])).toEqual(['logs.a', 'logs.b', 'logs._other', 'logs.a', 'logs._other']);
  });

  it('keeps long topic names within 249 characters, distinct per value, cut as they were when nothing follows the value', () => {
    const topic = new TopicNamer('logs.{service}');
    const a = topic.name(event({ service: 'x'.repeat(300) }));
    const b = topic.name(event({ service: `${'x'.repeat(299)}y` }));
    expect(a).toBe(`logs.${'x'.repeat(231)}-${hash(`logs.${'x'.repeat(300)}`)}`);
    expect(b).toBe(`logs.${'x'.repeat(231)}-${hash(`logs.${'x'.repeat(299)}y`)}`);
    expect(a).not.toBe(b);
  });

  it('shortens a long name by cutting its values, keeping every literal, so that the subscription matches it', () => {
    const long = (end: string) => `${'x'.repeat(299)}${end}`;
    const subscribed = (template: string, name: string) => {
      const pattern = topicSubscription(template) as TopicPattern;
      return { name, matches: pattern.matches(name), regex: new RegExp(pattern.regex).test(name) };
    };

    const raw = new TopicNamer('logs.{service}.raw');
    const a = raw.name(event({ service: long('a') }));
    const b = raw.name(event({ service: long('b') }));
    expect(a).toBe(`logs.${'x'.repeat(227)}-${hash(`logs.${long('a')}.raw`)}.raw`);
    expect(b).toBe(`logs.${'x'.repeat(227)}-${hash(`logs.${long('b')}.raw`)}.raw`);
    expect(a).toHaveLength(249);
    expect(a).not.toBe(b);
    expect([subscribed('logs.{service}.raw', a), subscribed('logs.{service}.raw', b)]).toEqual([
      { name: a, matches: true, regex: true },
      { name: b, matches: true, regex: true },
    ]);
    expect(raw.name(event({ service: 'pay' }))).toBe('logs.pay.raw');

    // The short value stays whole; two long ones share the room, the last of equally long ones carrying the hash.
    const mid = new TopicNamer('logs.{service}.mid.{module}');
    const one = mid.name(event({ service: long('a'), module: 'api' }));
    const other = mid.name(event({ service: long('b'), module: 'api' }));
    expect(one).toBe(`logs.${'x'.repeat(223)}-${hash(`logs.${long('a')}.mid.api`)}.mid.api`);
    expect(other).toBe(`logs.${'x'.repeat(223)}-${hash(`logs.${long('b')}.mid.api`)}.mid.api`);
    const both = mid.name(event({ service: 'y'.repeat(300), module: long('a') }));
    expect(both).toBe(`logs.${'y'.repeat(113)}.mid.${'x'.repeat(113)}-${hash(`logs.${'y'.repeat(300)}.mid.${long('a')}`)}`);
    expect([one, other, both].map((n) => n.length)).toEqual([249, 249, 249]);
    expect([one, other, both].map((n) => subscribed('logs.{service}.mid.{module}', n))).toEqual(
      [one, other, both].map((name) => ({ name, matches: true, regex: true })),
    );
    expect(mid.name(event({ service: 's'.repeat(200), module: 'm'.repeat(35) }))).toBe(`logs.${'s'.repeat(200)}.mid.${'m'.repeat(35)}`);

    // The most fixed text the topic schema takes: a value keeps one character before the hash.
    const tight = new TopicNamer(`${'t'.repeat(235)}{service}`);
    expect(tight.name(event({ service: long('a') }))).toBe(`${'t'.repeat(235)}x-${hash(`${'t'.repeat(235)}${long('a')}`)}`);
  });
});

describe('TopicNamer.prepare', () => {
  it('admits every existing topic of the template, even beyond the cap, without counting them: the cap is per agent', async () => {
    const { logger, lines } = captureLogger();
    const topic = new TopicNamer('logs.{service}', { maxDistinct: 2, component: 'bus', logger });
    await topic.prepare(async () => ['logs.c', 'logs.a', 'logs.b', 'logs._other', 'metrics.x', '__consumer_offsets'], String);
    // Three topics of other agents' services exist: this agent still has its two of its own.
    expect(names(topic, ['new', 'a', 'b', 'c', 'new-2', 'new-3'])).toEqual([
      'logs.new',
      'logs.a',
      'logs.b',
      'logs.c',
      'logs.new-2',
      'logs._other',
    ]);
    expect(lines.filter((l) => l.msg === 'admitted the value combinations of the existing topics')).toMatchObject([
      { topic: 'logs.{service}', topics: 3, topic_max_distinct: 2 },
    ]);
  });

  it('does not take the _other topic for a combination', async () => {
    const topic = capped('logs.{service}.{module}', 2);
    await topic.prepare(async () => ['logs.old.api', 'logs._other._other'], String);
    expect(names(topic, ['new-1', 'old', 'new-2', 'new-3'])).toEqual([
      'logs.new-1.api',
      'logs.old.api',
      'logs.new-2.api',
      'logs._other._other',
    ]);
  });

  it('knows a combination by the topic it makes: sanitized values, and values split otherwise by a literal they hold', async () => {
    const sanitized = capped('logs.{service}', 1);
    await sanitized.prepare(async () => ['logs.a_b'], String);
    expect(names(sanitized, ['a/b', 'a b', 'c', 'd'])).toEqual(['logs.a_b', 'logs.a_b', 'logs.c', 'logs._other']);

    const split = capped('logs.{service}.{module}', 1);
    await split.prepare(async () => ['logs.a.b.c'], String);
    expect(split.name(event({ service: 'a', module: 'b.c' }))).toBe('logs.a.b.c');
    expect(split.name(event({ service: 'a.b', module: 'c' }))).toBe('logs.a.b.c');
    expect(split.name(event({ service: 'a', module: 'b' }))).toBe('logs.a.b');
    expect(split.name(event({ service: 'a', module: 'c' }))).toBe('logs._other._other');
  });

  it('admits the topic of a long value by its shortened name', async () => {
    const long = 'x'.repeat(300);
    const topic = capped('logs.{service}', 1);
    const shortened = `logs.${'x'.repeat(231)}-${hash(`logs.${long}`)}`;
    await topic.prepare(async () => [shortened], String);
    expect(names(topic, [long, 'y', 'z'])).toEqual([shortened, 'logs.y', 'logs._other']);

    const raw = capped('logs.{service}.raw', 1);
    const rawShortened = `logs.${'x'.repeat(227)}-${hash(`logs.${long}.raw`)}.raw`;
    await raw.prepare(async () => [rawShortened], String);
    expect(names(raw, [long, 'y', 'z'])).toEqual([rawShortened, 'logs.y.raw', 'logs._other.raw']);
  });

  it('admits no name the template cannot have made: an empty value, other literals, characters Kafka refuses', async () => {
    const { logger, lines } = captureLogger();
    const topic = new TopicNamer('app-{service}.{module}.raw', { maxDistinct: 5, component: 'bus', logger });
    const foreign = ['app-.m.raw', 'app-s..raw', 'app-s.m.raw.x', 'app-s-m-raw', 'x-app-s.m.raw', 'app-s.raw', 'app-s.m.r aw'];
    await topic.prepare(async () => [...foreign, 'app-s.m.raw', 'app-s.m.x.raw', 'app-s..m.raw', 'app-a-b.c_d.raw'], String);
    expect(lines.find((l) => l.msg === 'admitted the value combinations of the existing topics')).toMatchObject({ topics: 4 });
    expect(topic.name(event({ service: 's', module: 'm.x' }))).toBe('app-s.m.x.raw');
    // Four known (not counted) and five of its own: the sixth new one has no room.
    expect(names(topic, ['t', 'u', 'v', 'w', 'x', 'y'])).toEqual([
      'app-t.api.raw',
      'app-u.api.raw',
      'app-v.api.raw',
      'app-w.api.raw',
      'app-x.api.raw',
      'app-_other._other.raw',
    ]);
  });

  it('rejects while the listing fails and lists again at the next call; once it succeeded, never again', async () => {
    const topic = capped('logs.{service}', 1);
    let listed = 0;
    const list = async () => {
      listed++;
      return ['logs.a'];
    };
    await expect(topic.prepare(fails, (err) => `described ${(err as Error).message}`)).rejects.toThrow(
      'cannot list the topics of logs.{service}, whose value combinations topic_max_distinct admits before naming any event: described boom',
    );
    await topic.prepare(list, String);
    await expect(topic.prepare(fails, String)).resolves.toBeUndefined();
    expect(listed).toBe(1);
    expect(names(topic, ['b', 'a', 'c'])).toEqual(['logs.b', 'logs.a', 'logs._other']);
  });

  it('lists nothing without a cap or without values', async () => {
    for (const topic of [capped('logs.{service}', 0), capped('logs', 5), new TopicNamer('logs.{service}')])
      await expect(topic.prepare(fails, String)).resolves.toBeUndefined();
  });
});

describe('TopicNamer decisions kept in the data directory', () => {
  let tmp: TempDir;
  beforeEach(async () => {
    tmp = await tempDir('topic-decisions');
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await tmp.cleanup();
  });

  const file = () => join(tmp.dir, TOPIC_DECISIONS_FILE);
  /** The line one write appends: every decision it holds. */
  const line = (template: string, admitted: string[], overflowed: string[]) => `${JSON.stringify({ template, admitted, overflowed })}\n`;
  const svc = (admitted: string[], overflowed: string[]) => line('logs.{service}', admitted, overflowed);

  /** A namer over the test's data directory, opened and prepared over `existing` topics, as a producer's first send does. */
  async function agent(maxDistinct: number, existing: string[] = [], template = 'logs.{service}', over: Partial<TopicCapOptions> = {}) {
    const { logger, lines } = captureLogger();
    const namer = new TopicNamer(template, { maxDistinct, component: 'bus', logger, dataDir: tmp.dir, ...over });
    await namer.open();
    await namer.prepare(async () => existing, String);
    return { namer, lines };
  }

  /** Names the services as a send does, then waits for the decisions to be on disk and closes: the agent stops. */
  async function sendAndStop(namer: TopicNamer, services: string[]): Promise<string[]> {
    const named = names(namer, services);
    await namer.recorded();
    await namer.close();
    return named;
  }

  it('sends a combination that overflowed to _other again after a restart, even where its topic exists now', async () => {
    const first = await agent(1);
    expect(await sendAndStop(first.namer, ['a', 'x'])).toEqual(['logs.a', 'logs._other']);
    // One line per write, whatever it holds: an append cut short can only damage the last line.
    expect(await readFile(file(), 'utf8')).toBe(svc(['logs.a'], ['logs.x']));

    // Restarted with x's event replayed; another agent made a topic for x meanwhile.
    const second = await agent(1, ['logs.a', 'logs.x']);
    expect(names(second.namer, ['x', 'a', 'y', 'z'])).toEqual(['logs._other', 'logs.a', 'logs._other', 'logs._other']);
    const info = ['read back the topic decisions of this agent', 'admitted the value combinations of the existing topics'];
    expect(second.lines.filter((l) => info.includes(l.msg as string))).toMatchObject([
      { file: file(), topic: 'logs.{service}', admitted: 1, overflowed: 1 },
      { topics: 1 },
    ]);
    await second.namer.recorded();
    await second.namer.close();
    expect(await readFile(file(), 'utf8')).toBe(svc(['logs.a'], ['logs.x']) + svc([], ['logs.y', 'logs.z']));
  });

  it('syncs the directory of the file it creates, and its parent, made at the first start; nothing when the file exists', async () => {
    vi.mocked(syncDir).mockClear();
    const first = await agent(1);
    expect(vi.mocked(syncDir).mock.calls).toEqual([[tmp.dir], [dirname(tmp.dir)]]);
    await first.namer.close();
    vi.mocked(syncDir).mockClear();
    const second = await agent(1);
    expect(vi.mocked(syncDir)).not.toHaveBeenCalled();
    await second.namer.close();
  });

  it('counts the combinations it admitted before a restart towards the cap, though their topics exist now', async () => {
    const first = await agent(2);
    expect(await sendAndStop(first.namer, ['a', 'b'])).toEqual(['logs.a', 'logs.b']);

    const second = await agent(2, ['logs.a', 'logs.b', 'logs.c']);
    expect(names(second.namer, ['c', 'd', 'b', 'a'])).toEqual(['logs.c', 'logs._other', 'logs.b', 'logs.a']);
    await second.namer.close();
  });

  it('writes nothing for a combination decided before, nor for values that make the _other topic, which take no place', async () => {
    const first = await agent(1);
    expect(await sendAndStop(first.namer, ['_other', 'a', 'a', '_other', 'b'])).toEqual([
      'logs._other',
      'logs.a',
      'logs.a',
      'logs._other',
      'logs._other',
    ]);
    const second = await agent(1, ['logs.a', 'logs._other']);
    expect(await sendAndStop(second.namer, ['a', 'b', '_other'])).toEqual(['logs.a', 'logs._other', 'logs._other']);
    expect(await readFile(file(), 'utf8')).toBe(svc(['logs.a'], ['logs.b']));
  });

  it('drops a last line cut short by a crash with a warn naming the file and line, and appends after what is whole', async () => {
    await writeFile(file(), `${svc([], ['logs.x'])}{"template":"logs.{service}","admitted":["logs.y"],"overfl`);
    const { namer, lines } = await agent(1);
    expect(lines.filter((l) => l.level === 40)).toMatchObject([
      { file: file(), line: 2, msg: expect.stringContaining('dropped the damaged last line of the topic decisions file') },
    ]);
    expect(await sendAndStop(namer, ['x', 'y', 'z'])).toEqual(['logs._other', 'logs.y', 'logs._other']);
    expect(await readFile(file(), 'utf8')).toBe(svc([], ['logs.x']) + svc(['logs.y'], ['logs.z']));
  });

  it('drops a damaged whole last line the same way; damage before it, or a file it cannot read, is an error naming it', async () => {
    await writeFile(file(), `${svc([], ['logs.x'])}{"template":"logs.{serv\n`);
    const { namer, lines } = await agent(1);
    expect(lines.filter((l) => l.level === 40)).toMatchObject([{ file: file(), line: 2 }]);
    expect(await sendAndStop(namer, ['x', 'a'])).toEqual(['logs._other', 'logs.a']);
    expect(await readFile(file(), 'utf8')).toBe(svc([], ['logs.x']) + svc(['logs.a'], []));

    // Appends are one line each, so this is no crash of ours: the file was damaged otherwise.
    await writeFile(file(), `${svc([], ['logs.x'])}\u0000\u0000\n${svc(['logs.a'], [])}`);
    await expect(agent(1)).rejects.toThrow(
      `bus: ${file()} line 2 is not a line of topic decisions: the file is damaged (remove it to start without the decisions, and a replayed event may then go to another topic than its first copy)`,
    );
    // A whole JSON last line of another shape is no crash's either.
    await writeFile(file(), `${svc([], ['logs.x'])}{"template":"logs.{service}","topic":"logs.a","decision":"admitted"}\n`);
    await expect(agent(1)).rejects.toThrow(`bus: ${file()} line 2 is not a line of topic decisions`);
    await rm(file());
    await mkdir(file());
    await expect(agent(1)).rejects.toThrow(
      `bus: cannot read ${file()}, where topic_max_distinct keeps its decisions: is a directory, not a file`,
    );
  });

  it('reads back a line holding more names than a call takes arguments', async () => {
    const many = Array.from({ length: 200_000 }, (_, i) => `logs.s${i}`);
    await writeFile(file(), svc([], many));
    const { namer } = await agent(1);
    expect(names(namer, ['s199999', 'a'])).toEqual(['logs._other', 'logs.a']);
    await namer.close();
  });

  it('does not decide by the decisions of another template, and keeps them for when that template is back', async () => {
    const first = await agent(1, [], 'logs.{service}');
    expect(await sendAndStop(first.namer, ['a', 'api'])).toEqual(['logs.a', 'logs._other']);

    // A start with another topic (a mis-set variable): logs.api is a new combination, with a place of its own.
    const second = await agent(1, [], 'logs.{module}');
    expect(second.lines.filter((l) => l.msg === 'read back the topic decisions of this agent')).toEqual([]);
    expect(second.lines.filter((l) => (l.msg as string).startsWith('kept the topic decisions of another topic template'))).toMatchObject([
      { file: file(), topic: 'logs.{module}', lines: 1 },
    ]);
    expect(['api', 'b'].map((module) => second.namer.name(event({ module })))).toEqual(['logs.api', 'logs._other']);
    await second.namer.recorded();
    await second.namer.close();
    expect(await readFile(file(), 'utf8')).toBe(svc(['logs.a'], ['logs.api']) + line('logs.{module}', ['logs.api'], ['logs.b']));

    // Reverted, with logs.api made meanwhile: the first template's decisions hold again.
    const third = await agent(1, ['logs.a', 'logs.api'], 'logs.{service}');
    expect(await sendAndStop(third.namer, ['api', 'a', 'c'])).toEqual(['logs._other', 'logs.a', 'logs._other']);
    expect(await readFile(file(), 'utf8')).toBe(
      svc(['logs.a'], ['logs.api']) + line('logs.{module}', ['logs.api'], ['logs.b']) + svc([], ['logs.c']),
    );
  });

  it('remembers at most overflowedMax overflowed combinations, with one warn; beyond, a restart may give one a topic', async () => {
    const first = await agent(1, [], 'logs.{service}', { overflowedMax: 2 });
    expect(await sendAndStop(first.namer, ['a', 'x', 'y', 'z', 'w'])).toEqual([
      'logs.a',
      'logs._other',
      'logs._other',
      'logs._other',
      'logs._other',
    ]);
    expect(first.lines.filter((l) => l.level === 40 && l.file !== undefined)).toMatchObject([
      {
        file: file(),
        overflowed_remembered: 2,
        value: 'logs.z',
        msg: 'remembering no more overflowed topic combinations: after a restart a replayed event of a new one may get a topic of its own',
      },
    ]);
    expect(await readFile(file(), 'utf8')).toBe(svc(['logs.a'], ['logs.x', 'logs.y']));
    const second = await agent(2, [], 'logs.{service}', { overflowedMax: 2 });
    expect(names(second.namer, ['y', 'z', 'x'])).toEqual(['logs._other', 'logs.z', 'logs._other']);
    await second.namer.close();
  });

  it('hands back the decisions only once they are on disk, and at once when none is new', async () => {
    const { namer } = await agent(1);
    const settled = namer.recorded();
    expect(namer.recorded()).toBe(settled);
    names(namer, ['a']);
    // Naming decides; only recorded() writes.
    expect(await readFile(file(), 'utf8')).toBe('');
    const writing = namer.recorded();
    expect(writing).not.toBe(settled);
    await writing;
    expect(await readFile(file(), 'utf8')).toBe(svc(['logs.a'], []));
    names(namer, ['a']);
    expect(namer.recorded()).toBe(settled);
    await namer.close();
  });

  it('goes on when a write fails: one error naming the file and what is at risk, decisions kept, written once the disk takes them', async () => {
    const { namer, lines } = await agent(1);
    const failures = async () =>
      (await metrics.getSingleMetric('sluice_bus_topic_decision_write_failures_total')!.get()).values.find(
        (v) => v.labels.component === 'bus',
      )?.value ?? 0;
    const before = await failures();
    const full = vi
      .spyOn(AppendFile.prototype, 'append')
      .mockRejectedValue(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    expect(names(namer, ['a', 'x'])).toEqual(['logs.a', 'logs._other']);
    await namer.recorded();
    expect(names(namer, ['y', 'a', 'x'])).toEqual(['logs._other', 'logs.a', 'logs._other']);
    await namer.recorded();
    // A send that decides nothing new tries the pending ones again.
    names(namer, ['a']);
    await namer.recorded();
    expect(full).toHaveBeenCalledTimes(3);
    expect(await failures()).toBe(before + 3);
    expect(lines.filter((l) => l.level === 50)).toEqual([
      expect.objectContaining({
        file: file(),
        topic: 'logs.{service}',
        err: 'ENOSPC: no space left on device, write',
        admitted: ['logs.a'],
        overflowed: ['logs.x'],
        msg: 'cannot write the topic decisions: events are sent all the same, and the decisions kept in memory and written once the disk takes them; after a restart, replayed events of these combinations may go to another topic than their first copies',
      }),
    ]);
    expect(await readFile(file(), 'utf8')).toBe('');

    full.mockRestore();
    names(namer, ['a']);
    await namer.recorded();
    expect(await readFile(file(), 'utf8')).toBe(svc(['logs.a'], ['logs.x', 'logs.y']));
    expect(lines.filter((l) => l.msg === 'wrote the topic decisions again: the disk takes them')).toMatchObject([
      { file: file(), admitted: 1, overflowed: 2 },
    ]);
    await namer.close();

    const again = await agent(1, ['logs.y']);
    expect(names(again.namer, ['y', 'a', 'b'])).toEqual(['logs._other', 'logs.a', 'logs._other']);
    await again.namer.close();
  });

  it('tries the pending decisions once more at close', async () => {
    const { namer } = await agent(1);
    const full = vi.spyOn(AppendFile.prototype, 'append').mockRejectedValueOnce(new Error('EIO: i/o error, write'));
    names(namer, ['a']);
    await namer.recorded();
    expect(await readFile(file(), 'utf8')).toBe('');
    await namer.close();
    expect(full).toHaveBeenCalledTimes(2);
    expect(await readFile(file(), 'utf8')).toBe(svc(['logs.a'], []));
  });

  it('names every decision still unwritten when it stops with the disk still failing', async () => {
    const { namer, lines } = await agent(1);
    vi.spyOn(AppendFile.prototype, 'append').mockRejectedValue(new Error('EIO: i/o error, write'));
    names(namer, ['a', 'x']);
    await namer.recorded();
    names(namer, ['y']);
    await namer.recorded();
    await namer.close();
    expect(lines.filter((l) => l.level === 50).at(-1)).toMatchObject({
      file: file(),
      admitted: ['logs.a'],
      overflowed: ['logs.x', 'logs.y'],
      msg: 'stopping with topic decisions the disk did not take: after the restart, replayed events of these combinations may go to another topic than their first copies',
    });
  });
});

describe('the memory the remembered topic combinations take', () => {
  const uses = (topic: string, topic_max_distinct?: number) =>
    kafkaBusSpec.memory!(kafkaBusOptions.parse({ topic, topic_max_distinct })).filter((u) => u.what.startsWith('topic_max_distinct'));

  it('is declared on the agent for a templated topic with a cap: the admitted and the overflowed names at most', () => {
    expect(uses('logs.{service}')).toEqual([
      { what: 'topic_max_distinct (100 admitted + 10,000 overflowed topic names)', bytes: 10_100 * 320, half: 'agent' },
    ]);
    expect(uses('logs')).toEqual([]);
    expect(uses('logs.{service}', 0)).toEqual([]);
  });
});
