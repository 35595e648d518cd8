/**
 * Event ids as 96-bit keys, and the window of the ids a sink wrote most recently, in typed
 * arrays: 16 bytes per remembered id (32 at most with the tables' free room), not a JS
 * string and a Set entry each.
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

/** Slot stamps: never used, released (probing goes past it; a claim may reuse it), holding a key. */
const EMPTY = 0;
const RELEASED = 1;
const LIVE = 2;
const MIN_SLOTS = 1 << 12;

/**
 * A set of 96-bit keys with open addressing (linear probing). A slot is 4 words, [stamp,
 * key0, key1, key2], so a probe touches one cache line.
 */
class KeyTable {
  private slots: Uint32Array;
  private mask: number;
  /** Slots not EMPTY: probing goes past them, so they bound the load. */
  private used = 0;
  size = 0;

  constructor(expected: number) {
    const count = slotsFor(expected);
    this.slots = new Uint32Array(count * 4);
    this.mask = count - 1;
  }

  has(k0: number, k1: number, k2: number): boolean {
    return this.find(k0, k1, k2) >= 0;
  }

  /** The offset of the key's slot; -1 when it is not there. */
  private find(k0: number, k1: number, k2: number): number {
    const slots = this.slots;
    let slot = k0 & this.mask;
    for (;;) {
      const o = slot * 4;
      const stamp = slots[o]!;
      if (stamp === EMPTY) return -1;
      if (stamp === LIVE && slots[o + 1] === k0 && slots[o + 2] === k1 && slots[o + 3] === k2) return o;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Adds the key; false when it was there already. */
  claim(k0: number, k1: number, k2: number): boolean {
    const slots = this.slots;
    let slot = k0 & this.mask;
    let free = -1;
    for (;;) {
      const o = slot * 4;
      const stamp = slots[o]!;
      if (stamp === EMPTY) break;
      if (stamp === LIVE) {
        if (slots[o + 1] === k0 && slots[o + 2] === k1 && slots[o + 3] === k2) return false;
      } else if (free < 0) free = slot;
      slot = (slot + 1) & this.mask;
    }
    if (free < 0) {
      free = slot;
      this.used++;
    }
    const o = free * 4;
    slots[o] = LIVE;
    slots[o + 1] = k0;
    slots[o + 2] = k1;
    slots[o + 3] = k2;
    this.size++;
    // A generation is sized at half load; the batch that fills it may run over, up to 60 %.
    if (this.used * 5 > (this.mask + 1) * 3) this.rehash();
    return true;
  }

  /** Removes the key; false when it was not there. */
  release(k0: number, k1: number, k2: number): boolean {
    const o = this.find(k0, k1, k2);
    if (o < 0) return false;
    this.slots[o] = RELEASED;
    this.size--;
    return true;
  }

  forEach(fn: (k0: number, k1: number, k2: number) => void): void {
    const slots = this.slots;
    for (let o = 0; o < slots.length; o += 4) if (slots[o] === LIVE) fn(slots[o + 1]!, slots[o + 2]!, slots[o + 3]!);
  }

  /** Empties the table, sized again for `expected` keys. */
  clear(expected: number): void {
    const count = slotsFor(expected);
    if (count === this.mask + 1) this.slots.fill(0);
    else {
      this.slots = new Uint32Array(count * 4);
      this.mask = count - 1;
    }
    this.used = 0;
    this.size = 0;
  }

  /** Drops released slots, and doubles the table when the keys fill more than 30 % of it. */
  private rehash(): void {
    const old = this.slots;
    const count = this.size * 10 > (this.mask + 1) * 3 ? (this.mask + 1) * 2 : this.mask + 1;
    this.slots = new Uint32Array(count * 4);
    this.mask = count - 1;
    this.used = 0;
    this.size = 0;
    for (let o = 0; o < old.length; o += 4) if (old[o] === LIVE) this.claim(old[o + 1]!, old[o + 2]!, old[o + 3]!);
  }
}

/** Slots for `expected` keys at half load at most. */
function slotsFor(expected: number): number {
  let slots = MIN_SLOTS;
  while (slots < expected * 2) slots *= 2;
  return slots;
}

/**
 * The ids written most recently: two generations of up to window/2 ids each, so between
 * window/2 and window of the newest are always remembered. When the current generation is
 * full it becomes the previous one and the older one is cleared for reuse.
 *
 * A sink claims each id as it checks it: one call says "new" and remembers it, so a batch
 * holding an id twice keeps the first, and the write journal adds nothing when it commits.
 * A batch that was not written gives its ids back (release).
 *
 * Nearly every id is new, and the previous generation (megabytes, out of the CPU's caches)
 * would cost a memory round trip for each one: a Bloom filter of it (a byte per id, two
 * bits set from two more words of the key, built when the generation closes) answers "not
 * there" for all but a few per cent from the cache.
 */
export class IdWindow {
  private current: KeyTable;
  private previous: KeyTable;
  private filter = new Uint32Array(1);
  private filterMask = 0;

  constructor(readonly window: number) {
    this.current = new KeyTable(this.generation);
    this.previous = new KeyTable(0);
  }

  private get generation(): number {
    return Math.max(1, this.window >> 1);
  }

  get generationFull(): boolean {
    return this.current.size >= this.generation;
  }

  /** Whether the key is remembered (written, or claimed by the batch being written). */
  has(h: Uint32Array, at: number): boolean {
    const k0 = h[at]!;
    const k1 = h[at + 1]!;
    const k2 = h[at + 2]!;
    return this.current.has(k0, k1, k2) || this.previous.has(k0, k1, k2);
  }

  /** Remembers the key; false when it was remembered already (a duplicate). */
  claim(h: Uint32Array, at: number): boolean {
    const k0 = h[at]!;
    const k1 = h[at + 1]!;
    const k2 = h[at + 2]!;
    return !(this.mayBePrevious(k1, k2) && this.previous.has(k0, k1, k2)) && this.current.claim(k0, k1, k2);
  }

  /** Forgets a key claimed by a batch that was not written, so its retry writes the event. */
  release(h: Uint32Array, at: number): void {
    const k0 = h[at]!;
    const k1 = h[at + 1]!;
    const k2 = h[at + 2]!;
    // A commit of an earlier wave of the batch may have started a generation since the claim.
    if (!this.current.release(k0, k1, k2)) this.previous.release(k0, k1, k2);
  }

  /** Starts a new generation: the current one becomes the previous, the previous is forgotten. */
  rotate(): void {
    const older = this.previous;
    this.previous = this.current;
    older.clear(this.generation);
    this.current = older;
    let bits = 1 << 10;
    while (bits < this.previous.size * 8) bits *= 2;
    const filter = bits >>> 5 === this.filter.length ? this.filter.fill(0) : new Uint32Array(bits >>> 5);
    const mask = bits - 1;
    this.previous.forEach((_k0, k1, k2) => {
      const a = k1 & mask;
      const b = k2 & mask;
      filter[a >>> 5]! |= 1 << (a & 31);
      filter[b >>> 5]! |= 1 << (b & 31);
    });
    this.filter = filter;
    this.filterMask = mask;
  }

  private mayBePrevious(k1: number, k2: number): boolean {
    const a = k1 & this.filterMask;
    const b = k2 & this.filterMask;
    return (this.filter[a >>> 5]! & (1 << (a & 31))) !== 0 && (this.filter[b >>> 5]! & (1 << (b & 31))) !== 0;
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
