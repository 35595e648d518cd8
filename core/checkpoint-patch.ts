import type { SourceCheckpoint } from './pipeline.js';

/**
 * A source's newest checkpoint after `next` (SourceCheckpoint.patch): a whole checkpoint
 * as it is; a patch merged into `prev`'s state, whole again, with `next`'s seq. Undefined
 * when the patch does not apply to `prev` (none, or not the checkpoint it was made
 * against): the chain is broken and only the next whole checkpoint mends it.
 *
 * `prev` is never modified: channels keep several chains (newest put, newest committed)
 * that share states. Only the objects along the patched paths are copied.
 */
export function applyCheckpoint(prev: SourceCheckpoint | undefined, next: SourceCheckpoint): SourceCheckpoint | undefined {
  return step(prev, next, (target, patch) => mergePatch(target, patch));
}

/**
 * applyCheckpoint for a `prev` whose state nothing else holds: merged into it in place, so
 * that replaying a channel of millions of small records costs what the patches hold, not
 * the whole state each time.
 */
export function applyCheckpointInPlace(prev: SourceCheckpoint | undefined, next: SourceCheckpoint): SourceCheckpoint | undefined {
  return step(prev, next, (target, patch) => mergePatch(target, patch, true));
}

/** Whether the patch `next` was made against `prev` (or made it: the same record seen again). */
export function patchApplies(prev: SourceCheckpoint, next: SourceCheckpoint): boolean {
  return prev.run === next.run && (prev.seq === next.seq || next.base === prev.seq);
}

function step(
  prev: SourceCheckpoint | undefined,
  next: SourceCheckpoint,
  merge: (target: unknown, patch: unknown) => unknown,
): SourceCheckpoint | undefined {
  if (!next.patch) return next;
  if (!prev || !patchApplies(prev, next)) return undefined;
  // The same record replayed (recovery re-reads the record the pointer had passed partly): already merged.
  if (prev.seq === next.seq) return prev;
  const cp: SourceCheckpoint = { source: next.source, seq: next.seq, state: merge(prev.state, next.state) };
  if (next.run !== undefined) cp.run = next.run;
  return cp;
}

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * RFC 7386: an object patch is merged member by member into the target (an object, else
 * {}), `null` removing a member; any other patch (an array, a scalar) replaces the target.
 * `inPlace`: the target's objects are changed (nothing else may hold them); else only the
 * objects along the patched paths are copied and the target is left as it was.
 */
export function mergePatch(target: unknown, patch: unknown, inPlace = false): unknown {
  if (!isObject(patch)) return patch;
  const base = isObject(target) ? target : {};
  const out: JsonObject = inPlace ? base : { ...base };
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) {
      delete out[key];
      continue;
    }
    // defineProperty: a member named "__proto__" (JSON.parse makes it an own member) must stay one.
    Object.defineProperty(out, key, {
      value: mergePatch(Object.hasOwn(base, key) ? base[key] : undefined, value, inPlace),
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  return out;
}
