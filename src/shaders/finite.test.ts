// The non-finite finder against a host reference: fresh random tensors with NaN, +Infinity and
// −Infinity planted at random places (or none), the largest finite floats and subnormals that
// must not count, a find that an earlier run recorded kept, and tensors longer than a workgroup.

import { describe, expect, it } from 'vitest';
import { freshSeed, randomUniform } from '../../test/expect-all-close.js';
import { runKernel } from '../../test/kernel-harness.js';
import { findNonFinite, nonFiniteAt } from './finite.js';

const seed = freshSeed();

/** The reference: the first element that is NaN or ±Infinity, or −1. */
function firstBad(x: Float32Array): number {
  return x.findIndex((v) => !Number.isFinite(v));
}

const bads = [NaN, Infinity, -Infinity];

describe(`findNonFinite (seed ${seed})`, () => {
  const cases = [
    { rows: 1, rowSize: 1 },
    { rows: 7, rowSize: 3 },
    { rows: 32, rowSize: 4 },
    { rows: 129, rowSize: 784 }, // one workgroup strides over 100,000 elements
  ];
  for (const [k, { rows, rowSize }] of cases.entries()) {
    it(`[${rows}, ${rowSize}]: the first of several planted values, its sample, element and value`, async () => {
      const size = rows * rowSize;
      const x = randomUniform(size, seed + k, -1e3, 1e3);
      x[0] = 3.4028234663852886e38; // the largest float32: finite
      if (size > 1) x[1] = 1e-45; // a subnormal: finite
      const r = randomUniform(4, seed + 100 + k, 0, 1);
      const planted = Array.from({ length: size > 2 ? 3 : 0 }, (_, j) => 2 + Math.floor(r[j] * (size - 2)));
      planted.forEach((at, j) => (x[at] = bads[(j + Math.floor(r[3] * 3)) % 3]));
      const state = new Uint32Array([41, 0, 0, 1]);
      const [acc] = await runKernel(findNonFinite({ size, rowSize, which: 1 }), [x, state], [{ size: 8, init: new Float32Array([5, 6, 7, 0, 0, 0, 0, 0]) }]);
      const first = firstBad(x);
      expect(Array.from(acc.subarray(0, 3))).toEqual([5, 6, 7]); // the metrics' words are left alone
      if (first < 0) {
        expect(Array.from(acc.subarray(nonFiniteAt))).toEqual([0, 0, 0, 0, 0]);
        return;
      }
      expect(Array.from(acc.subarray(nonFiniteAt, nonFiniteAt + 4))).toEqual([1, 42, Math.floor(first / rowSize), first % rowSize]);
      expect(Object.is(acc[7], x[first]) || (Number.isNaN(acc[7]) && Number.isNaN(x[first]))).toBe(true);
    });
  }

  it('keeps the find an earlier run recorded, and finds nothing in finite data', async () => {
    const x = new Float32Array([1, NaN, 3, 4]);
    const earlier = new Float32Array([0, 0, 0, 0, 9, 2, 3, -Infinity]);
    const [kept] = await runKernel(findNonFinite({ size: 4, rowSize: 2, which: 0 }), [x, new Uint32Array([77, 0, 0, 1])], [{ size: 8, init: earlier.slice() }]);
    expect(Array.from(kept)).toEqual(Array.from(earlier));
    const [none] = await runKernel(findNonFinite({ size: 4, rowSize: 2, which: 0 }), [new Float32Array([1, -2, 0, 1e38]), new Uint32Array(4)], [{ size: 8, init: new Float32Array(8) }]);
    expect(Array.from(none)).toEqual(new Array(8).fill(0));
  });

  it('refuses sizes that are not whole rows', () => {
    expect(() => findNonFinite({ size: 10, rowSize: 3, which: 0 })).toThrow('findNonFinite: size 10 is not a whole number of rows of 3');
    expect(() => findNonFinite({ size: 0, rowSize: 1, which: 0 })).toThrow('findNonFinite: size must be an integer ≥ 1, got 0');
  });
});
