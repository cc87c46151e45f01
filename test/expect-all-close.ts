// The one closeness check of the test suite: |actual - expected| <= atol + rtol * |expected|
// for every element, with NaN matching only NaN, and a report of the worst offenders.

import { expect } from 'vitest';

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

type Numbers = ArrayLike<number> | number;

function flat(v: Numbers | unknown[]): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.flat(Infinity as 1) as number[];
  return Array.from(v as ArrayLike<number>);
}

export function expectAllClose(actual: Numbers | unknown[], expected: Numbers | unknown[], { rtol = 1e-5, atol = 1e-6 }: Tolerance = {}): void {
  const a = flat(actual);
  const e = flat(expected);
  expect(a.length, 'element count').toBe(e.length);
  const bad: string[] = [];
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const ok = Number.isNaN(e[i]) ? Number.isNaN(a[i]) : Math.abs(a[i] - e[i]) <= atol + rtol * Math.abs(e[i]);
    if (!ok) {
      worst = Math.max(worst, Math.abs(a[i] - e[i]));
      if (bad.length < 8) bad.push(`  [${i}] got ${a[i]}, expected ${e[i]}`);
    }
  }
  if (bad.length) {
    const count = a.filter((_, i) => !(Number.isNaN(e[i]) ? Number.isNaN(a[i]) : Math.abs(a[i] - e[i]) <= atol + rtol * Math.abs(e[i]))).length;
    expect.fail(`${count} of ${a.length} elements differ beyond atol=${atol}, rtol=${rtol} (worst |diff| ${worst}):\n${bad.join('\n')}`);
  }
}

/** A seeded generator of uniform floats in [lo, hi), so a failing case can be replayed. */
export function randomUniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + ((s >>> 0) / 2 ** 32) * (hi - lo);
  }
  return out;
}

/** A fresh seed per run, printed by the test title so a failure can be replayed. */
export function freshSeed(): number {
  return (Math.random() * 2 ** 31) >>> 0;
}
