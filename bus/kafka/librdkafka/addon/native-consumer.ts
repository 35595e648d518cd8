import { type Addon, type ConsumerEvent, type ConsumerHandle, configArrays, EVENT, RECORD_NUMBERS } from './load.js';
import { Requests } from './requests.js';
import type { Config, NativeConsumer, NativeError, NativeLog, NativeMessage, TopicPartition, TopicPartitionOffset } from '../native-api.js';

type RebalanceCallback = (err: NativeError, assignment: TopicPartition[]) => void;
type CommitListener = (err: NativeError | null | undefined, offsets: (TopicPartitionOffset & { error?: NativeError })[]) => void;
type ErrorListener = (err: NativeError) => void;
type LogListener = (log: NativeLog) => void;

/**
 * The binding's consumer interface (NativeConsumer) on Sluice's addon, so the bus's consumer
 * runs on either. What differs: a consume takes a round's values in one buffer, packed off
 * this thread, and its records view them in place (a record keeps its round's buffer alive);
 * group events queued during a consume are dispatched before its records are handed over, so
 * a revocation is known before the round that it makes stale is delivered.
 *
 * Like the binding's, `rebalance_cb` in the config receives assignments and revocations and
 * must answer each with assign() or unassign(); librdkafka holds the group until it does.
 */
export class AddonConsumer implements NativeConsumer {
  private readonly handle: ConsumerHandle;
  private readonly rebalanceCb: RebalanceCallback | undefined;
  private readonly requests = new Requests('librdkafka consumer closed', STATE);
  private onCommit: CommitListener | undefined;
  private onError: ErrorListener | undefined;
  private onLog: LogListener | undefined;
  private timeoutMs = 1000;
  private onlyFirst = false;

  constructor(
    private readonly addon: Addon,
    config: Config,
  ) {
    const rebalance = config.rebalance_cb;
    this.rebalanceCb = typeof rebalance === 'function' ? (rebalance as RebalanceCallback) : undefined;
    const [keys, values] = configArrays(config);
    this.handle = addon.consumerCreate(keys, values, () => this.dispatch());
  }

  on(event: 'offset.commit', listener: CommitListener): this;
  on(event: 'event.error', listener: ErrorListener): this;
  on(event: 'event.log', listener: LogListener): this;
  on(event: string, listener: CommitListener | ErrorListener | LogListener): this {
    if (event === 'offset.commit') this.onCommit = listener as CommitListener;
    else if (event === 'event.error') this.onError = listener as ErrorListener;
    else if (event === 'event.log') this.onLog = listener as LogListener;
    return this;
  }

  /** As the binding's: done once the brokers answered a metadata request within `timeout`; a failed connect keeps no client. */
  connect(options: { timeout?: number }, cb: (err: NativeError | null) => void): this {
    this.requests
      .run(() => this.addon.consumerConnect(this.handle, options.timeout ?? 30_000))
      .then(
        () => cb(null),
        (err: NativeError) => cb(err),
      );
    return this;
  }

  /** Leaves the group (librdkafka revokes the assignment, answered here) and destroys the client, once the requests in flight ended. */
  disconnect(cb: (err: NativeError | null) => void): this {
    this.requests
      .close(() => this.addon.consumerClose(this.handle))
      .then(() => this.dispatch())
      .then(
        () => cb(null),
        (err: NativeError) => cb(err),
      );
    return this;
  }

  setDefaultConsumeTimeout(ms: number): void {
    this.timeoutMs = ms;
  }

  setDefaultIsTimeoutOnlyForFirstMessage(on: boolean): void {
    this.onlyFirst = on;
  }

  subscribe(topics: string[]): this {
    this.check(this.addon.subscribe(this.handle, topics));
    return this;
  }

  consume(count: number, cb: (err: NativeError | null, messages: NativeMessage[]) => void): void {
    this.requests
      .run(() => this.addon.consume(this.handle, count, this.timeoutMs, this.onlyFirst))
      .then(
        ([bytes, numbers, topics]) => {
          this.dispatch();
          cb(null, records(bytes, numbers, topics));
        },
        (err: NativeError) => {
          this.dispatch();
          cb(err, []);
        },
      );
  }

  assign(partitions: TopicPartition[]): this {
    this.check(this.addon.assign(this.handle, partitions.map(topicPartition)));
    return this;
  }

  unassign(): this {
    this.check(this.addon.assign(this.handle, null));
    return this;
  }

  assignments(): TopicPartition[] {
    return this.addon.assignment(this.handle);
  }

  commit(offsets: TopicPartitionOffset[]): this {
    this.check(this.addon.commit(this.handle, offsets));
    return this;
  }

  pause(partitions: TopicPartition[]): void {
    this.check(this.addon.pause(this.handle, partitions.map(topicPartition)));
  }

  resume(partitions: TopicPartition[]): void {
    this.check(this.addon.resume(this.handle, partitions.map(topicPartition)));
  }

  seek(to: TopicPartitionOffset, timeoutMs: number, cb: (err: NativeError | null) => void): this {
    this.requests
      .run(() => this.addon.seek(this.handle, to, timeoutMs))
      .then(
        () => cb(null),
        (err: NativeError) => cb(err),
      );
    return this;
  }

  private dispatch(): void {
    for (const e of this.addon.takeEvents(this.handle)) this.dispatchOne(e);
  }

  private dispatchOne(e: ConsumerEvent): void {
    switch (e.kind) {
      case EVENT.REBALANCE: {
        const assignment = (e.partitions ?? []).map(topicPartition);
        if (this.rebalanceCb) this.rebalanceCb(this.error(e.code), assignment);
        // Without a callback the partitions are taken and given up as they come.
        else if (e.code === ASSIGN_PARTITIONS) this.assign(assignment);
        else this.unassign();
        break;
      }
      case EVENT.COMMIT:
        this.onCommit?.(e.code === 0 ? null : this.error(e.code), e.partitions ?? []);
        break;
      case EVENT.LOG:
        this.onLog?.({ severity: e.code, message: e.message ?? '' });
        break;
      default:
        this.onError?.(
          Object.assign(new Error(e.message ?? this.addon.errorName(e.code)), { code: e.code, isFatal: e.kind === EVENT.FATAL }),
        );
    }
  }

  private check(code: number): void {
    if (code !== 0) throw this.error(code);
  }

  private error(code: number): NativeError {
    return Object.assign(new Error(this.addon.errorName(code)), { code });
  }
}

/** The records of a round, each viewing its value and key in the round's buffer. */
function records(bytes: Buffer, numbers: Float64Array, topics: string[]): NativeMessage[] {
  const n = numbers.length / RECORD_NUMBERS;
  const out = new Array<NativeMessage>(n);
  for (let i = 0, at = 0; i < n; i++, at += RECORD_NUMBERS) {
    const valueLength = numbers[at + 5]!;
    const keyLength = numbers[at + 7]!;
    const valueStart = numbers[at + 4]!;
    const keyStart = numbers[at + 6]!;
    out[i] = {
      topic: topics[numbers[at]!]!,
      partition: numbers[at + 1]!,
      offset: numbers[at + 2]!,
      timestamp: numbers[at + 3]!,
      value: valueLength < 0 ? null : bytes.subarray(valueStart, valueStart + valueLength),
      size: Math.max(valueLength, 0),
      key: keyLength < 0 ? null : bytes.subarray(keyStart, keyStart + keyLength),
    };
  }
  return out;
}

/** Only topic and partition: an assignment handed back may carry offsets and errors. */
function topicPartition(tp: TopicPartition): TopicPartition {
  return { topic: tp.topic, partition: tp.partition };
}

/** RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS. */
const ASSIGN_PARTITIONS = -175;

/** RD_KAFKA_RESP_ERR__STATE: what a request to a closed consumer fails with. */
const STATE = -172;
