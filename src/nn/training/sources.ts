// The batch sources of fit and evaluate: tensors already on the GPU (each batch gathered there by
// an index list, never copied) and datasets of [x, y] batches; both hand each planned step to the
// loop. The GPU-resident dataset path is in resident.ts.

import { gather } from '../ops.js';
import { Random, seedFrom } from '../random.js';
import type { PlannedStep } from '../step.js';
import { tensor, type Tensor } from '../tensor.js';
import { batchPair, gatherFeed } from './feed.js';
import type { TrainableModel } from './trainable.js';

/** A batch source: anything async-iterable yielding [x, y] or { xs, ys } tensor pairs (sf.data's Dataset). */
export type BatchSource = AsyncIterable<unknown> | Iterable<unknown>;

export interface Source {
  /** Runs every batch of one epoch through `run`, which gets the planned step and the batch size. */
  epoch(run: (planned: PlannedStep, size: number) => Promise<boolean>): Promise<number>;
  /** Compiles the plans of the batch shapes known in advance, in parallel. */
  prepare(): Promise<void>;
  steps: number | null;
  dispose(): void;
}

export function tensorSource(model: TrainableModel, purpose: 'train' | 'eval', x: Tensor, y: Tensor, batchSize: number, shuffle: boolean, random: Random | null): Source {
  const n = x.shape[0];
  const step = model.step(purpose, gatherFeed([x, y]));
  const spec = (size: number) => [{ shape: [size], dtype: 'int32' as const }];
  return {
    steps: Math.ceil(n / batchSize),
    async prepare() {
      const sizes = new Set([Math.min(batchSize, n), n % batchSize].filter((s) => s > 0));
      await Promise.all([...sizes].map((size) => step.compile(spec(size))));
    },
    async epoch(run) {
      const order = Int32Array.from({ length: n }, (_, i) => i);
      if (shuffle) (random ?? new Random(seedFrom(undefined, 'fit'))).shuffle(order);
      let batches = 0;
      for (let start = 0; start < n; start += batchSize) {
        const indices = order.subarray(start, Math.min(n, start + batchSize));
        const planned = step.planFor(spec(indices.length));
        planned.run([indices]);
        batches++;
        if (!(await run(planned, indices.length))) break;
      }
      return batches;
    },
    dispose() {},
  };
}

/** Batches from a dataset; with `checkInputs`, training steps record a non-finite input they meet. */
export function datasetSource(model: TrainableModel, purpose: 'train' | 'eval', data: BatchSource, stepsPerEpoch: number | undefined, where: string, checkInputs = false): Source {
  let iterator: AsyncIterator<unknown> | Iterator<unknown> | null = null;
  const fresh = () => (Symbol.asyncIterator in data ? (data as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (data as Iterable<unknown>)[Symbol.iterator]());
  return {
    steps: stepsPerEpoch ?? null,
    async prepare() {},
    async epoch(run) {
      // Without stepsPerEpoch an epoch is one pass over the dataset; with it, batches continue where the last epoch stopped.
      if (!iterator || stepsPerEpoch === undefined) iterator = fresh();
      let batches = 0;
      while (stepsPerEpoch === undefined || batches < stepsPerEpoch) {
        const next = await iterator.next();
        if (next.done) {
          if (stepsPerEpoch !== undefined) iterator = null;
          break;
        }
        const [x, y] = batchPair(next.value, where);
        const size = x.shape[0];
        try {
          if (y.shape[0] !== size) throw new Error(`${where}: a batch has ${size} examples of x but ${y.shape[0]} labels`);
          const { loss } = model.compiledLoss(where);
          if (loss.kind === 'sparse' && y.dtype !== 'int32') {
            throw new Error(`${where}: '${loss.name}' expects int32 class indices, got ${y.describe()}; make the labels with dtype 'int32'`);
          }
          model.checkInput(x.shape, where, 'a batch of x');
          // A new batch shape compiles its pipelines in parallel before its first run.
          const planned = await model.step(purpose, undefined, checkInputs && purpose === 'train').compile([x, y].map((t) => ({ shape: t.shape, dtype: t.dtype })));
          planned.run([x, y]);
          batches++;
          if (!(await run(planned, size))) break;
        } finally {
          x.dispose();
          y.dispose();
        }
      }
      return batches;
    },
    dispose() {
      if (iterator && 'return' in iterator && iterator.return) void iterator.return();
    },
  };
}

/** Checks labels against the compiled loss and the model's outputs; sparse float labels become int32. */
export async function prepareLabels(model: TrainableModel, y: Tensor, where: string): Promise<Tensor> {
  const { loss } = model.compiledLoss(where);
  const units = model.outputShape[model.outputShape.length - 1];
  if (loss.kind === 'sparse') {
    if (!(y.rank === 1 || (y.rank === 2 && y.shape[1] === 1))) throw new Error(`${where}: '${loss.name}' expects integer labels of shape [batch], got ${y.describe()}`);
    const values = await y.data();
    for (const [i, v] of values.entries()) {
      if (!Number.isInteger(v) || v < 0 || v >= units) {
        throw new Error(`${where}: label ${i} is ${v}, but '${loss.name}' needs class indices in [0, ${units}) for the model's ${units} output units`);
      }
    }
    return y.dtype === 'int32' && y.rank === 1 ? y : tensor(Int32Array.from(values), [y.shape[0]], 'int32');
  }
  const out = model.outputShape;
  if (y.dtype !== 'float32') throw new Error(`${where}: '${loss.name}' expects float32 labels, got ${y.describe()}`);
  const expected = [y.shape[0], ...out];
  if (y.rank === 1 && out.length === 1 && out[0] === 1) return y;
  if (y.rank !== expected.length || y.shape.some((d, k) => d !== expected[k])) {
    throw new Error(`${where}: '${loss.name}' expects labels of shape [${expected.join(', ')}] to match the model's output, got ${y.describe()}`);
  }
  return y;
}

export function isTensorPair(v: unknown): v is [Tensor, Tensor] {
  return Array.isArray(v) && v.length === 2 && v.every((t) => t && typeof t === 'object' && 'shape' in t && 'dtype' in t && 'runtime' in t);
}

/** Rows [from, to) of `t`, as a new tensor. */
export function rows(t: Tensor, from: number, to: number): Tensor {
  const idx = tensor(Int32Array.from({ length: to - from }, (_, i) => from + i), [to - from], 'int32');
  try {
    return gather(t, idx);
  } finally {
    idx.dispose();
  }
}
