// The one seeded PRNG: shuffles and splits that a seed reproduces exactly, in Node and in the
// browser alike (Math.random cannot be seeded), for the data pipeline and fit alike.

/** Mixes two 32-bit values into one well-spread 32-bit value (a murmur3-style finalizer). */
export function mix32(a: number, b: number): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x7f4a7c15, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Checks a user seed and folds it to 32 bits; undefined draws a fresh one. */
export function seedFrom(seed: number | undefined, where: string): number {
  if (seed === undefined) return (Math.random() * 2 ** 32) >>> 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new Error(`${where}: seed must be a finite number, got ${String(seed)}`);
  }
  // Keep the high bits of large seeds instead of dropping them.
  return mix32(Math.floor(seed) >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
}

/** mulberry32: a fast generator with a 2^32 period, plenty for shuffling. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns them. */
  shuffle<T extends { length: number; [k: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}
