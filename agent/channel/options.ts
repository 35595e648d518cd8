import { z } from 'zod';
import { byteSize } from '../../core/units.js';

/**
 * A channel size option: any size core/units.ts reads ("64MiB", "1GB", 4096), as a whole
 * number of bytes and at least `min`, so a typo like "64" for "64MiB" fails at startup.
 */
export const bytesAtLeast = (min: number) =>
  byteSize().pipe(
    z
      .number()
      .int({ error: (iss) => `must be a whole number of bytes, got ${String(iss.input)}` })
      .min(min, { error: (iss) => `must be at least ${min} bytes, got ${String(iss.input)}` }),
  );
