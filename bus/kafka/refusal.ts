import type { LogEvent } from '../../core/event.js';
import type { RefusedEvent } from '../../core/pipeline.js';

/**
 * Which Kafka errors refuse a record for good, as opposed to an outage. Sending such a record
 * again fails again, so it goes to the agent's dead-letter instead of holding its channel
 * transaction (and every source behind it) forever, and a dead-letter entry the dead-letter
 * topic refuses goes to the collector's local file instead of holding its partition; every
 * other error is an outage, and the send is retried as a whole. Both clients report the
 * broker's protocol error codes (kafkajs as KafkaJSProtocolError.code, librdkafka as the
 * delivery report's code; librdkafka's own size check before sending uses the same
 * MSG_SIZE_TOO_LARGE code).
 *
 * `batch`: the broker refuses a whole record batch (all the records of one partition in one
 * request) for it, so the records batched with the culprit get the same error. Only a record
 * refused when sent on its own is refused for good; the others are delivered when sent alone.
 * `topic`: about the topic, whatever the record: every record for it is refused.
 */
const REFUSALS: ReadonlyMap<number, { name: string; scope: 'batch' | 'topic' }> = new Map([
  [10, { name: 'MESSAGE_TOO_LARGE', scope: 'batch' }],
  [17, { name: 'INVALID_TOPIC_EXCEPTION', scope: 'topic' }],
  [18, { name: 'RECORD_LIST_TOO_LARGE', scope: 'batch' }],
  [29, { name: 'TOPIC_AUTHORIZATION_FAILED', scope: 'topic' }],
  [32, { name: 'INVALID_TIMESTAMP', scope: 'batch' }],
  [43, { name: 'UNSUPPORTED_FOR_MESSAGE_FORMAT', scope: 'topic' }],
  [44, { name: 'POLICY_VIOLATION', scope: 'batch' }],
  [87, { name: 'INVALID_RECORD', scope: 'batch' }],
]);

export interface Refusal {
  /** The Kafka error name, first word of the dead-letter reason. */
  name: string;
  /** True when the record must be sent alone before it counts as refused (scope `batch`). */
  sharedWithBatch: boolean;
}

/** The refusal `err` (or an error it wraps) stands for, or undefined for an outage. */
export function refusalOf(err: unknown): Refusal | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 5 && typeof cur === 'object' && cur !== null; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'number') {
      const r = REFUSALS.get(code);
      return r && { name: r.name, sharedWithBatch: r.scope === 'batch' };
    }
    // kafkajs wraps the broker's error in retry errors (cause) or keeps it as originalError.
    cur = (cur as { cause?: unknown }).cause ?? (cur as { originalError?: unknown }).originalError;
  }
  return undefined;
}

/** Why Kafka refused a record for good: the error name first, then what the client said. */
export function refusalReason(refusal: Refusal, detail: string): string {
  return `${refusal.name}: kafka refused the record for good (${detail})`;
}

/** The dead-letter entry of an event Kafka refused for good. */
export function refusedEvent(event: LogEvent, topic: string, bytes: number, refusal: Refusal, detail: string): RefusedEvent {
  return { reason: refusalReason(refusal, detail), topic, bytes, event };
}

/**
 * Hands refused events to the dead-letter; resolves once they are durably kept. Rejects
 * (failing the send, which the forwarder retries) when there is no dead-letter or it failed:
 * the events then stay in the channel, never dropped.
 */
export async function keepRefused(
  refused: readonly RefusedEvent[],
  keep: ((events: readonly RefusedEvent[]) => Promise<void>) | undefined,
): Promise<void> {
  if (refused.length === 0) return;
  if (!keep)
    throw new Error(
      `kafka refused ${refused.length} events for good and there is no dead-letter to keep them (first: ${refused[0]!.reason})`,
    );
  try {
    await keep(refused);
  } catch (err) {
    throw new Error(`kafka refused ${refused.length} events for good and the dead-letter could not keep them: ${(err as Error).message}`);
  }
}
