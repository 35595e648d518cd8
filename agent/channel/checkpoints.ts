import { applyCheckpoint } from '../../core/checkpoint-patch.js';
import type { Logger } from '../../core/log.js';
import type { SourceCheckpoint } from '../../core/pipeline.js';

/**
 * Keeps sources' newest checkpoints whole as the channel meets them in put order: a patch
 * (SourceCheckpoint.patch) is merged into the checkpoint it was made against. One whose
 * checkpoint is not there (its record was damaged and skipped, or deleted) leaves its
 * source with no checkpoint until its next whole one: a source without one resumes from
 * its own checkpoint file or reads again, which repeats lines, where a state merged over
 * the wrong base could skip them. Said once per source.
 */
export class CheckpointChains {
  private readonly broken = new Set<string>();

  constructor(private readonly logger: Logger) {}

  /** Applies `cp` to the checkpoints in `into`. */
  apply(into: Map<string, SourceCheckpoint>, cp: SourceCheckpoint): void {
    const prev = into.get(cp.source);
    const merged = applyCheckpoint(prev, cp);
    if (merged) {
      into.set(cp.source, merged);
      return;
    }
    into.delete(cp.source);
    if (this.broken.has(cp.source)) return;
    this.broken.add(cp.source);
    this.logger.warn(
      { source: cp.source, seq: cp.seq, base: cp.base, held_seq: prev?.seq },
      'checkpoint patch without the checkpoint it applies to (its record was damaged or is gone); ' +
        'the source has no checkpoint in the channel until its next whole one',
    );
  }
}
