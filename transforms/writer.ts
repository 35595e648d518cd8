import type { LogEvent } from '../core/event.js';
import type { ChannelWriter } from '../core/pipeline.js';

/**
 * What the agent's sources write to: the transform chain, then the channel. A batch the
 * transforms empty still carries its checkpoint into the channel. A source retries a
 * refused put with the same array, so the chain runs once per batch (remembered by the
 * array) and never again on events it already changed — not even when a reload replaced
 * the chain in between.
 */
export function transformingWriter(
  channel: ChannelWriter,
  apply: (events: LogEvent[]) => LogEvent[],
): ChannelWriter & { stored(events: LogEvent[]): readonly LogEvent[] | undefined } {
  const done = new WeakMap<LogEvent[], LogEvent[]>();
  return {
    /** What the chain made of a batch put through it: what the channel got (a source's tap shows that, redacted). */
    stored: (events) => done.get(events),
    put(events, checkpoint, signal) {
      let kept = done.get(events);
      if (kept === undefined) done.set(events, (kept = apply(events)));
      return channel.put(kept, checkpoint, signal);
    },
    lastCheckpoint: (source) => channel.lastCheckpoint(source),
  };
}
