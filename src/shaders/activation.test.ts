// Activation and softmax kernels against float64 references, their backward passes against
// finite differences, and inputs as large as ±100 that must not produce NaN or infinity.

import { describe, expect, it } from 'vitest';
import { expectAllClose, freshSeed, randomUniform } from '../../test/expect-all-close.js';
import { dot, numericGradient } from '../../test/gradcheck.js';
import { runKernel } from '../../test/kernel-harness.js';
import {
  activationBackward, activationForward, activationNames, activationReference, softmaxBackward, softmaxForward,
} from './activation.js';
import { defaultLimits, type KernelLimits } from './kernel.js';

const seed = freshSeed();

/** float64 softmax over the rows of x [rows, cols], max-subtracted. */
function referenceSoftmax(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) s += (y[r * cols + j] = Math.exp(x[r * cols + j] - m));
    for (let j = 0; j < cols; j++) y[r * cols + j] /= s;
  }
  return y;
}

/** Random values in [-4, 4), with the extremes ±100 and ±30 at the front. */
function inputs(n: number, s: number): Float32Array {
  const x = randomUniform(n, seed + s, -4, 4);
  x.set([100, -100, 30, -30].slice(0, n));
  return x;
}

describe(`activationForward and activationBackward (seed ${seed})`, () => {
  for (const activation of activationNames) {
    it(`${activation}: forward against float64, backward against finite differences`, async () => {
      for (const [index, n] of [1, 4, 7, 1000].entries()) {
        let x = inputs(n, 10 * index); // sizes that are multiples of 4 take the vec4 kernels
        // ReLU has a kink at 0 where finite differences mean nothing; keep clear of it.
        if (activation === 'relu') x = x.map((v) => (Math.abs(v) < 0.01 ? v + 0.02 : v));
        const f = activationReference[activation].forward;
        const [y] = await runKernel(activationForward({ activation, size: n }), [x], [{ size: n }]);
        // WGSL exp and tanh are accurate to a few ulp (relative), plus denormals flushed to 0.
        expectAllClose(y, Array.from(x, f), { rtol: 2e-6, atol: 1e-7 });

        const dy = randomUniform(n, seed + 10 * index + 1, -1, 1);
        const [dx] = await runKernel(activationBackward({ activation, size: n }), [y as Float32Array, dy], [{ size: n }]);
        const numeric = numericGradient((v) => dot(dy, Array.from(v, f)), x);
        // The derivative from float32 y (1 - y², y(1 - y)) carries y's rounding: ~1e-7 absolute.
        expectAllClose(dx, numeric, { rtol: 1e-4, atol: 1e-6 });
        expect(Array.from(dx).some((v) => !Number.isFinite(v))).toBe(false);
      }
    });
  }

  it('rejects an unknown activation and a bad size, naming them', () => {
    expect(() => activationForward({ activation: 'gelu' as never, size: 4 })).toThrow(/Unknown activation 'gelu'; known: linear, relu, sigmoid, tanh/);
    expect(() => activationBackward({ activation: 'relu', size: -1 })).toThrow(/activationBackward: size must be an integer ≥ 0, got -1/);
  });
});

describe(`softmaxForward and softmaxBackward (seed ${seed})`, () => {
  // Short rows take one invocation per row, long ones (> 64) a workgroup per row.
  const shapes: [number, number][] = [[1, 1], [5, 3], [7, 10], [3, 65], [4, 200], [2, 3001]];

  it(`forward over rows ${shapes.map((s) => s.join('×')).join(', ')}, with ±100 logits`, async () => {
    for (const [index, [rows, cols]] of shapes.entries()) {
      const x = inputs(rows * cols, 100 + index);
      // A row of equal huge values, where an unshifted exp would overflow.
      if (rows > 2) x.fill(100, cols, 2 * cols);
      const [y] = await runKernel(softmaxForward({ rows, cols }), [x], [{ size: rows * cols }]);
      expectAllClose(y, referenceSoftmax(x, rows, cols), { rtol: 1e-5, atol: 1e-7 });
    }
  });

  it('backward against finite differences of the forward', async () => {
    for (const [index, [rows, cols]] of [[5, 3], [4, 11], [3, 150]].entries()) {
      const x = randomUniform(rows * cols, seed + 200 + index, -3, 3);
      const y = Float32Array.from(referenceSoftmax(x, rows, cols));
      const dy = randomUniform(rows * cols, seed + 210 + index, -1, 1);
      const [dx] = await runKernel(softmaxBackward({ rows, cols }), [y, dy], [{ size: rows * cols }]);
      const numeric = numericGradient((v) => dot(dy, referenceSoftmax(v, rows, cols)), x);
      expectAllClose(dx, numeric, { rtol: 1e-4, atol: 1e-6 });
    }
  });

  it('folds its grid under a small workgroup limit, on both row layouts', async () => {
    const limits: KernelLimits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 3 };
    for (const [rows, cols] of [[500, 5], [20, 100]]) {
      const kernel = softmaxForward({ rows, cols, limits });
      expect(kernel.dispatch[1]).toBeGreaterThan(1);
      const x = randomUniform(rows * cols, seed + 300, -5, 5);
      const [y] = await runKernel(kernel, [x], [{ size: rows * cols }]);
      expectAllClose(y, referenceSoftmax(x, rows, cols), { rtol: 1e-5, atol: 1e-7 });
      const dy = randomUniform(rows * cols, seed + 301, -1, 1);
      const [dx] = await runKernel(softmaxBackward({ rows, cols, limits }), [y as Float32Array, dy], [{ size: rows * cols }]);
      const expected = Array.from(y, (v, i) => {
        const r = Math.floor(i / cols);
        return v * (dy[i] - dot(dy.subarray(r * cols, (r + 1) * cols), y.subarray(r * cols, (r + 1) * cols)));
      });
      expectAllClose(dx, expected, { rtol: 1e-5, atol: 1e-7 });
    }
  });

  it('rejects rows or columns that are not positive integers', () => {
    expect(() => softmaxForward({ rows: 2, cols: 0 })).toThrow(/softmaxForward: cols must be an integer ≥ 1, got 0/);
    expect(() => softmaxBackward({ rows: 1.5, cols: 4 })).toThrow(/softmaxBackward: rows must be an integer ≥ 1, got 1.5/);
  });
});
