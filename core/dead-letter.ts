import type { LogEvent } from './event.js';

/**
 * Where a process puts what it cannot deliver, instead of dropping it. The collector: bus
 * records that do not decode (with their topic/partition/offset), and events no route or
 * destination accepted. The agent: events the bus refused for good (with the topic and the
 * record's size). A write resolves only once the entries are durable, so what is behind
 * them (bus offsets, a channel transaction) may commit.
 *
 * The contract the agent and the collector share; the `dead_letter:` component types that
 * implement it (file, kafka) are in dead-letter/, built by bin/ like every other component.
 */
export interface DeadLetterEntry {
  reason: string;
  /** Kafka coordinates of a record that could not be decoded; the topic alone for an event the bus refused. */
  topic?: string;
  partition?: number;
  offset?: string;
  key?: Buffer | null;
  /** The raw record value, as received. */
  value?: Buffer | null;
  /** An event that decoded but that nothing would take, or that the bus refused. */
  event?: LogEvent;
  /** The size in bytes of the record the bus refused (its encoded value). */
  bytes?: number;
}

export interface DeadLetter {
  open(): Promise<void>;
  write(entries: readonly DeadLetterEntry[]): Promise<void>;
  close(): Promise<void>;
}
