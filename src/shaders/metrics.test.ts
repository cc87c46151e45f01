// The metrics accumulator against a float64 reference, accumulated over several batches, with
// ties in argmax, out-of-range labels and batches larger than one workgroup.

import { describe, expect, it } from 'vitest';
import { expectAllClose, freshSeed, randomUniform } from '../../test/expect-all-close.js';
import { runKernel } from '../../test/kernel-harness.js';
import { defaultLimits } from './kernel.js';
import { trainingMetrics } from './metrics.js';

const seed = freshSeed();

/** The first index of the maximum, as tf.argMax. */
function argmax(values: ArrayLike<number>, base: number, classes: number): number {
  let best = 0;
  for (let j = 1; j < classes; j++) if (values[base + j] > values[base + best]) best = j;
  return best;
}

/** Predictions on a coarse grid of 4 levels, so rows often hold tied maxima. */
function coarse(n: number, s: number): Float32Array {
  return Float32Array.from(randomUniform(n, s, 0, 4), (v) => Math.floor(v));
}

interface Batch {
  predictions: Float32Array;
  labels: Float32Array | Int32Array;
  loss: Float32Array;
  /** Correct predictions, by the float64 reference. */
  correct: number;
}

function makeBatch(kind: 'sparse' | 'onehot' | 'binary', batch: number, classes: number, s: number): Batch {
  const loss = randomUniform(batch, s + 1, 0, 3);
  if (kind === 'binary') {
    const predictions = randomUniform(batch, s, 0, 1);
    predictions[0] = 0.5; // exactly at the threshold: predicted 0
    const labels = Float32Array.from(randomUniform(batch, s + 2, 0, 1), (v) => (v < 0.5 ? 0 : 1));
    const correct = labels.filter((t, b) => (predictions[b] > 0.5 ? 1 : 0) === t).length;
    return { predictions, labels, loss, correct };
  }
  const predictions = coarse(batch * classes, s);
  if (kind === 'sparse') {
    // Some labels out of [0, C): never correct.
    const labels = Int32Array.from(randomUniform(batch, s + 2, -0.3, classes + 0.3), (v) => Math.floor(v));
    const correct = Array.from(labels).filter((t, b) => t === argmax(predictions, b * classes, classes)).length;
    return { predictions, labels, loss, correct };
  }
  // One-hot labels with ties of their own resolve the same way.
  const labels = coarse(batch * classes, s + 2);
  let correct = 0;
  for (let b = 0; b < batch; b++) correct += +(argmax(labels, b * classes, classes) === argmax(predictions, b * classes, classes));
  return { predictions, labels, loss, correct };
}

describe(`trainingMetrics (seed ${seed})`, () => {
  const shapes: [kind: 'sparse' | 'onehot' | 'binary', batch: number, classes: number][] = [
    ['sparse', 1, 1],
    ['sparse', 13, 3],
    ['sparse', 3001, 10],
    ['onehot', 1, 7],
    ['onehot', 257, 10],
    ['binary', 1, 1],
    ['binary', 1000, 1],
  ];
  for (const [kind, batch, classes] of shapes) {
    it(`${kind} labels, batch ${batch}, ${classes} classes: accumulates over 3 batches`, async () => {
      // acc[3] is unused and must survive; the first batch adds to a nonzero start.
      let acc: Float32Array = new Float32Array([0.5, 2, 7, 123]);
      const expected = [0.5, 2, 7, 123];
      for (let step = 0; step < 3; step++) {
        const { predictions, labels, loss, correct } = makeBatch(kind, batch, classes, seed + 10 * step);
        [acc] = (await runKernel(trainingMetrics({ batch, classes, labels: kind }), [predictions, labels, loss], [{ size: 4, init: acc }])) as Float32Array[];
        expected[0] += loss.reduce((a, b) => a + b, 0);
        expected[1] += correct;
        expected[2] += batch;
      }
      // The loss sum: float32 tree over ≤ 3·3001 values of ≤ 3, far inside rtol 1e-5. Counts exact.
      expectAllClose(acc[0], expected[0], { rtol: 1e-5, atol: 1e-6 });
      expect(Array.from(acc.subarray(1))).toEqual(expected.slice(1));
    });
  }

  it('a small workgroup limit gives a narrower tree, same sums', async () => {
    const limits = { ...defaultLimits, maxComputeInvocationsPerWorkgroup: 8 };
    const kernel = trainingMetrics({ batch: 101, classes: 5, labels: 'sparse', limits });
    expect(kernel.workgroupSize[0]).toBe(8);
    const { predictions, labels, loss, correct } = makeBatch('sparse', 101, 5, seed + 99);
    const [acc] = await runKernel(kernel, [predictions, labels, loss], [{ size: 4, init: new Float32Array(4) }]);
    expectAllClose(acc[0], loss.reduce((a, b) => a + b, 0), { rtol: 1e-5, atol: 1e-6 });
    expect(Array.from(acc.subarray(1))).toEqual([correct, 101, 0]);
  });

  it('rejects bad parameters, naming what was expected', () => {
    expect(() => trainingMetrics({ batch: 4, classes: 3, labels: 'binary' })).toThrow(/binary labels need predictions of 1 class per example, got classes 3/);
    expect(() => trainingMetrics({ batch: 0, classes: 3, labels: 'sparse' })).toThrow(/batch must be an integer ≥ 1, got 0/);
    expect(() => trainingMetrics({ batch: 4, classes: 3, labels: 'dense' as 'sparse' })).toThrow(/labels must be 'sparse', 'onehot' or 'binary', got 'dense'/);
  });
});
