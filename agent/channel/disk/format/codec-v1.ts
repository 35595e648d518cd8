import type { LogEvent } from '../../../../core/event.js';
import { decodeEvent, WireFormatError } from '../../../../core/wire.js';
import type { EventsDecoder } from './codec.js';

/** Format version 1: the core/wire.ts JSON of each event, joined by "\n". Read only. */
export const codecV1: EventsDecoder = {
  version: 1,
  decode(buf, start, end, count, where) {
    const lines = buf.toString('utf8', start, end).split('\n');
    if (lines.length !== count) {
      throw new WireFormatError(`record says ${count} events but holds ${lines.length}`, where);
    }
    const events = new Array<LogEvent>(count);
    for (let i = 0; i < count; i++) events[i] = decodeEvent(lines[i]!, `${where}, event ${i}`);
    return events;
  },
};
