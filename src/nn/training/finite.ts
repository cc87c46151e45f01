// Non-finite data: fit checks the tensors it is given once, before training, with one GPU pass
// each (shaders/finite.ts), and a step on dataset batches records the first bad input it sees
// in the metrics accumulator, which the loop already reads.

import { nonFiniteAt } from '../../shaders/finite.js';
import { metricsAccumulatorSize } from '../../shaders/metrics.js';
import { recordNonFinite } from '../ops.js';
import { tensor, type Tensor } from '../tensor.js';

/** A non-finite value found: its sample (first index), its place within the sample, the value. */
export interface NonFinite {
  /** 0 for x, 1 for y, as the step recorded it. */
  which: number;
  /** The step counter of the run that found it (for dataset batches). */
  step: number;
  sample: number;
  element: number;
  value: number;
}

/** The find recorded in accumulator values, or null. */
export function nonFiniteIn(values: ArrayLike<number>): NonFinite | null {
  const at = nonFiniteAt;
  if (!(values[at + 1] > 0)) return null;
  return { which: values[at], step: values[at + 1] - 1, sample: values[at + 2], element: values[at + 3], value: values[at + 4] };
}

/** The first NaN or ±Infinity of a float32 tensor, found on the GPU; null when all are finite. */
export async function firstNonFinite(t: Tensor): Promise<NonFinite | null> {
  if (t.dtype !== 'float32' || t.size === 0) return null;
  const state = tensor(new Int32Array(4), [4], 'int32');
  const acc = tensor(new Float32Array(metricsAccumulatorSize));
  try {
    recordNonFinite(t, state, acc, 0);
    return nonFiniteIn(await acc.data());
  } finally {
    state.dispose();
    acc.dispose();
  }
}

/** "[3, 1]": the index of a find in a tensor of `shape` (batch first). */
export function placeOf(shape: readonly number[], found: NonFinite): string {
  const index = [found.sample];
  let rest = found.element;
  const inner = shape.slice(1);
  for (let k = inner.length - 1; k >= 0; k--) {
    index.splice(1, 0, rest % inner[k]);
    rest = Math.floor(rest / inner[k]);
  }
  return `[${index.join(', ')}]`;
}

export const skipHint = 'pass checkInputs: false to fit to skip this check';

/** Throws when a float32 tensor fit was given holds a non-finite value, naming its place and value. */
export async function checkFinite(t: Tensor, where: string, name: string): Promise<void> {
  const found = await firstNonFinite(t);
  if (found) {
    throw new Error(`${where}: ${name} holds ${found.value} at index ${placeOf(t.shape, found)} (sample ${found.sample}); expected finite values only. Clean the data, or ${skipHint}`);
  }
}
