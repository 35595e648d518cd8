import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AppendFile } from '../../core/append-file.js';
import { replaceFile, syncDir } from '../../core/durable-file.js';
import type { LogEvent } from '../../core/event.js';
import { fileErrorText } from '../../core/fs-errors.js';
import type { Logger } from '../../core/log.js';
import {
  DistinctLimit,
  type DistinctLimitOptions,
  EventTemplate,
  literalSegments,
  OVERFLOW,
  parseTemplate,
  templateMatcher,
} from '../../core/template.js';
import { busMetrics } from './metrics.js';
import { isTopicChar, limitTopic, NO_TIME, sanitizeTopicValue } from './options.js';

/**
 * The topic of each event the agent produces: the topic template with each value sanitized,
 * the name within 249 characters, and with `distinct` (`topic_max_distinct`) at most that
 * many value combinations with a topic of their own, the later ones going to the `_other` topic.
 *
 * Admission follows arrival order in each process, so after a restart an event replayed
 * from the disk channel could go to its own topic where its first copy went to `_other`, or
 * the reverse, and a collector would write it twice: the file trees skip copies per
 * partition, not across topics. So before the first event is named the producer lists the
 * topics and `prepare` admits the combinations of those the template can have made. A
 * combination is keyed by the topic name it makes, which is all an existing topic shows of
 * it: values that sanitize to one name are one topic, and one combination.
 *
 * An existing topic says nothing of a combination that went to `_other`, nor which
 * combinations were this agent's own (counted): with `dataDir` the namer also keeps its
 * decisions there (TopicDecisions), reads them back at `open`, and a combination it sent to
 * `_other` keeps going there. `recorded()` makes the decisions that `name` took durable: the
 * producer awaits it before it hands the named records to the client.
 */
export class TopicNamer {
  private readonly template: EventTemplate;
  /**
   * The limit, whom to tell of the listing and where the decisions are kept (with a data
   * directory), when topic_max_distinct applies (a cap, and values to count).
   */
  private readonly cap: { limit: DistinctLimit; logger: Logger; decisions: TopicDecisions | undefined } | undefined;
  /** The template's literal text before its first value, between each two, and after its last. */
  private readonly segments: readonly string[];
  /**
   * Whether the template can have made a name: the consumers' test (topicSubscription), in
   * one pass. Values are any run of Kafka's characters: that none is `.` or `..` is not
   * looked at, so such a name is taken for one the template made.
   */
  private readonly couldMake: (name: string) => boolean;
  /** The `_other` topic, which every overflowed combination is named. */
  private readonly overflow: string;
  /** Settled once the existing topics' combinations are admitted (at once when there is no cap). */
  private prepared: Promise<void> | undefined;

  constructor(
    readonly topic: string,
    distinct?: TopicCapOptions,
  ) {
    const parts = parseTemplate(topic, NO_TIME);
    const segments = literalSegments(parts);
    this.segments = segments;
    this.couldMake = templateMatcher(parts, isTopicChar);
    this.overflow = this.nameOf(segments.slice(1).map(() => sanitizeTopicValue(OVERFLOW)));
    if (distinct && distinct.maxDistinct > 0 && segments.length > 1) {
      const { dataDir, overflowedMax = OVERFLOWED_REMEMBERED, ...options } = distinct;
      const decisions =
        dataDir === undefined
          ? undefined
          : new TopicDecisions(join(dataDir, TOPIC_DECISIONS_FILE), topic, options.component, options.logger, overflowedMax);
      const capped: DistinctLimit = new DistinctLimit({
        ...options,
        option: 'bus.topic',
        key: (values) => this.nameOf(values.split('\u0000')),
        decided:
          decisions &&
          ((key, admitted) => {
            // One the file has no room for is refused all the same in this process, whose cap stays full.
            if (decisions.record(key, admitted) && !admitted) capped.refuse([key]);
          }),
      });
      // Values that make the _other topic are no combination of their own: they take no place.
      capped.seed([this.overflow], false);
      this.cap = { limit: capped, logger: options.logger, decisions };
    }
    this.template = new EventTemplate(topic, {
      ...NO_TIME,
      sanitize: sanitizeTopicValue,
      finish: (_name, values) => limitTopic(segments, values),
      limit: this.cap?.limit,
    });
    if (!this.cap) this.prepared = Promise.resolve();
  }

  /**
   * Reads the decisions kept in the data directory back, before the first event is named: a
   * combination admitted before counts towards the cap again, one sent to `_other` is sent
   * there again. Rejects, naming the file, when it cannot be read or is damaged before its
   * last line.
   */
  async open(): Promise<void> {
    if (!this.cap?.decisions) return;
    const { limit, decisions } = this.cap;
    const { admitted, overflowed } = await decisions.open();
    limit.refuse(overflowed);
    limit.seed(admitted, true);
  }

  /**
   * Whether a send must name all its records before handing any to the client: the
   * decisions that naming takes are kept, and on disk first (`recorded`).
   */
  get keepsDecisions(): boolean {
    return this.cap?.decisions !== undefined;
  }

  /**
   * Resolves once every decision `name` took was written: the producer awaits it after naming
   * a send's records and before handing any to the client. A new decision is rare (at most
   * topic_max_distinct and the overflowed combinations remembered), so this is nearly always
   * a resolved promise. Never rejects: a write that fails is logged, its decisions are kept
   * in memory and written by a later call, and the send goes on (TopicDecisions).
   */
  recorded(): Promise<void> {
    return this.cap?.decisions?.recorded() ?? RECORDED;
  }

  async close(): Promise<void> {
    await this.cap?.decisions?.close();
  }

  name(event: LogEvent): string {
    return this.template.renderCached(event);
  }

  /**
   * Admits the combinations of the existing topics, once, before the first event is named:
   * `list` gives every topic name of the cluster. A listing that fails rejects (`describe`
   * says the client's error), and the next call lists again: the send fails and the
   * forwarder retries it, as when the brokers are unreachable, so no event is named from a
   * partial count. Once it succeeded it is never done again: a combination this process
   * sent to `_other` and a later listing admitted would have two topics.
   */
  prepare(list: () => Promise<Iterable<string>>, describe: (err: unknown) => string): Promise<void> {
    if (!this.prepared && this.cap) {
      const { limit, logger } = this.cap;
      const attempt = list().then(
        (names) => {
          const admitted = this.seed(limit, names);
          logger.info(
            { topic: this.topic, topics: admitted, topic_max_distinct: limit.max },
            'admitted the value combinations of the existing topics',
          );
        },
        (err: unknown) => {
          throw new Error(
            `cannot list the topics of ${this.topic}, whose value combinations topic_max_distinct admits before naming any event: ${describe(err)}`,
          );
        },
      );
      this.prepared = attempt;
      attempt.catch(() => {
        if (this.prepared === attempt) this.prepared = undefined;
      });
    }
    return this.prepared!;
  }

  /**
   * Admits the combinations of `existing` topic names, all of them even beyond the cap; a
   * name the template cannot have made (another application's topic) and the `_other`
   * topic are no combination, and one remembered as sent to `_other` is not admitted.
   * Returns how many were admitted.
   */
  private seed(limit: DistinctLimit, existing: Iterable<string>): number {
    const keys = new Set<string>();
    for (const name of existing) if (name !== this.overflow && this.couldMake(name)) keys.add(name);
    // The cap is per agent: the topics of every other agent's services are admitted, and do
    // not count, or a cluster with more services than the cap would send every new service
    // to _other. One this agent sent to _other stays there (seed leaves it refused).
    return limit.seed(keys, false);
  }

  /** The topic a combination of (sanitized) values makes: what it is counted as. */
  private nameOf(values: readonly string[]): string {
    return limitTopic(this.segments, values);
  }
}

/** The file in the bus's data directory where an agent keeps its topic_max_distinct decisions. */
export const TOPIC_DECISIONS_FILE = 'topic-decisions.jsonl';

/**
 * Overflowed combinations remembered at most. Admitted ones are at most topic_max_distinct,
 * overflowed ones as many as the values (pod names): past this many a new one still goes to
 * `_other`, but is not remembered, so after a restart it may get a topic of its own.
 */
export const OVERFLOWED_REMEMBERED = 10_000;

/**
 * The heap a remembered combination takes at most: its topic name (249 one-byte characters
 * and V8's string header: 272 bytes measured) and its entry in the limit's set.
 */
const REMEMBERED_TOPIC_BYTES = 320;

/**
 * The most the combinations the agent remembers can take: topic_max_distinct admitted and
 * OVERFLOWED_REMEMBERED overflowed topic names (refused for good). None without a cap or a
 * templated topic.
 */
export function rememberedTopicsBytes(topic: string, maxDistinct: number): number {
  if (maxDistinct === 0 || literalSegments(parseTemplate(topic, NO_TIME)).length === 1) return 0;
  return (maxDistinct + OVERFLOWED_REMEMBERED) * REMEMBERED_TOPIC_BYTES;
}

const RECORDED = Promise.resolve();

export interface TopicCapOptions extends Omit<DistinctLimitOptions, 'option' | 'key' | 'decided'> {
  /** The bus's data directory, where the decisions are kept (TOPIC_DECISIONS_FILE); none: they are not. */
  dataDir?: string;
  /** Overflowed combinations remembered at most (OVERFLOWED_REMEMBERED). */
  overflowedMax?: number;
}

/** One line of the file: the decisions of one write, each combination as the topic it makes. */
interface DecisionLine {
  template: string;
  admitted: string[];
  overflowed: string[];
}

/**
 * An agent's topic_max_distinct decisions, appended and fdatasync'd before the first record
 * a decision names is handed to the client. Each write is one JSON line holding every
 * decision it writes, so an append cut short by a crash can only damage the last line. A
 * line names its template: lines of another `topic` decide nothing here and are kept, for
 * when that template is back. A combination is decided once, so per template the file grows
 * by at most topic_max_distinct admitted and `overflowedMax` overflowed combinations.
 *
 * A write that fails (a full disk, a read-only or failing one) does not stop the sends:
 * the decisions stay in memory, so this process keeps naming as it decided, and are written
 * by a later send once the disk takes them. Only a restart before then can name a replayed
 * event otherwise than its first copy, which the error logged says.
 */
class TopicDecisions {
  private readonly file: AppendFile;
  /** Decisions taken and not on disk yet: `name` queued them, or a write of them failed. */
  private pending: { topic: string; admitted: boolean }[] = [];
  /** Decisions taken so far; those up to `tried` were in a write that ended (on disk, or pending again). */
  private taken = 0;
  private tried = 0;
  private writing: Promise<void> | undefined;
  /** A write failed and none succeeded since: the outage is logged once, its end once. */
  private failing = false;
  private overflowed = 0;
  private full = false;

  constructor(
    readonly path: string,
    private readonly template: string,
    private readonly component: string,
    private readonly logger: Logger,
    private readonly overflowedMax: number,
  ) {
    this.file = new AppendFile(path);
  }

  /**
   * Reads back the decisions of this template. A last line cut short (a crash while it was
   * appended) is dropped with a warn; any other damage, a last line that is whole JSON of
   * another shape (no crash leaves one), or a file that cannot be read, is an error.
   */
  async open(): Promise<{ admitted: string[]; overflowed: string[] }> {
    let created = false;
    const text = await readFile(this.path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw this.openError('cannot read', err);
      created = true;
      return '';
    });
    const lines = text.split('\n');
    // After the last newline: nothing, or an append cut short, which AppendFile.open cuts off.
    const tail = lines.pop()!;
    let dropped: number | undefined;
    let rewrite = false;
    if (tail !== '') dropped = lines.length + 1;
    else if (lines.length > 0 && !isJson(lines.at(-1)!)) {
      lines.pop();
      dropped = lines.length + 1;
      rewrite = true;
    }
    if (dropped !== undefined)
      this.logger.warn(
        { file: this.path, line: dropped },
        'dropped the damaged last line of the topic decisions file, left by a crash while it was written; after a restart, replayed events of its combinations may go to another topic than their first copies if they were sent during a failing write before it',
      );
    const admitted: string[] = [];
    const overflowed: string[] = [];
    let others = 0;
    for (const [i, line] of lines.entries()) {
      const d = parseDecisions(line);
      if (!d)
        throw new Error(
          `${this.component}: ${this.path} line ${i + 1} is not a line of topic decisions: the file is damaged (remove it to start without the decisions, and a replayed event may then go to another topic than its first copy)`,
        );
      if (d.template !== this.template) others++;
      else {
        // A loop, not push(...): a line written after a long outage may hold more names than
        // a call takes arguments.
        for (const t of d.admitted) admitted.push(t);
        for (const t of d.overflowed) overflowed.push(t);
      }
    }
    if (others > 0)
      this.logger.info(
        { file: this.path, topic: this.template, lines: others },
        'kept the topic decisions of another topic template: they do not apply to this one, and do again if it comes back',
      );
    try {
      if (rewrite) await replaceFile(this.path, lines.map((l) => `${l}\n`).join(''));
      await this.file.open();
      // The new file's entry, and the bus's directory's (made just before, at the first start).
      if (created) {
        await syncDir(dirname(this.path));
        await syncDir(dirname(dirname(this.path)));
      }
    } catch (err) {
      throw this.openError('cannot open', err);
    }
    this.overflowed = overflowed.length;
    if (admitted.length + overflowed.length > 0)
      this.logger.info(
        { file: this.path, topic: this.template, admitted: admitted.length, overflowed: overflowed.length },
        'read back the topic decisions of this agent',
      );
    return { admitted, overflowed };
  }

  /** Queues a new decision for `recorded`; false when it is not remembered (the overflowed ones are at the bound). */
  record(topic: string, admitted: boolean): boolean {
    if (!admitted) {
      if (this.overflowed >= this.overflowedMax) {
        if (!this.full)
          this.logger.warn(
            { file: this.path, topic: this.template, overflowed_remembered: this.overflowedMax, value: topic },
            'remembering no more overflowed topic combinations: after a restart a replayed event of a new one may get a topic of its own',
          );
        this.full = true;
        return false;
      }
      this.overflowed++;
    }
    this.pending.push({ topic, admitted });
    this.taken++;
    return true;
  }

  /** Never rejects: see the class comment. */
  recorded(): Promise<void> {
    return this.pending.length === 0 && !this.writing ? RECORDED : this.flush(this.taken);
  }

  /**
   * Tries the decisions still pending once more (the disk may take them now), then closes the
   * file; those it still cannot write are lost for the next start, and said so.
   */
  async close(): Promise<void> {
    await this.recorded();
    if (this.pending.length > 0)
      this.logger.error(
        {
          file: this.path,
          topic: this.template,
          admitted: this.pending.filter((d) => d.admitted).map((d) => d.topic),
          overflowed: this.pending.filter((d) => !d.admitted).map((d) => d.topic),
        },
        'stopping with topic decisions the disk did not take: after the restart, replayed events of these combinations may go to another topic than their first copies',
      );
    await this.file.close();
  }

  /**
   * Waits until the decisions taken up to `upTo` were in a write that ended: one under way
   * may have started before they were taken, and then the next write takes them. Decisions
   * a failed write left pending are tried again by every call, so the first send after the
   * disk takes them again writes them.
   */
  private async flush(upTo: number): Promise<void> {
    for (;;) {
      if (!this.writing && this.pending.length > 0) {
        const decisions = this.pending;
        this.pending = [];
        // Cleared when it settles, not inside write(): one that settled before this assignment
        // would leave a settled promise behind, and this loop would spin on it.
        const writing: Promise<void> = this.write(decisions, this.taken).finally(() => {
          if (this.writing === writing) this.writing = undefined;
        });
        this.writing = writing;
      }
      if (!this.writing) return;
      await this.writing;
      if (this.tried >= upTo) return;
    }
  }

  private async write(decisions: { topic: string; admitted: boolean }[], upTo: number): Promise<void> {
    const line: DecisionLine = { template: this.template, admitted: [], overflowed: [] };
    for (const d of decisions) (d.admitted ? line.admitted : line.overflowed).push(d.topic);
    try {
      await this.file.append(`${JSON.stringify(line)}\n`);
      if (this.failing)
        this.logger.info(
          { file: this.path, topic: this.template, admitted: line.admitted.length, overflowed: line.overflowed.length },
          'wrote the topic decisions again: the disk takes them',
        );
      this.failing = false;
    } catch (err) {
      // AppendFile cut the line back off: a later send writes it, with what is decided meanwhile.
      this.pending = decisions.concat(this.pending);
      busMetrics.topicDecisionWriteFailures.inc({ component: this.component });
      if (!this.failing)
        this.logger.error(
          {
            file: this.path,
            topic: this.template,
            err: fileErrorText(err),
            admitted: line.admitted,
            overflowed: line.overflowed,
          },
          'cannot write the topic decisions: events are sent all the same, and the decisions kept in memory and written once the disk takes them; after a restart, replayed events of these combinations may go to another topic than their first copies',
        );
      this.failing = true;
    } finally {
      this.tried = upTo;
    }
  }

  private openError(what: string, err: unknown): Error {
    return new Error(`${this.component}: ${what} ${this.path}, where topic_max_distinct keeps its decisions: ${fileErrorText(err)}`);
  }
}

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

function parseDecisions(line: string): DecisionLine | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { template, admitted, overflowed } = parsed as Record<string, unknown>;
  return typeof template === 'string' && isTopicList(admitted) && isTopicList(overflowed) ? { template, admitted, overflowed } : undefined;
}

function isTopicList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
