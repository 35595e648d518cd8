/**
 * Event ids as 96-bit keys, and the window of the ids a sink wrote most recently, in one
 * typed array: 16 bytes per remembered id, not a JS string and a Set entry each.
 *
 * Why 96 bits and not a 52-bit number in a Float64Array: a key that matches a remembered
 * one makes the sink skip the event as a duplicate, so a false match is a lost event. With
 * 500,000 ids remembered, a 52-bit key gives a new event a 1-in-9,000,000,000 chance of a
 * false match: a few events a day at 500,000 events a second. At 96 bits it is about 1e-23,
 * far below the chance that two events got the same id to begin with.
 */
export const ID_WORDS = 3;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Writes the 96-bit key of `id` into out[at..at+2]: three independent 32-bit hashes of its
 * UTF-16 code units, each finished with murmur3's avalanche. Ids come off the wire as any
 * string, so the key is a hash of all of it (a few per cent of the sink's time, measured),
 * not a slice of characters that two ids differing elsewhere would share.
 */
export function hashId(id: string, out: Uint32Array, at: number): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  let c = 0x2545f491;
  for (let i = 0; i < id.length; i++) {
    const ch = id.charCodeAt(i);
    a = Math.imul(a ^ ch, 0x01000193);
    b = Math.imul(b ^ ch, 0x5bd1e995);
    c = Math.imul((c + ch) | 0, 0x27d4eb2d);
  }
  const n = id.length;
  out[at] = fmix(a ^ n);
  out[at + 1] = fmix(b ^ Math.imul(n, 0x9e3779b1));
  out[at + 2] = fmix(c ^ 0x5851f42d);
}

/** Slot stamps: 0 never used, 1 released; from 2 on, the generation the key was claimed in. */
const EMPTY = 0;
const RELEASED = 1;
const FIRST_GENERATION = 2;
const MIN_SLOTS = 1 << 14;

/**
 * The ids written most recently: between window/2 and window of the newest are always
 * remembered. One open-addressing table (linear probing, a slot is [stamp, key0..key2], so
 * a probe touches one cache line) holds two generations of up to window/2 ids each; when the
 * current one is full it becomes the previous one and the older one expires in place: its
 * slots count as free, and are dropped when the table is rebuilt.
 *
 * A sink claims each id as it checks it: one probe both says "new" and remembers it, so a
 * batch that holds an id twice keeps the first, and the write journal adds nothing when it
 * commits. A batch that was not written gives its ids back (release).
 */
export class IdWindow {
  private slots: Uint32Array;
  private mask: number;
  private generation = FIRST_GENERATION;
  /** Slots with a stamp other than EMPTY: probing goes past them, so they bound the table's load. */
  private used = 0;
  /** Ids claimed in the current generation. */
  private claimed = 0;

  constructor(readonly window: number) {
    let count = MIN_SLOTS;
    // Two generations at half load; a bigger window grows the table as it fills (rebuild).
    while (count < Math.min(window * 2, 1 << 20)) count *= 2;
    this.slots = new Uint32Array(count * 4);
    this.mask = count - 1;
  }

  get generationFull(): boolean {
    return this.claimed >= this.window >> 1;
  }

  /** Whether the key is remembered (written, or claimed by the batch being written). */
  has(h: Uint32Array, at: number): boolean {
    const slot = this.find(h[at]!, h[at + 1]!, h[at + 2]!);
    return slot >= 0 && this.slots[slot * 4]! >= this.liveFrom;
  }

  /** Remembers the key; false when it was remembered already (a duplicate). */
  claim(h: Uint32Array, at: number): boolean {
    const k0 = h[at]!;
    const k1 = h[at + 1]!;
    const k2 = h[at + 2]!;
    const slots = this.slots;
    const live = this.liveFrom;
    let slot = k0 & this.mask;
    let free = -1;
    for (;;) {
      const o = slot * 4;
      const stamp = slots[o]!;
      if (stamp === EMPTY) break;
      if (slots[o + 1] === k0 && slots[o + 2] === k1 && slots[o + 3] === k2) {
        if (stamp >= live) return false;
        // Released or expired: it comes back in its own slot, so a key never has two.
        slots[o] = this.generation;
        this.claimed++;
        return true;
      }
      if (free < 0 && stamp < live) free = slot;
      slot = (slot + 1) & this.mask;
    }
    if (free < 0) {
      free = slot;
      this.used++;
    }
    const o = free * 4;
    slots[o] = this.generation;
    slots[o + 1] = k0;
    slots[o + 2] = k1;
    slots[o + 3] = k2;
    this.claimed++;
    if (this.used * 2 > this.mask + 1) this.rebuild();
    return true;
  }

  /** Forgets a key claimed by a batch that was not written, so its retry writes the event. */
  release(h: Uint32Array, at: number): void {
    const slot = this.find(h[at]!, h[at + 1]!, h[at + 2]!);
    if (slot < 0 || this.slots[slot * 4]! < this.liveFrom) return;
    this.slots[slot * 4] = RELEASED;
    this.claimed = Math.max(0, this.claimed - 1);
  }

  /** Starts a new generation: the current one becomes the previous, the previous expires. */
  rotate(): void {
    this.generation++;
    this.claimed = 0;
  }

  /** Stamps from here up are remembered: the current generation and the previous one. */
  private get liveFrom(): number {
    return Math.max(FIRST_GENERATION, this.generation - 1);
  }

  /** The slot holding the key (live or not), or -1. */
  private find(k0: number, k1: number, k2: number): number {
    const slots = this.slots;
    let slot = k0 & this.mask;
    for (;;) {
      const o = slot * 4;
      if (slots[o] === EMPTY) return -1;
      if (slots[o + 1] === k0 && slots[o + 2] === k1 && slots[o + 3] === k2) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Drops released and expired slots; doubles the table while what is live would fill more than a third of it. */
  private rebuild(): void {
    const old = this.slots;
    const live = this.liveFrom;
    let count = 0;
    for (let o = 0; o < old.length; o += 4) if (old[o]! >= live) count++;
    let slotCount = this.mask + 1;
    while (count * 3 > slotCount) slotCount *= 2;
    const slots = new Uint32Array(slotCount * 4);
    const mask = slotCount - 1;
    for (let o = 0; o < old.length; o += 4) {
      if (old[o]! < live) continue;
      let slot = old[o + 1]! & mask;
      while (slots[slot * 4] !== EMPTY) slot = (slot + 1) & mask;
      slots.set(old.subarray(o, o + 4), slot * 4);
    }
    this.slots = slots;
    this.mask = mask;
    this.used = count;
  }
}

/** The keys of the given rows of `keys` (row r is keys[3r..3r+2]), in one array. */
export function gatherKeys(keys: Uint32Array, rows: readonly (readonly number[])[]): Uint32Array {
  let n = 0;
  for (const r of rows) n += r.length;
  const out = new Uint32Array(n * ID_WORDS);
  let o = 0;
  for (const r of rows)
    for (const row of r) {
      const k = row * ID_WORDS;
      out[o] = keys[k]!;
      out[o + 1] = keys[k + 1]!;
      out[o + 2] = keys[k + 2]!;
      o += ID_WORDS;
    }
  return out;
}
