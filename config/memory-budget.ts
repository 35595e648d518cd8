/**
 * The memory budget of a Sluice process (`memory_limit:`), read without zod so the launcher
 * (bin/launch.ts) can size Node's heap from it before the pipeline's modules load.
 *
 * What a budget covers: Node itself (its binary, V8, the code of Sluice and the libraries
 * the config uses: BASELINE_BYTES), the young generation, and what the components hold in
 * flight (read buffers, batches, the channel's cache, the producer's queue), which each
 * component declares (ComponentSpec.memory) and the validator checks against the budget.
 */

export type BudgetRole = 'agent' | 'collector' | 'run';

const MiB = 1024 * 1024;

/**
 * Per process. An agent is a sidecar beside every service: small. `run` holds both halves
 * but ships to local sinks, so the agent's budget fits it. A collector decodes Kafka
 * fetches (32 MiB per request by default) and fills bulk requests for several sinks.
 */
export const DEFAULT_MEMORY_LIMIT: Readonly<Record<BudgetRole, number>> = {
  agent: 128 * MiB,
  run: 128 * MiB,
  collector: 512 * MiB,
};

/** The smallest budget a process starts with: Node alone is about 45 MiB resident. */
export const MIN_MEMORY_LIMIT = 64 * MiB;

/** Node, V8 and the loaded code before any event is read (measured idle: 45–55 MiB). */
export const BASELINE_BYTES = 48 * MiB;

/**
 * V8's limits for a budget. Semi-spaces of limit/32 (4 MiB at 128 MiB, 16 MiB from 512 MiB):
 * an agent or `run` at full speed allocates a few KiB per event, nearly all of it garbage
 * within microseconds; the events in flight (a batch being filled, transactions awaiting
 * their acks) live for milliseconds, and every scavenge copies what is still alive, so a
 * young generation too small for that window spends its time copying and promoting them.
 * 4 MiB instead of 2 cut the agent's CPU per GiB by about 5 % at a lower RSS peak (with the
 * disk channel's read cache off, agent/channel/README.md); 8 MiB cut a little more but kept
 * the grown young generation after a burst (30 MiB more RSS at rest). The old generation's
 * ceiling sits above what the budget plans for the heap (the loaded code plus
 * inFlightAllowance): V8 collects harder as it nears the ceiling, and a process that still
 * reaches it (estimates too low for unusual events) ends with an out-of-memory error rather
 * than growing without bound.
 *
 * Nearly all of an event's heap outlives two scavenges (a batch waits for an fsync or an
 * ack) and is freed by mark-compacts, about one per 10 MiB promoted. Letting the old
 * generation grow to 3/8 of the budget before its first collection
 * (--initial-old-space-size) made those a third as many and cut `sluice run`'s CPU per GiB
 * by 15–25 %, but raised its peak RSS to 122–127 MiB and an idle agent's by 2.5 MiB, past
 * the 60 MiB a sidecar is allowed at rest; the agent's speed did not measurably change. Not
 * taken: a larger memory_limit buys the same (at 512 MiB, `sluice run` used 24 % less CPU).
 */
const CRASH_MARGIN_BYTES = 32 * MiB;

function semiSpaceMiB(limit: number): number {
  return Math.min(16, Math.max(1, Math.floor(limit / (32 * MiB))));
}

export function heapFlags(limit: number): string[] {
  const semiMiB = semiSpaceMiB(limit);
  const oldMiB = Math.max(32, Math.floor((limit - CRASH_MARGIN_BYTES) / MiB));
  return [`--max-old-space-size=${oldMiB}`, `--max-semi-space-size=${semiMiB}`];
}

/**
 * Bytes the components may hold in flight under `limit`: what Node and V8's young
 * generation leave. The young generation (V8 sizes it at three semi-spaces) is reserved
 * at limit/32 per semi-space without the whole-MiB
 * rounding of semiSpaceMiB: at least what V8 gets, and an allowance that grows with the
 * budget. Rounded, it fell by 2 MiB at each MiB the semi-space grew (127 MiB left more
 * than 128), and a pipeline just over the default budget was told to set a smaller one.
 */
export function inFlightAllowance(limit: number): number {
  const semiBytes = Math.min(16 * MiB, Math.max(MiB, limit / 32));
  return Math.floor(limit - BASELINE_BYTES - 3 * semiBytes);
}

/**
 * The smallest budget, in whole MiB, whose allowance holds `bytes`: the young generation
 * grows with the budget, so adding what is missing to the current one is not enough.
 * The allowance only grows with the budget, so every larger budget holds them too.
 */
export function smallestLimitMiB(bytes: number): number {
  let mib = Math.max(MIN_MEMORY_LIMIT, Math.ceil((bytes + BASELINE_BYTES) / MiB) * MiB) / MiB;
  while (inFlightAllowance(mib * MiB) < bytes) mib++;
  return mib;
}

/** "128MiB", "0.5MiB": budgets in messages. */
export function formatMiB(bytes: number): string {
  const mib = bytes / MiB;
  return `${Number.isInteger(mib) ? mib : mib.toFixed(1)}MiB`;
}
