/**
 * The preconditions of Channel.take shared by every channel: open, a sane batch size, and a
 * single taker with at most one open transaction (the forwarder), so events are never
 * handed out twice.
 */
export function checkTake(name: string, state: string, max: number, busy: boolean): void {
  if (state !== 'open') throw new Error(`channel "${name}" is ${state === 'new' ? 'not open yet' : 'closed'}: take refused`);
  if (!Number.isSafeInteger(max) || max < 1) throw new Error(`channel "${name}": take(max) needs a positive integer, got ${max}`);
  if (busy) throw new Error(`channel "${name}": a transaction is already open; commit or roll it back before taking again`);
}
