import type { Logger } from '../../../core/log.js';
import { channelMetrics } from '../metrics.js';

/**
 * Damaged bytes found in segments, by recovery at open or by the reader later: each place
 * is logged and counted once, with the segment, offset and size, since the records around
 * it are delivered and the damage is all an operator gets to see of what was skipped.
 */
export class DamageLog {
  private readonly seen = new Set<string>();

  constructor(
    private readonly component: string,
    private readonly logger: Logger,
  ) {}

  report(path: string, seg: number, from: number, to: number, reason: string): void {
    const key = `${seg}:${from}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    channelMetrics.corruptBytes.inc({ component: this.component }, to - from);
    this.logger.error({ segment: path, offset: from, bytes: to - from, reason }, 'damaged channel data skipped');
  }

  /** A damaged or torn end of a segment, cut off so new records never sit after garbage. */
  tornTail(path: string, from: number, bytes: number, reason: string): void {
    channelMetrics.corruptBytes.inc({ component: this.component }, bytes);
    this.logger.error({ segment: path, offset: from, bytes, reason }, 'torn channel segment tail cut off');
  }
}
