import type { EventsDecoder } from './codec.js';
import { decodeLayout, type LayoutSpec } from './binary-layout.js';

/**
 * Format version 2: the binary layout of binary-layout.ts with 2 bytes of flags per event.
 * It has no slot for the event's level (an event put with one lost it): read only.
 */
const spec: LayoutSpec = { flagBytes: 2 };

export const codecV2: EventsDecoder = {
  version: 2,
  decode: (buf, start, end, count, where) => decodeLayout(spec, buf, start, end, count, where),
};
