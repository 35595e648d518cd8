/**
 * Event ids as 96-bit hashes, and sets of them in typed arrays: a sink that remembers the
 * last million ids it wrote holds 12 bytes per id (25 MB at most for two generations),
 * not a JS string and a Set entry each. Three independent 32-bit hashes of the id's UTF-16
 * code units, each finished with murmur3's avalanche: the chance that an id never written
 * matches one of a million remembered ones is about 1e-23, far below the chance that two
 * events got the same id to begin with (ids are 128-bit or file identity + offset).
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

/** Writes the 96-bit hash of `id` into out[at..at+2]. */
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

/**
 * A set of 96-bit keys with open addressing. A slot is 4 words, [generation stamp, key...],
 * so a probe touches one cache line; clear() is O(1) (bumps the generation), so one table
 * serves every batch's "seen in this batch" check.
 */
export class IdTable {
  private slots: Uint32Array;
  private mask: number;
  private gen = 1;
  size = 0;

  constructor(expected = 1024) {
    const count = slotsFor(expected);
    this.slots = new Uint32Array(count * 4);
    this.mask = count - 1;
  }

  clear(): void {
    this.size = 0;
    this.gen++;
    if (this.gen === 0xffffffff) {
      for (let s = 0; s < this.slots.length; s += 4) this.slots[s] = 0;
      this.gen = 1;
    }
  }

  has(h: Uint32Array, at: number): boolean {
    return this.find(h, at) >= 0;
  }

  /** Adds the key; false when it was already there. */
  add(h: Uint32Array, at: number): boolean {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    const slot = this.find(h, at);
    if (slot >= 0) return false;
    const o = ~slot * 4;
    this.slots[o] = this.gen;
    this.slots[o + 1] = h[at]!;
    this.slots[o + 2] = h[at + 1]!;
    this.slots[o + 3] = h[at + 2]!;
    this.size++;
    return true;
  }

  /** The slot holding the key, or ~(the free slot where it would go). */
  private find(h: Uint32Array, at: number): number {
    const k0 = h[at]!;
    const k1 = h[at + 1]!;
    const k2 = h[at + 2]!;
    const slots = this.slots;
    const gen = this.gen;
    let slot = k0 & this.mask;
    for (;;) {
      const o = slot * 4;
      if (slots[o] !== gen) return ~slot;
      if (slots[o + 1] === k0 && slots[o + 2] === k1 && slots[o + 3] === k2) return slot;
      slot = (slot + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    const oldGen = this.gen;
    const count = (this.mask + 1) * 2;
    this.slots = new Uint32Array(count * 4);
    this.mask = count - 1;
    this.gen = 1;
    this.size = 0;
    for (let o = 0; o < old.length; o += 4) if (old[o] === oldGen) this.add(old, o + 1);
  }
}

function slotsFor(expected: number): number {
  let slots = 1024;
  while (slots < expected * 2) slots *= 2;
  return slots;
}

/**
 * The ids written most recently: two generations of up to `window / 2` ids each. When the
 * current one is full it becomes the previous one and the oldest is forgotten, so between
 * window/2 and window of the newest ids are always remembered.
 */
export class IdWindow {
  private current: IdTable;
  private previous: IdTable;

  constructor(readonly window: number) {
    this.current = new IdTable(Math.max(1, window >> 1));
    this.previous = new IdTable(16);
  }

  get generationFull(): boolean {
    return this.current.size >= this.window >> 1;
  }

  has(h: Uint32Array, at: number): boolean {
    return this.current.has(h, at) || this.previous.has(h, at);
  }

  add(h: Uint32Array, at: number): void {
    this.current.add(h, at);
  }

  /** Starts a new generation: the current one becomes the previous, the previous is forgotten. */
  rotate(): void {
    this.previous = this.current;
    this.current = new IdTable(Math.max(1, this.window >> 1));
  }
}
