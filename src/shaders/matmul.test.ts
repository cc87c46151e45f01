// matMul against a float64 reference: every transpose combination, awkward sizes, batches,
// the fused bias + activation epilogue, and its use as its own backward pass.

import { describe, expect, it } from 'vitest';
import { ready, runtime } from '../gpu/device.js';
import { expectAllClose, freshSeed, randomUniform } from '../../test/expect-all-close.js';
import { dot, numericGradient } from '../../test/gradcheck.js';
import { halves } from '../../test/half.js';
import { runKernel } from '../../test/kernel-harness.js';
import { activationReference, type Activation } from './activation.js';
import { defaultLimits } from './kernel.js';
import { denseGradients, matMul, type MatMulParams } from './matmul.js';
import { dropoutBackward, dropoutForward } from './random.js';
import { packStepState } from './step-state.js';

/** float64 reference of C = act(op(A)·op(B) + bias) for one batch entry. */
function reference(a: ArrayLike<number>, b: ArrayLike<number>, p: MatMulParams, biasValues?: ArrayLike<number>): Float64Array {
  const { m, n, k, transposeA = false, transposeB = false, batch = 1, broadcastB = false, activation = 'linear' } = p;
  const c = new Float64Array(batch * m * n);
  for (let e = 0; e < batch; e++) {
    const ao = e * m * k;
    const bo = broadcastB ? 0 : e * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) {
          s += a[ao + (transposeA ? t * m + i : i * k + t)] * b[bo + (transposeB ? j * k + t : t * n + j)];
        }
        c[e * m * n + i * n + j] = activationReference[activation].forward(s + (biasValues ? biasValues[j] : 0));
      }
    }
  }
  return c;
}

const seed = freshSeed();

async function check(p: MatMulParams, s: number): Promise<void> {
  const batch = p.batch ?? 1;
  const a = randomUniform(batch * p.m * p.k, seed + s);
  const b = randomUniform((p.broadcastB ? 1 : batch) * p.k * p.n, seed + s + 1);
  const bias = p.bias ? randomUniform(p.n, seed + s + 2) : undefined;
  const [c] = await runKernel(matMul(p), bias ? [a, b, bias] : [a, b], [{ size: batch * p.m * p.n }]);
  // float32 accumulation over k terms of magnitude ≤ 1.
  expectAllClose(c, reference(a, b, p, bias), { rtol: 1e-4, atol: 2e-6 * p.k });
}

describe(`matMul (seed ${seed})`, () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 13, 5],
    [33, 4, 17],
    [5, 257, 3],
    [64, 64, 64],
    [19, 100, 130],
  ];
  // Each case runs twice: products this small take the one-element-per-invocation kernel by
  // default, and the register-tiled kernel when smallMacs is 0.
  const kernels = [{}, { smallMacs: 0 }];
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      it(`op(A)·op(B) with transposeA=${transposeA}, transposeB=${transposeB} at ${shapes.map((s) => s.join('×')).join(', ')}`, async () => {
        for (const [index, [m, n, k]] of shapes.entries()) {
          for (const kernel of kernels) await check({ m, n, k, transposeA, transposeB, ...kernel }, 10 * index);
        }
      });
    }
  }

  it('fuses bias and every activation into the epilogue', async () => {
    const all: Activation[] = ['linear', 'relu', 'sigmoid', 'tanh'];
    for (const [index, activation] of all.entries()) {
      for (const kernel of kernels) await check({ m: 9, n: 10, k: 11, bias: true, activation, transposeB: index % 2 === 1, ...kernel }, 100 + index);
    }
  });

  it('runs batches, with B per entry or broadcast', async () => {
    for (const kernel of kernels) {
      await check({ m: 5, n: 8, k: 6, batch: 3, ...kernel }, 200);
      await check({ m: 5, n: 7, k: 6, batch: 4, broadcastB: true, transposeA: true, ...kernel }, 210);
    }
  });

  it('reads a half-precision B, widened as loaded and accumulated in float32', async () => {
    // The reference multiplies by the halves' exact values, so only float32 rounding is left.
    for (const [index, [m, n, k, transposeB]] of ([[7, 13, 5, false], [33, 8, 16, false], [19, 100, 130, false], [12, 9, 20, true], [5, 3, 1, false]] as const).entries()) {
      for (const kernel of [...kernels, { smallMacs: 0, tileRows: 4 }]) {
        const p: MatMulParams = { m, n, k, transposeB, bias: true, activation: 'relu', halfB: true, ...kernel };
        const a = randomUniform(m * k, seed + 500 + 10 * index);
        const b = halves(randomUniform(k * n, seed + 501 + 10 * index));
        const bias = randomUniform(n, seed + 502 + 10 * index);
        const kernelBuilt = matMul(p);
        expect(kernelBuilt.name).toContain('_hb');
        expect(kernelBuilt.code).toMatch(/^enable f16;|\nenable f16;/);
        const [c] = await runKernel(kernelBuilt, [a, b.packed, bias], [{ size: m * n }]);
        expectAllClose(c, reference(a, b.values, p, bias), { rtol: 1e-4, atol: 2e-6 * k });
      }
    }
  });

  it('takes the small kernel up to 2^18 multiply-adds unless a tile option is given', () => {
    const loops = (p: MatMulParams) => (matMul(p).code.match(/for \(/g) ?? []).length;
    expect(loops({ m: 64, n: 64, k: 64 })).toBe(1);
    expect(loops({ m: 64, n: 64, k: 65 })).toBeGreaterThan(1);
    expect(loops({ m: 8, n: 8, k: 8, tileRows: 4 })).toBeGreaterThan(1);
  });

  it('tiles of other sizes give the same result', async () => {
    for (const [tileRows, lanes] of [[1, 1], [4, 5]]) await check({ m: 23, n: 45, k: 19, tileRows, lanes }, 300);
  });

  it('folds a grid wider than the device allows into two dimensions', async () => {
    const p: MatMulParams = { m: 40, n: 9, k: 3, tileRows: 1, limits: { ...defaultLimits, maxComputeWorkgroupsPerDimension: 6 } };
    expect(matMul(p).dispatch[1]).toBeGreaterThan(1);
    await check(p, 400);
  });

  it('applies dropout in the epilogue exactly as the dropout kernel after it would', async () => {
    const state = packStepState({ step: 7, seed: 0x9e3779b9, learningRate: 0, iteration: 1 });
    const dropout = { rate: 0.4, seed: seed % 2 ** 32 };
    for (const [index, [m, n, k]] of [[9, 3, 10], [12, 8, 8]].entries()) {
      for (const kernel of kernels) {
        const p: MatMulParams = { m, n, k, bias: true, activation: 'relu', ...kernel };
        const a = randomUniform(m * k, seed + 900 + 10 * index);
        const b = randomUniform(k * n, seed + 901 + 10 * index);
        const bias = randomUniform(n, seed + 902 + 10 * index);
        const [c] = await runKernel(matMul(p), [a, b, bias], [{ size: m * n }]);
        const [expected] = await runKernel(dropoutForward({ size: m * n, ...dropout }), [state, c], [{ size: m * n }]);
        const fused = matMul({ ...p, dropout });
        expect(fused.name).toMatch(/_dropout$/);
        const [out] = await runKernel(fused, [a, b, bias, state], [{ size: m * n }]);
        expectAllClose(out, expected, { rtol: 0, atol: 0 });
        expect(Array.from(out).filter((v) => v === 0).length).toBeGreaterThan(0.3 * m * n);
      }
    }
  });

  it('takes the gradient through a fused relu and dropout exactly as the dropout kernel after it would', async () => {
    const state = packStepState({ step: 3, seed: 0x85ebca6b, learningRate: 0, iteration: 1 });
    const dropout = { rate: 0.4, seed: (seed + 17) % 2 ** 32 };
    for (const [index, [m, n, k]] of [[9, 3, 10], [12, 8, 8]].entries()) {
      for (const kernel of kernels) {
        // y: a relu and dropout's output (zeros where either dropped it); the product: dz·Wᵀ.
        const raw = randomUniform(m * n, seed + 950 + 10 * index);
        const [y] = await runKernel(dropoutForward({ size: m * n, ...dropout }), [state, raw.map((v) => Math.max(v, 0))], [{ size: m * n }]);
        const p: MatMulParams = { m, n, k, transposeB: true, ...kernel };
        const a = randomUniform(m * k, seed + 951 + 10 * index);
        const b = randomUniform(n * k, seed + 952 + 10 * index);
        const [dy] = await runKernel(matMul(p), [a, b], [{ size: m * n }]);
        const [expected] = await runKernel(dropoutBackward({ size: m * n, ...dropout, activation: 'relu' }), [state, dy, y], [{ size: m * n }]);
        const gated = matMul({ ...p, gate: { scale: 1 / (1 - dropout.rate) } });
        expect(gated.name).toMatch(/_dropout_relu_grad$/);
        const [out] = await runKernel(gated, [a, b, y], [{ size: m * n }]);
        expectAllClose(out, expected, { rtol: 0, atol: 0 });
        expect(Array.from(out).filter((v) => v === 0).length).toBeGreaterThan(0.5 * m * n);
        expect(Array.from(out).filter((v) => v !== 0).length).toBeGreaterThan(0.1 * m * n);
      }
    }
    expect(() => matMul({ m: 2, n: 2, k: 2, bias: true, gate: { scale: 2 } })).toThrow(/gated product takes no bias/);
  });

  it('computes a dense layer\'s weight and bias gradients in one dispatch', async () => {
    for (const [index, [rows, inputs, units]] of [[1, 1, 1], [32, 4, 10], [32, 10, 3], [300, 7, 13]].entries()) {
      const x = randomUniform(rows * inputs, seed + 800 + 10 * index);
      const dy = randomUniform(rows * units, seed + 801 + 10 * index);
      const [dw, db] = await runKernel(denseGradients({ rows, inputs, units }), [x, dy], [{ size: inputs * units }, { size: units }]);
      expectAllClose(dw, reference(x, dy, { m: inputs, n: units, k: rows, transposeA: true }), { rtol: 1e-4, atol: 2e-6 * rows });
      expectAllClose(db, reference(new Float32Array(rows).fill(1), dy, { m: 1, n: units, k: rows, transposeA: true }), { rtol: 1e-4, atol: 2e-6 * rows });
    }
    expect(() => denseGradients({ rows: 0, inputs: 2, units: 3 })).toThrow('denseGradients: rows must be a positive integer, got 0');
  });

  it('rejects sizes that are not positive integers', () => {
    expect(() => matMul({ m: 0, n: 2, k: 3 })).toThrow('matMul: m must be a positive integer, got 0');
    expect(() => matMul({ m: 2, n: 2.5, k: 3 })).toThrow('matMul: n must be a positive integer, got 2.5');
  });
});

// The subgroup variant runs where the device reports one subgroup size (lavapipe: 8 lanes);
// elsewhere these cases would only repeat the ones above, so they are skipped.
await ready();
const subgroupSize = runtime().limits.subgroupSize;

// Also 4-lane tiles (SwiftShader's subgroup size), which run on wider subgroups as well. Skipped
// where the adapter reports no single subgroup size: the kernels are only chosen there.
for (const lanes of [...new Set([subgroupSize ?? 0, 4])]) describe.skipIf(!subgroupSize)(`matMul sharing op(A) across a subgroup of ${lanes} lanes (seed ${seed})`, () => {
  const subgroupSize = lanes;
  // Sizes with k (or m, for transposeA) a multiple of 4, as the variant needs; rows and columns
  // not multiples of the tile, and a contraction tail for transposeA.
  const shapes: [number, number, number][] = [
    [4, 4, 4],
    [36, 44, 20],
    [20, 129, 36],
    [132, 36, 12],
  ];
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      it(`op(A)·op(B) with transposeA=${transposeA}, transposeB=${transposeB}`, async () => {
        for (const [index, [m, n, k]] of shapes.entries()) {
          const p: MatMulParams = { m, n, k, transposeA, transposeB, subgroupSize };
          expect(matMul(p).name).toContain('_sg');
          await check(p, 600 + 10 * index);
        }
      });
    }
  }

  it('takes a contraction tail, batches, broadcast B, bias and activation, tile heights and a folded grid', async () => {
    await check({ m: 16, n: 12, k: 7, transposeA: true, subgroupSize }, 700);
    await check({ m: 8, n: 20, k: 12, batch: 3, subgroupSize }, 710);
    await check({ m: 12, n: 8, k: 5, batch: 2, broadcastB: true, transposeA: true, subgroupSize }, 720);
    await check({ m: 9, n: 16, k: 24, bias: true, activation: 'relu', transposeB: true, subgroupSize }, 730);
    for (const tileRows of [4, 12, 32]) await check({ m: 45, n: 40, k: 16, tileRows, subgroupSize }, 740 + tileRows);
    const folded: MatMulParams = { m: 60, n: 8, k: 8, tileRows: 4, subgroupSize, limits: { ...defaultLimits, maxComputeWorkgroupsPerDimension: 4 } };
    expect(matMul(folded).dispatch[1]).toBeGreaterThan(1);
    await check(folded, 760);
  });
});

describe(`matMul as its own backward pass (seed ${seed})`, () => {
  it('dA = dC·Bᵀ and dB = Aᵀ·dC match finite differences', async () => {
    const [m, n, k] = [4, 5, 3];
    const a = randomUniform(m * k, seed + 500);
    const b = randomUniform(k * n, seed + 501);
    const dc = randomUniform(m * n, seed + 502);
    const loss = (av: ArrayLike<number>, bv: ArrayLike<number>) => dot(dc, reference(av, bv, { m, n, k }));
    const [da] = await runKernel(matMul({ m, n: k, k: n, transposeB: true }), [dc, b], [{ size: m * k }]);
    const [db] = await runKernel(matMul({ m: k, n, k: m, transposeA: true }), [a, dc], [{ size: k * n }]);
    expectAllClose(da, numericGradient((x) => loss(x, b), a), { rtol: 1e-3, atol: 1e-4 });
    expectAllClose(db, numericGradient((x) => loss(a, x), b), { rtol: 1e-3, atol: 1e-4 });
  });
});
