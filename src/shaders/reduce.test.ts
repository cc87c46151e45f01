// Reductions against float64 references: sum and mean over assorted axes and ranks, the bias
// gradient at a conv-sized row count, and grids folded by a small device limit.

import { describe, expect, it } from 'vitest';
import { expectAllClose, freshSeed, randomUniform } from '../../test/expect-all-close.js';
import { dot, numericGradient } from '../../test/gradcheck.js';
import { runKernel } from '../../test/kernel-harness.js';
import { defaultLimits, type KernelLimits } from './kernel.js';
import { biasGradient, biasGradientScratchSize, reducedShape, reduceMean, reduceSum } from './reduce.js';

const seed = freshSeed();
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** float64 Σ (or mean) of x over `axes`, by visiting every input element once. */
function referenceReduce(x: ArrayLike<number>, shape: number[], axes: number[], mean: boolean): Float64Array {
  const rank = shape.length;
  const reduced = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const outShape = shape.filter((_, k) => !reduced.has(k));
  const out = new Float64Array(size(outShape));
  const coord = new Array<number>(rank).fill(0);
  for (let i = 0; i < x.length; i++) {
    let rest = i;
    for (let k = rank - 1; k >= 0; k--) {
      coord[k] = rest % shape[k];
      rest = Math.floor(rest / shape[k]);
    }
    const o = shape.reduce((acc, d, k) => (reduced.has(k) ? acc : acc * d + coord[k]), 0);
    out[o] += x[i];
  }
  const count = size(shape) / Math.max(1, out.length);
  return mean ? out.map((v) => v / count) : out;
}

/** float64 column sums of a [rows, cols] matrix. */
function columnSums(dy: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] += dy[r * cols + c];
  return out;
}

/** Runs biasGradient as documented: [partial: dy → scratch, reduce: scratch → db] or [dy → db]. */
async function runBiasGradient(dy: Float32Array, rows: number, cols: number, limits?: KernelLimits) {
  const kernels = biasGradient({ rows, cols, limits });
  const scratch = biasGradientScratchSize({ rows, cols, limits });
  if (kernels.length === 1) {
    expect(scratch).toBe(0);
    return (await runKernel(kernels[0], [dy], [{ size: cols }]))[0];
  }
  const [partial] = await runKernel(kernels[0], [dy], [{ size: scratch }]);
  return (await runKernel(kernels[1], [partial as Float32Array], [{ size: cols }]))[0];
}

describe(`reduceSum and reduceMean (seed ${seed})`, () => {
  const cases: [number[], number[]][] = [
    [[7], [0]],
    [[5, 7, 3], [1]],
    [[5, 7, 3], [-1]],
    [[2, 3, 4, 5], [0, 2]],
    [[3, 1, 4], [0, 2]],
    [[2, 3, 1, 4, 3, 2], [1, 3, 5]],
    [[2, 3, 1, 4, 3, 2], [0, 1, 2, 3, 4, 5]],
    [[4, 6], []],
    [[], []],
    // Long reductions take the workgroup-per-row path: all of a 5,003-element vector, and
    // the leading axis of a [300, 7] matrix (strided reads).
    [[5003], [0]],
    [[300, 7], [0]],
    [[3, 250, 2], [1]],
  ];
  for (const mean of [false, true]) {
    const build = mean ? reduceMean : reduceSum;
    it(`${mean ? 'mean' : 'sum'} over ${cases.map(([s, a]) => `[${s}]/[${a}]`).join(' ')}`, async () => {
      for (const [index, [shape, axes]] of cases.entries()) {
        const x = randomUniform(size(shape), seed + index, -1, 1);
        const outSize = size(reducedShape('test', shape, axes));
        const [y] = await runKernel(build({ shape, axes }), [x], [{ size: outSize }]);
        // float32 partial sums of ≤ 5,003 terms in [-1, 1).
        expectAllClose(y, referenceReduce(x, shape, axes, mean), { rtol: 1e-5, atol: 2e-5 });
      }
    });
  }

  it('sums int32 exactly, on both layouts (one invocation a row, a workgroup a row)', async () => {
    for (const [index, [shape, axes]] of cases.entries()) {
      const x = Int32Array.from(randomUniform(size(shape), seed + 70 + index, -1000, 1000), Math.round);
      const outSize = size(reducedShape('test', shape, axes));
      const [y] = await runKernel(reduceSum({ shape, axes, dtype: 'int32' }), [x], [{ size: outSize, dtype: 'int32' }]);
      expect(y).toBeInstanceOf(Int32Array);
      expect(Array.from(y)).toEqual(Array.from(referenceReduce(x, shape, axes, false)));
    }
    expect(() => reduceMean({ shape: [3], axes: [0], dtype: 'int32' })).toThrow('reduceMean: expected float32 values, got int32');
  });

  it('keeps the error of a long sum near float32 rounding', async () => {
    // 100,000 values near 1: one running float32 sum is off by ~1e-6 relative here, 256
    // strided lanes and a tree by ~3e-8.
    const x = randomUniform(100_000, seed + 50, 0.999, 1.001);
    const [y] = await runKernel(reduceSum({ shape: [x.length], axes: [0] }), [x], [{ size: 1 }]);
    expectAllClose(y, referenceReduce(x, [x.length], [0], false), { rtol: 2e-7, atol: 0 });
  });

  it('folds the grid when the device allows few workgroups per dimension', async () => {
    const limits: KernelLimits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 5 };
    for (const [shape, axes] of [[[40, 300], [1]], [[900, 3], [1]]] as [number[], number[]][]) {
      const kernel = reduceSum({ shape, axes, limits });
      expect(kernel.dispatch[1]).toBeGreaterThan(1);
      const x = randomUniform(size(shape), seed + 60, -1, 1);
      const [y] = await runKernel(kernel, [x], [{ size: shape[0] }]);
      expectAllClose(y, referenceReduce(x, shape, axes, false), { rtol: 1e-5, atol: 2e-5 });
    }
  });

  it('rejects bad axes and shapes, saying what it expected', () => {
    expect(() => reduceSum({ shape: [2, 3], axes: [2] })).toThrow(/reduceSum: expected axes in \[-2, 2\) for shape \[2,3\], got 2/);
    expect(() => reduceMean({ shape: [2, 3], axes: [1, -1] })).toThrow(/reduceMean: axis 1 appears more than once/);
    expect(() => reduceSum({ shape: [1, 1, 1, 1, 1, 1, 1], axes: [0] })).toThrow(/rank ≤ 6, got \[1,1,1,1,1,1,1\] \(rank 7\)/);
    expect(() => reduceSum({ shape: [2, 1.5], axes: [0] })).toThrow(/shape\[1\] must be an integer ≥ 0, got 1.5/);
  });
});

describe(`biasGradient (seed ${seed})`, () => {
  it('sums the rows of small matrices, checked against finite differences', async () => {
    for (const [index, [rows, cols]] of [[1, 16], [37, 20], [300, 128], [1025, 17]].entries()) {
      const dy = randomUniform(rows * cols, seed + 70 + index, -1, 1);
      const db = await runBiasGradient(dy, rows, cols);
      // L(b) = Σ dy · (x + b broadcast over rows); the x term is constant in b.
      const numeric = numericGradient((b) => {
        let s = 0;
        for (let r = 0; r < rows; r++) s += dot(dy.subarray(r * cols, (r + 1) * cols), b);
        return s;
      }, new Float64Array(cols));
      expectAllClose(db, numeric, { rtol: 1e-4, atol: 1e-4 });
      expectAllClose(db, columnSums(dy, rows, cols), { rtol: 1e-5, atol: 2e-5 });
    }
  });

  it('splits 128·28·28 rows across many workgroups and stays accurate', async () => {
    const rows = 128 * 28 * 28;
    const cols = 16;
    const kernels = biasGradient({ rows, cols });
    expect(kernels).toHaveLength(2);
    // Enough invocations for every SIMD lane of a many-core device.
    expect(kernels[0].dispatch[0] * kernels[0].workgroupSize[0]).toBeGreaterThanOrEqual(1024);
    const dy = randomUniform(rows * cols, seed + 80, -1, 1);
    const db = await runBiasGradient(dy, rows, cols);
    // Column sums of 100,352 terms in [-1, 1) are O(300); float32 rounding of the parts stays far below 1e-3.
    expectAllClose(db, columnSums(dy, rows, cols), { rtol: 1e-5, atol: 1e-3 });
  });

  it('folds the partial-sum grid under a small workgroup limit', async () => {
    const limits: KernelLimits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 5 };
    const [rows, cols] = [20000, 40];
    const kernels = biasGradient({ rows, cols, limits });
    expect(kernels[0].dispatch[1]).toBeGreaterThan(1);
    const dy = randomUniform(rows * cols, seed + 90, -1, 1);
    expectAllClose(await runBiasGradient(dy, rows, cols, limits), columnSums(dy, rows, cols), { rtol: 1e-5, atol: 1e-4 });
  });

  it('rejects sizes that are not positive integers', () => {
    expect(() => biasGradient({ rows: 0, cols: 16 })).toThrow(/biasGradient: rows must be an integer ≥ 1, got 0/);
    expect(() => biasGradientScratchSize({ rows: 10, cols: 2.5 })).toThrow(/cols must be an integer ≥ 1, got 2.5/);
  });
});
