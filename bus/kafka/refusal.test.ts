import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/support/index.js';
import { keepRefused, refusalOf, refusedEvent } from './refusal.js';

const { KafkaJSProtocolError, KafkaJSNumberOfRetriesExceeded, KafkaJSNonRetriableError, KafkaJSConnectionError } = kafkajs;

/** What kafkajs throws for a broker error code (as its produce response parser does). */
const protocolError = (type: string, code: number, retriable = false) =>
  // kafkajs builds it from its error table's entry ({type, code, retriable, message}); its typings say Error.
  new KafkaJSProtocolError({ type, code, retriable, message: type } as unknown as Error);

describe('refusalOf', () => {
  it('tells the errors that refuse a record for good from outages, by Kafka error code', () => {
    expect(refusalOf(protocolError('MESSAGE_TOO_LARGE', 10))).toEqual({ name: 'MESSAGE_TOO_LARGE', sharedWithBatch: true });
    expect(refusalOf(protocolError('RECORD_LIST_TOO_LARGE', 18))).toEqual({ name: 'RECORD_LIST_TOO_LARGE', sharedWithBatch: true });
    expect(refusalOf(protocolError('INVALID_RECORD', 87))).toEqual({ name: 'INVALID_RECORD', sharedWithBatch: true });
    expect(refusalOf(protocolError('TOPIC_AUTHORIZATION_FAILED', 29))).toEqual({
      name: 'TOPIC_AUTHORIZATION_FAILED',
      sharedWithBatch: false,
    });
    expect(refusalOf(protocolError('INVALID_TOPIC_EXCEPTION', 17))).toEqual({ name: 'INVALID_TOPIC_EXCEPTION', sharedWithBatch: false });
    // Outages: the send is retried as a whole.
    expect(refusalOf(protocolError('NOT_LEADER_FOR_PARTITION', 6, true))).toBeUndefined();
    expect(refusalOf(protocolError('REQUEST_TIMED_OUT', 7, true))).toBeUndefined();
    expect(refusalOf(protocolError('NOT_ENOUGH_REPLICAS', 19, true))).toBeUndefined();
    expect(refusalOf(new KafkaJSConnectionError('Connection error: ECONNREFUSED'))).toBeUndefined();
    expect(refusalOf(new Error('kafka producer closed'))).toBeUndefined();
    expect(refusalOf(undefined)).toBeUndefined();
  });

  it('finds the broker error inside the errors kafkajs wraps it in', () => {
    const tooLarge = protocolError('MESSAGE_TOO_LARGE', 10);
    expect(refusalOf(new KafkaJSNumberOfRetriesExceeded(tooLarge, { retryCount: 3, retryTime: 100 }))?.name).toBe('MESSAGE_TOO_LARGE');
    expect(refusalOf(Object.assign(new KafkaJSNonRetriableError('bailed'), { cause: tooLarge }))?.name).toBe('MESSAGE_TOO_LARGE');
    const outage = protocolError('LEADER_NOT_AVAILABLE', 5, true);
    expect(refusalOf(new KafkaJSNumberOfRetriesExceeded(outage, { retryCount: 3, retryTime: 100 }))).toBeUndefined();
  });

  it('reads librdkafka errors (delivery reports, and its own size check in produce()) by the same codes', () => {
    const native = (code: number, message: string) => Object.assign(new Error(message), { code, isFatal: false });
    expect(refusalOf(native(10, 'Broker: Message size too large'))?.name).toBe('MESSAGE_TOO_LARGE');
    expect(refusalOf(native(-195, 'Local: Broker transport failure'))).toBeUndefined();
    expect(refusalOf(native(-192, 'Local: Message timed out'))).toBeUndefined();
    expect(refusalOf(native(-188, 'Local: Unknown topic'))).toBeUndefined();
  });
});

describe('keepRefused', () => {
  const refused = [
    refusedEvent(
      makeEvent({ id: 'big' }),
      'logs',
      20_000,
      { name: 'MESSAGE_TOO_LARGE', sharedWithBatch: true },
      'Broker: Message size too large',
    ),
  ];

  it('hands the refused events to the dead-letter with reason, topic and size', async () => {
    const kept: unknown[] = [];
    await keepRefused(refused, async (events) => void kept.push(...events));
    expect(kept).toEqual([
      {
        reason: 'MESSAGE_TOO_LARGE: kafka refused the record for good (Broker: Message size too large)',
        topic: 'logs',
        bytes: 20_000,
        event: refused[0]!.event,
      },
    ]);
  });

  it('fails the send when nothing can keep them, so they stay in the channel', async () => {
    await expect(keepRefused(refused, undefined)).rejects.toThrow(
      'kafka refused 1 events for good and there is no dead-letter to keep them (first: MESSAGE_TOO_LARGE: kafka refused the record for good (Broker: Message size too large))',
    );
    await expect(
      keepRefused(refused, async () => {
        throw new Error('ENOSPC');
      }),
    ).rejects.toThrow('kafka refused 1 events for good and the dead-letter could not keep them: ENOSPC');
  });
});
