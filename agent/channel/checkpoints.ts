import { applyCheckpoint, applyCheckpointInPlace, patchApplies } from '../../core/checkpoint-patch.js';
import type { Logger } from '../../core/log.js';
import type { SourceCheckpoint } from '../../core/pipeline.js';

type Chain = Map<string, SourceCheckpoint>;
/** Which of a channel's chains: the newest put, the newest committed (the pointer's), recovery's replay. */
export type ChainName = 'put' | 'committed' | 'replay';

/**
 * Keeps sources' newest checkpoints whole as the channel meets them in put order: a patch
 * (SourceCheckpoint.patch) is merged into the checkpoint it was made against. When that
 * one is not there (its record was damaged and skipped, or deleted with a pointer that did
 * not reach the disk), the checkpoint held stays, older, and the patches after it are
 * passed over until the source's next whole one: the source repeats lines from there
 * rather than skip any. A state merged over the wrong checkpoint could skip lines, and no
 * checkpoint at all would start the source as on its first run (`start_at: end` skips
 * what was written meanwhile). Said once per break, per chain.
 */
export class CheckpointChains {
  /** Per chain, the sources whose patches are passed over until a whole checkpoint. */
  private readonly broken = new Map<ChainName, Set<string>>();

  constructor(private readonly logger: Logger) {}

  /** Applies `cp` to the checkpoints in `into`, whose states other chains may share: never changed in place. */
  apply(chain: ChainName, into: Chain, cp: SourceCheckpoint): void {
    const merged = applyCheckpoint(into.get(cp.source), cp);
    if (merged) this.took(chain, into, merged);
    else this.passOver(chain, into, cp);
  }

  /**
   * Applies `cp` to `into` during recovery's replay, where `owned` names the sources whose
   * state in `into` nothing else holds: merged in place, a state copied once before its
   * first patch. A channel may hold millions of small records; copying the whole state at
   * each would make opening it cost records × files.
   */
  replay(into: Chain, cp: SourceCheckpoint, owned: Set<string>): void {
    if (!cp.patch) {
      // Parsed from its record: nothing else holds it.
      owned.add(cp.source);
      this.took('replay', into, cp);
      return;
    }
    let prev = into.get(cp.source);
    if (prev && !owned.has(cp.source) && patchApplies(prev, cp)) {
      prev = { ...prev, state: structuredClone(prev.state) };
      owned.add(cp.source);
    }
    const merged = applyCheckpointInPlace(prev, cp);
    if (merged) this.took('replay', into, merged);
    else this.passOver('replay', into, cp);
  }

  private took(chain: ChainName, into: Chain, cp: SourceCheckpoint): void {
    into.set(cp.source, cp);
    if (!cp.patch) this.broken.get(chain)?.delete(cp.source);
  }

  private passOver(chain: ChainName, into: Chain, cp: SourceCheckpoint): void {
    let broken = this.broken.get(chain);
    if (!broken) this.broken.set(chain, (broken = new Set()));
    if (broken.has(cp.source)) return;
    broken.add(cp.source);
    const held = into.get(cp.source);
    this.logger.warn(
      { source: cp.source, chain, seq: cp.seq, base: cp.base, held_seq: held?.seq },
      'checkpoint patch without the checkpoint it applies to (its record was damaged or is gone); ' +
        'the source keeps its older checkpoint in the channel until its next whole one (lines from there may come twice)',
    );
  }
}
