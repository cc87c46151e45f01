// toHalf against the host's rounding: every element within one half ulp of rounding to nearest
// (WGSL lets pack2x16float round either way), exact where the value is a half, and an odd
// size's last high half zero.

import { describe, expect, it } from 'vitest';
import { freshSeed, randomUniform } from '../../test/expect-all-close.js';
import { halfBits, halves } from '../../test/half.js';
import { runKernel } from '../../test/kernel-harness.js';
import { halfToFloat } from '../nn/tensor.js';
import { toHalf } from './half.js';

const seed = freshSeed();

describe(`toHalf (seed ${seed})`, () => {
  it('rounds float32 values to halves, two to a word', async () => {
    for (const [index, size] of [1, 2, 7, 1000, 4097].entries()) {
      const x = randomUniform(size, seed + index, -3, 3);
      x[0] = 0.333251953125; // a half exactly: 0x3555
      if (size > 1) x[1] = -65504; // the largest half
      const [words] = await runKernel(toHalf({ size }), [x], [{ size: Math.ceil(size / 2), dtype: 'uint32' }]);
      const bits = new Uint16Array(words.buffer);
      expect(bits[0]).toBe(0x3555);
      if (size > 1) expect(bits[1]).toBe(0xfbff);
      if (size % 2) expect(bits[size]).toBe(0);
      for (let i = 0; i < size; i++) {
        const nearest = halfBits(x[i]);
        // One step of the bits either way is one half ulp (no value here is near a binade's end but ±65504).
        if (Math.abs(bits[i] - nearest) > 1) throw new Error(`element ${i}: ${x[i]} became ${halfToFloat(bits[i])}, nearest half ${halfToFloat(nearest)}`);
      }
      expect(halves(x).values[0]).toBe(0.333251953125);
    }
  });

  it('names a bad size', () => {
    expect(() => toHalf({ size: 0 })).toThrow('toHalf: size must be an integer ≥ 1, got 0');
  });
});
