// Random kernels: dropout masks bit-exact against the TypeScript twin of the hash, and the
// initializers' moments within statistical bounds.

import { describe, expect, it } from 'vitest';
import { expectAllClose, freshSeed, randomUniform as hostUniform } from '../../test/expect-all-close.js';
import { runKernel } from '../../test/kernel-harness.js';
import { defaultLimits } from './kernel.js';
import {
  boxMuller, dropoutBackward, dropoutForward, dropoutThreshold, glorotUniform, hashU32, randomNormal, randomUniform, randomUnit,
} from './random.js';
import { packStepState } from './step-state.js';

const seed = freshSeed();

/** Sample mean and (population) variance, in float64. */
function moments(values: ArrayLike<number>): { mean: number; variance: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let sq = 0;
  for (let i = 0; i < values.length; i++) sq += (values[i] - mean) ** 2;
  return { mean, variance: sq / values.length };
}

/**
 * Five standard errors: the mean of n draws of variance σ² has standard error sqrt(σ²/n); the
 * sample variance has standard error sqrt((μ4 − σ⁴)/n), μ4 the fourth central moment. A correct
 * generator fails a 5σ bound about once in 1.7 million runs.
 */
function expectMoments(values: ArrayLike<number>, mean: number, variance: number, fourthMoment: number): void {
  const n = values.length;
  const got = moments(values);
  expect(Math.abs(got.mean - mean), `mean ${got.mean}, expected ${mean}`).toBeLessThanOrEqual(5 * Math.sqrt(variance / n));
  expect(Math.abs(got.variance - variance), `variance ${got.variance}, expected ${variance}`).toBeLessThanOrEqual(5 * Math.sqrt((fourthMoment - variance ** 2) / n));
}

describe(`counter-based hash (seed ${seed})`, () => {
  it('is a bijection of the index for a fixed seed and step, and re-keys on a new step', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(hashU32(seed, 3, i));
    expect(seen.size).toBe(10_000);
    expect(hashU32(seed, 3, 5)).not.toBe(hashU32(seed, 4, 5));
    expect(hashU32(seed, 3, 5)).toBe(hashU32(seed, 3, 5));
  });
});

describe(`dropout (seed ${seed})`, () => {
  const rate = 0.3;
  const keeps = (s: number, step: number, i: number) => hashU32(s, step, i) >>> 8 >= dropoutThreshold(rate);
  const scale = Math.fround(1 / (1 - rate));
  /** The step state of training step `step` (run seed 0, so masks depend on the layer's seed alone). */
  const atStep = (step: number) => packStepState({ step, seed: 0, learningRate: 0, iteration: 1 });

  it('matches the TypeScript twin bit for bit at sizes 1, 7 and 1009, and backward uses the same mask', async () => {
    for (const size of [1, 7, 1009]) {
      const x = hostUniform(size, seed + size, 0.5, 2); // nonzero, so a zero means dropped
      const dy = hostUniform(size, seed + size + 1, -2, 2);
      const step = 17 + size;
      const [y] = await runKernel(dropoutForward({ size, rate, seed }), [atStep(step), x], [{ size }]);
      const [dx] = await runKernel(dropoutBackward({ size, rate, seed }), [atStep(step), dy], [{ size }]);
      // Float32 products are correctly rounded, so the GPU must agree exactly.
      expectAllClose(y, Array.from(x, (v, i) => (keeps(seed, step, i) ? Math.fround(v * scale) : 0)), { rtol: 0, atol: 0 });
      expectAllClose(dx, Array.from(dy, (v, i) => (keeps(seed, step, i) ? Math.fround(v * scale) : 0)), { rtol: 0, atol: 0 });
    }
  });

  it('backward through an activation: the same mask, times the derivative at the forward output', async () => {
    for (const [activation, derivative] of [['relu', (y: number) => (y > 0 ? 1 : 0)], ['tanh', (y: number) => 1 - y * y]] as const) {
      const size = 1009;
      const dy = hostUniform(size, seed + 3, -2, 2);
      const y = hostUniform(size, seed + 4, -1, 1); // both signs, so relu's derivative is 0 on half
      const step = 5;
      const [dx] = await runKernel(dropoutBackward({ size, rate, seed, activation }), [atStep(step), dy, y], [{ size }]);
      const expected = Array.from(dy, (v, i) => (keeps(seed, step, i) ? v * scale * derivative(y[i]) : 0));
      expectAllClose(dx, expected, { rtol: 1e-6, atol: 1e-7 });
      expect(dropoutBackward({ size, rate, seed, activation }).bindings).toEqual(['read', 'read', 'read', 'write', 'uniform']);
    }
  });

  it('keeps a fraction 1 − rate of 100,003 elements, and draws a new mask each step', async () => {
    const size = 100_003;
    const x = new Float32Array(size).fill(1);
    const [a, b] = await runKernel(
      [dropoutForward({ size, rate, seed }), dropoutForward({ size, rate, seed })],
      [atStep(0), atStep(1), x], [{ size }, { size }], [[0, 2, 3], [1, 2, 4]],
    );
    const keptA = a.filter((v) => v !== 0).length / size;
    // Kept count is Binomial(n, 1 − rate): standard deviation sqrt(rate·(1 − rate)/n) ≈ 0.00145; bound 5σ.
    expect(Math.abs(keptA - (1 - rate))).toBeLessThanOrEqual(5 * Math.sqrt((rate * (1 - rate)) / size));
    // Independent masks disagree on a fraction 2·rate·(1 − rate) = 0.42 of elements (σ ≈ 0.0016; bound 6σ).
    const disagree = a.filter((v, i) => (v === 0) !== (b[i] === 0)).length / size;
    expect(Math.abs(disagree - 2 * rate * (1 - rate))).toBeLessThanOrEqual(0.01);
    expect(a.every((v) => v === 0 || v === scale)).toBe(true);
  });

  it('rate 0 is the identity; folded grids index every element', async () => {
    const size = 5003;
    const x = hostUniform(size, seed + 9);
    const limits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 5 };
    const kernel = dropoutForward({ size, rate: 0, seed, limits });
    expect(kernel.dispatch[1]).toBeGreaterThan(1);
    const [y] = await runKernel(kernel, [atStep(2), x], [{ size }]);
    expectAllClose(y, x, { rtol: 0, atol: 0 });
  });

  it('rejects a rate outside [0, 1) and a seed that is not a u32', () => {
    expect(() => dropoutForward({ size: 4, rate: 1, seed: 0 })).toThrow(/rate must be in \[0, 1\), got 1/);
    expect(() => dropoutBackward({ size: 4, rate: 0.5, seed: -1 })).toThrow(/seed must be an integer in \[0, 2\^32\), got -1/);
  });
});

describe(`initializers (seed ${seed})`, () => {
  const n = 100_003;

  it('randomUniform: range, moments, the twin, and reproducibility by seed', async () => {
    const [min, max] = [-0.5, 2];
    const kernel = (s: number) => randomUniform({ size: n, min, max, seed: s });
    const [a, b, c] = await runKernel([kernel(seed), kernel(seed), kernel(seed + 1)], [], [{ size: n }, { size: n }, { size: n }], [[0], [1], [2]]);
    expect(a.every((v) => v >= min && v <= max)).toBe(true);
    // Uniform on [min, max): variance w²/12, fourth central moment w⁴/80.
    const w = max - min;
    expectMoments(a, (min + max) / 2, w ** 2 / 12, w ** 4 / 80);
    expectAllClose(a.subarray(0, 1000), Array.from({ length: 1000 }, (_, i) => min + randomUnit(seed, 0, i) * w), { rtol: 1e-6, atol: 1e-6 });
    expectAllClose(b, a, { rtol: 0, atol: 0 });
    expect(c.filter((v, i) => v === a[i]).length).toBeLessThan(100);
  });

  it('randomNormal: moments, the twin, and reproducibility by seed', async () => {
    const [mean, stddev] = [0.25, 1.5];
    const [a, b] = await runKernel(
      [randomNormal({ size: n, mean, stddev, seed }), randomNormal({ size: n, mean, stddev, seed })], [], [{ size: n }, { size: n }], [[0], [1]],
    );
    // Normal: fourth central moment 3σ⁴.
    expectMoments(a, mean, stddev ** 2, 3 * stddev ** 4);
    // WGSL bounds sin and cos on [−π, π] to 2^-11 absolute, and r ≤ 5.77: at most 3·10⁻³·stddev.
    expectAllClose(a.subarray(0, 2001), Array.from({ length: 2001 }, (_, i) => mean + stddev * boxMuller(seed, i)), { rtol: 0, atol: 3e-3 * stddev });
    expectAllClose(b, a, { rtol: 0, atol: 0 });
    expect(a.every((v) => Math.abs(v - mean) <= 5.8 * stddev)).toBe(true);
  });

  it('glorotUniform: within ±sqrt(6/(fanIn+fanOut)), variance 2/(fanIn+fanOut)', async () => {
    const [fanIn, fanOut] = [784, 131];
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const [a] = await runKernel(glorotUniform({ fanIn, fanOut, size: n, seed }), [], [{ size: n }]);
    expect(a.every((v) => Math.abs(v) <= Math.fround(limit))).toBe(true);
    expectMoments(a, 0, 2 / (fanIn + fanOut), (2 * limit) ** 4 / 80);
    expect(() => glorotUniform({ fanIn: 0, fanOut: 3, size: 3, seed })).toThrow(/fanIn must be an integer ≥ 1, got 0/);
  });
});
