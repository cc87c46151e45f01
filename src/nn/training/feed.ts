// How a batch enters a compiled step: from the step's own inputs, or (a feed) from row indices that
// gather the batch on the GPU out of tensors already there; and the checks a batch passes first.

import { gatherAll } from '../ops.js';
import { Tensor } from '../tensor.js';

/** How a step gets its batch from GPU-resident data: row indices in, the batch's tensors out. */
export interface Feed {
  /** Tells plans apart: the same key must build the same batch. */
  readonly key: string;
  inputs(indices: Tensor): Tensor[];
}

/** A feed gathering the same rows of each of \`tensors\`. */
export function gatherFeed(tensors: readonly Tensor[]): Feed {
  return { key: `gather ${tensors.map((t) => t.id).join(',')}`, inputs: (indices) => gatherAll(tensors, indices) };
}

export function checkTensor(t: unknown, where: string, name: string): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new Error(`${where}: ${name} must be a Tensor, got ${t === null ? 'null' : Array.isArray(t) ? 'an array (wrap it with sf.tensor)' : typeof t}`);
  if (t.isDisposed) throw new Error(`${where}: ${name} is ${t.describe()}, which was disposed`);
}

export function checkBatchSize(batchSize: unknown, where: string): void {
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${where}: batchSize must be a positive integer, got ${JSON.stringify(batchSize)}`);
}

/** The [x, y] of a dataset element: an [x, y] pair or { xs, ys }. */
export function batchPair(element: unknown, where: string): [Tensor, Tensor] {
  const named = element as { xs?: unknown; ys?: unknown } | null;
  const pair = Array.isArray(element) ? element : named && typeof named === 'object' && 'xs' in named ? [named.xs, named.ys] : null;
  if (!pair || pair.length !== 2) throw new Error(`${where}: each dataset element must be an [x, y] pair or { xs, ys } of batched tensors; batch the dataset with .batch(n)`);
  checkTensor(pair[0], where, 'a batch of x');
  checkTensor(pair[1], where, 'a batch of y');
  return pair as [Tensor, Tensor];
}

