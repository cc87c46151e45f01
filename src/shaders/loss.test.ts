// Loss kernels against float64 references: loss values directly, gradients by finite
// differences of the scaled total loss, with extreme logits, clipped probabilities and bad labels.

import { describe, expect, it } from 'vitest';
import { expectAllClose, freshSeed, randomUniform } from '../../test/expect-all-close.js';
import { numericGradient } from '../../test/gradcheck.js';
import { runKernel } from '../../test/kernel-harness.js';
import { defaultLimits, type KernelLimits } from './kernel.js';
import { binaryCrossEntropy, meanSquaredError, softmaxCrossEntropy } from './loss.js';

const seed = freshSeed();
const sum = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0);

/** float64 −Σ_j t_j·log softmax(x)_j per row, t given as a dense [B, C] matrix. */
function referenceCrossEntropy(x: ArrayLike<number>, t: ArrayLike<number>, batch: number, classes: number): Float64Array {
  const loss = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    const row = Array.from({ length: classes }, (_, j) => x[b * classes + j]);
    const m = Math.max(...row);
    const lse = m + Math.log(sum(row.map((v) => Math.exp(v - m))));
    for (let j = 0; j < classes; j++) loss[b] += t[b * classes + j] * (lse - row[j]);
  }
  return loss;
}

function oneHot(labels: Int32Array, classes: number): Float64Array {
  const t = new Float64Array(labels.length * classes);
  labels.forEach((l, b) => (t[b * classes + l] = 1));
  return t;
}

function randomLabels(n: number, classes: number, s: number): Int32Array {
  return Int32Array.from(randomUniform(n, seed + s, 0, classes), Math.floor);
}

/** Logits in [-4, 4) with ±100 at the front, where an unshifted exp would overflow. */
function logits(n: number, s: number): Float32Array {
  const x = randomUniform(n, seed + s, -4, 4);
  x.set([100, -100].slice(0, n));
  return x;
}

describe(`softmaxCrossEntropy (seed ${seed})`, () => {
  // Up to 64 classes one invocation handles a row; beyond, a workgroup does.
  const shapes: [number, number][] = [[1, 1], [5, 3], [7, 10], [3, 130]];

  it(`sparse labels at ${shapes.map((s) => s.join('×')).join(', ')}: loss and gradient`, async () => {
    for (const [index, [batch, classes]] of shapes.entries()) {
      const x = logits(batch * classes, 10 * index);
      const labels = randomLabels(batch, classes, 10 * index + 1);
      const scale = 0.37;
      const kernel = softmaxCrossEntropy({ batch, classes, labels: 'sparse', scale });
      const [loss, grad] = await runKernel(kernel, [x, labels], [{ size: batch }, { size: batch * classes }]);
      const t = oneHot(labels, classes);
      expectAllClose(loss, referenceCrossEntropy(x, t, batch, classes), { rtol: 1e-5, atol: 1e-6 });
      const numeric = numericGradient((v) => scale * sum(referenceCrossEntropy(v, t, batch, classes)), x);
      expectAllClose(grad, numeric, { rtol: 1e-4, atol: 1e-6 });
    }
  });

  it('writes a NaN loss and a zero gradient for labels outside [0, C), leaving other rows alone', async () => {
    for (const classes of [4, 100]) {
      const batch = 4;
      const x = logits(batch * classes, 50 + classes);
      const labels = Int32Array.from([1, -1, classes, 2]);
      const kernel = softmaxCrossEntropy({ batch, classes, labels: 'sparse' });
      const [loss, grad] = await runKernel(kernel, [x, labels], [{ size: batch }, { size: batch * classes }]);
      const reference = referenceCrossEntropy(x, oneHot(Int32Array.from([1, 0, 0, 2]), classes), batch, classes);
      expectAllClose(loss, [reference[0], NaN, NaN, reference[3]], { rtol: 1e-5, atol: 1e-6 });
      expect(Array.from(grad.subarray(classes, 3 * classes)).every((v) => v === 0)).toBe(true);
      // Valid rows get (softmax − onehot) times the default scale, 1/batch.
      for (const b of [0, 3]) {
        const row = Array.from(x.subarray(b * classes, (b + 1) * classes));
        const m = Math.max(...row);
        const z = sum(row.map((v) => Math.exp(v - m)));
        const expected = row.map((v, j) => (Math.exp(v - m) / z - (j === labels[b] ? 1 : 0)) / batch);
        expectAllClose(grad.subarray(b * classes, (b + 1) * classes), expected, { rtol: 1e-5, atol: 1e-7 });
      }
    }
  });

  it('one-hot and soft labels: loss and gradient, labels not summing to 1 included', async () => {
    for (const [index, [batch, classes]] of shapes.entries()) {
      const x = logits(batch * classes, 100 + 10 * index);
      // Row 0 one-hot, the others random nonnegative weights (their sums differ from 1).
      const t = randomUniform(batch * classes, seed + 100 + 10 * index + 1, 0, 1);
      t.fill(0, 0, classes);
      t[classes - 1] = 1;
      const scale = 1.9;
      const kernel = softmaxCrossEntropy({ batch, classes, labels: 'onehot', scale });
      const [loss, grad] = await runKernel(kernel, [x, t], [{ size: batch }, { size: batch * classes }]);
      expectAllClose(loss, referenceCrossEntropy(x, t, batch, classes), { rtol: 1e-5, atol: 1e-5 });
      const numeric = numericGradient((v) => scale * sum(referenceCrossEntropy(v, t, batch, classes)), x);
      expectAllClose(grad, numeric, { rtol: 1e-4, atol: 1e-5 });
    }
  });

  it('with metrics, also adds the batch\'s loss sum, correct count and size to the accumulator', async () => {
    // 300 rows stride over a workgroup of at most 256 invocations; the accumulator's other words survive.
    for (const [index, [kind, batch, classes]] of ([['sparse', 1, 1], ['sparse', 37, 3], ['sparse', 300, 10], ['onehot', 130, 7]] as const).entries()) {
      const x = logits(batch * classes, 500 + 10 * index);
      const ids = randomLabels(batch, classes, 501 + 10 * index);
      const t = oneHot(ids, classes);
      const labels = kind === 'sparse' ? ids : Float32Array.from(t);
      const kernel = softmaxCrossEntropy({ batch, classes, labels: kind, scale: 0.5, metrics: true });
      expect(kernel.dispatch).toEqual([1, 1, 1]);
      const start = new Float32Array([1.5, 4, 9, 11, 12, 13, 14, 15]);
      const [acc, loss, grad] = await runKernel(kernel, [x, labels], [{ size: 8, init: start }, { size: batch }, { size: batch * classes }]);
      const expected = referenceCrossEntropy(x, t, batch, classes);
      expectAllClose(loss, expected, { rtol: 1e-5, atol: 1e-6 });
      expectAllClose(grad, numericGradient((v) => 0.5 * sum(referenceCrossEntropy(v, t, batch, classes)), x), { rtol: 1e-4, atol: 1e-6 });
      let correct = 0;
      for (let b = 0; b < batch; b++) {
        let best = 0;
        for (let j = 1; j < classes; j++) if (x[b * classes + j] > x[b * classes + best]) best = j;
        correct += +(best === ids[b]);
      }
      expectAllClose(acc[0], 1.5 + sum(expected), { rtol: 1e-5, atol: 1e-5 });
      expect(Array.from(acc.subarray(1))).toEqual([4 + correct, 9 + batch, 11, 12, 13, 14, 15]);
    }
    expect(() => softmaxCrossEntropy({ batch: 4, classes: 65, labels: 'sparse', metrics: true })).toThrow(/metrics are fused only for up to 64 classes and 2\^14 elements, got 4×65/);
  });

  it('folds its grid under a small workgroup limit', async () => {
    const limits: KernelLimits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 4 };
    const [batch, classes] = [9, 70];
    const kernel = softmaxCrossEntropy({ batch, classes, labels: 'sparse', limits });
    expect(kernel.dispatch[1]).toBeGreaterThan(1);
    const x = logits(batch * classes, 200);
    const labels = randomLabels(batch, classes, 201);
    const [loss] = await runKernel(kernel, [x, labels], [{ size: batch }, { size: batch * classes }]);
    expectAllClose(loss, referenceCrossEntropy(x, oneHot(labels, classes), batch, classes), { rtol: 1e-5, atol: 1e-6 });
  });

  it('rejects bad static parameters, naming them', () => {
    expect(() => softmaxCrossEntropy({ batch: 2, classes: 3, labels: 'dense' as never })).toThrow(/labels must be 'sparse' or 'onehot', got 'dense'/);
    expect(() => softmaxCrossEntropy({ batch: 0, classes: 3, labels: 'sparse' })).toThrow(/softmaxCrossEntropy: batch must be an integer ≥ 1, got 0/);
  });
});

describe(`binaryCrossEntropy (seed ${seed})`, () => {
  const lo = Math.fround(1e-7);
  const hi = Math.fround(1 - lo); // 1 − 1e-7 in float32, as Keras computes it
  const referenceProbabilities = (p: number, t: number) => {
    const q = Math.min(Math.max(p, lo), hi);
    return -(t * Math.log(q) + (1 - t) * Math.log(1 - q));
  };
  const referenceLogits = (x: number, t: number) => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));

  it('from probabilities: loss, gradient, and the clip at 0 and 1', async () => {
    const n = 301;
    const p = randomUniform(n, seed + 300, 0.01, 0.99);
    const t = randomUniform(n, seed + 301, 0, 1).map((v, i) => (i % 3 === 0 ? Math.round(v) : v));
    const scale = 0.5;
    const [loss, grad] = await runKernel(binaryCrossEntropy({ size: n, fromLogits: false, scale }), [p, t], [{ size: n }, { size: n }]);
    expectAllClose(loss, Array.from(p, (v, i) => referenceProbabilities(v, t[i])), { rtol: 1e-5, atol: 1e-6 });
    const numeric = numericGradient((v) => scale * sum(Array.from(v, (pi, i) => referenceProbabilities(pi, t[i]))), p, 1e-4);
    expectAllClose(grad, numeric, { rtol: 1e-4, atol: 1e-5 });

    const edge = Float32Array.from([0, 1, 0, 1, -0.5, 1.5]);
    const edgeTargets = Float32Array.from([1, 0, 0, 1, 1, 0]);
    const [edgeLoss, edgeGrad] = await runKernel(binaryCrossEntropy({ size: 6, fromLogits: false }), [edge, edgeTargets], [{ size: 6 }, { size: 6 }]);
    expectAllClose(edgeLoss, Array.from(edge, (v, i) => referenceProbabilities(v, edgeTargets[i])), { rtol: 1e-5, atol: 1e-6 });
    expectAllClose(edgeGrad, new Array(6).fill(0), { rtol: 0, atol: 0 });
  });

  it('from logits: stable loss and gradient, ±100 included', async () => {
    const n = 257;
    const x = randomUniform(n, seed + 310, -6, 6);
    x.set([100, -100, 100, -100, 20, -20]);
    const t = randomUniform(n, seed + 311, 0, 1);
    t.set([1, 0, 0, 1]);
    const scale = 1 / n;
    const [loss, grad] = await runKernel(binaryCrossEntropy({ size: n, fromLogits: true }), [x, t], [{ size: n }, { size: n }]);
    expectAllClose(loss, Array.from(x, (v, i) => referenceLogits(v, t[i])), { rtol: 1e-5, atol: 1e-6 });
    const numeric = numericGradient((v) => scale * sum(Array.from(v, (xi, i) => referenceLogits(xi, t[i]))), x);
    expectAllClose(grad, numeric, { rtol: 1e-4, atol: 1e-8 });
  });

  it('folds its grid, and rejects a bad size', async () => {
    const limits: KernelLimits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 2 };
    const n = 1000;
    const kernel = binaryCrossEntropy({ size: n, fromLogits: true, limits });
    expect(kernel.dispatch[1]).toBeGreaterThan(1);
    const x = randomUniform(n, seed + 320, -6, 6);
    const t = randomUniform(n, seed + 321, 0, 1);
    const [loss] = await runKernel(kernel, [x, t], [{ size: n }, { size: n }]);
    expectAllClose(loss, Array.from(x, (v, i) => referenceLogits(v, t[i])), { rtol: 1e-5, atol: 1e-6 });
    expect(() => binaryCrossEntropy({ size: 2.5, fromLogits: false })).toThrow(/binaryCrossEntropy: size must be an integer ≥ 0, got 2.5/);
  });
});

describe(`meanSquaredError (seed ${seed})`, () => {
  const reference = (p: ArrayLike<number>, t: ArrayLike<number>, batch: number, features: number) =>
    Float64Array.from({ length: batch }, (_, b) => {
      let s = 0;
      for (let j = 0; j < features; j++) s += (p[b * features + j] - t[b * features + j]) ** 2;
      return s / features;
    });

  it('loss and gradient at 1×1, 5×3, 4×200, and a folded grid', async () => {
    const limits: KernelLimits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 3 };
    for (const [index, [batch, features, l]] of ([[1, 1], [5, 3], [4, 200], [7, 90, limits]] as const).entries()) {
      const p = randomUniform(batch * features, seed + 400 + index, -3, 3);
      const t = randomUniform(batch * features, seed + 410 + index, -3, 3);
      const kernel = meanSquaredError({ batch, features, limits: l });
      if (l) expect(kernel.dispatch[1]).toBeGreaterThan(1);
      const [loss, grad] = await runKernel(kernel, [p, t], [{ size: batch }, { size: batch * features }]);
      expectAllClose(loss, reference(p, t, batch, features), { rtol: 1e-5, atol: 1e-6 });
      // The default scale, 1/batch, makes this the gradient of the batch mean.
      const numeric = numericGradient((v) => sum(reference(v, t, batch, features)) / batch, p);
      expectAllClose(grad, numeric, { rtol: 1e-4, atol: 1e-7 });
    }
  });

  it('rejects features that are not positive integers', () => {
    expect(() => meanSquaredError({ batch: 2, features: 0 })).toThrow(/meanSquaredError: features must be an integer ≥ 1, got 0/);
  });
});
