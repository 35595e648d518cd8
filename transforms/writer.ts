import type { LogEvent } from '../core/event.js';
import type { ChannelWriter } from '../core/pipeline.js';
import type { TransformChain } from './chain.js';

/**
 * What the agent's sources write to: the transform chain, then the channel. A batch the
 * transforms empty still carries its checkpoint into the channel. A source retries a
 * refused put with the same array, so the chain runs once per batch (remembered by the
 * array) and never again on events it already changed.
 */
export function transformingWriter(channel: ChannelWriter, chain: TransformChain): ChannelWriter {
  const done = new WeakMap<LogEvent[], LogEvent[]>();
  return {
    put(events, checkpoint) {
      let kept = done.get(events);
      if (kept === undefined) done.set(events, (kept = chain.apply(events)));
      return channel.put(kept, checkpoint);
    },
    lastCheckpoint: (source) => channel.lastCheckpoint(source),
  };
}
