// The op kinds of a training step's bookkeeping, as entries of the op table (op-table.ts): the
// losses with their gradients, dropout, the optimizer update, the metrics and finite-value
// checks that accumulate on the GPU, and the gathers that make a batch from resident data.

import { gatherBytes, gatherRows } from '../shaders/data.js';
import { findNonFinite } from '../shaders/finite.js';
import * as loss from '../shaders/loss.js';
import { metricsAccumulatorSize, trainingMetrics } from '../shaders/metrics.js';
import { updateBindingsPerParameter, updateGroupSize } from '../shaders/optimizer.js';
import { dropoutBackward, dropoutForward } from '../shaders/random.js';
import type { OpDef } from './graph.js';
import { f32, fmt, notDifferentiable, one, sameShape, size } from './op-kit.js';
import type { OpAttrs } from './op-table.js';
import * as ops from './ops.js';

type TrainingKind = 'softmaxCrossEntropy' | 'binaryCrossEntropy' | 'meanSquaredError' | 'dropout' | 'dropoutGrad' | 'update' | 'metrics' | 'findNonFinite' | 'gather' | 'gatherBytes';

export const trainingOps = {
  softmaxCrossEntropy: {
    name: ({ labels }) => (labels === 'sparse' ? 'losses.sparseSoftmaxCrossEntropy' : 'losses.softmaxCrossEntropy'),
    outputs: ([logits, labels, acc], { labels: kind }) => {
      if (logits.rank !== 2) throw new Error(`softmaxCrossEntropy: expected logits of shape [batch, classes], got ${fmt(logits.shape)}`);
      const [B, C] = logits.shape;
      const expected = kind === 'sparse' ? [B] : [B, C];
      if (labels.rank !== expected.length || labels.shape.some((d, k) => d !== expected[k])) {
        throw new Error(`softmaxCrossEntropy: expected ${kind === 'sparse' ? 'integer' : 'one-hot'} labels of shape ${fmt(expected)} for logits ${fmt(logits.shape)}, got ${fmt(labels.shape)}`);
      }
      if (kind === 'sparse' && labels.dtype !== 'int32') throw new Error(`softmaxCrossEntropy: sparse labels must be int32 class indices, got ${labels.dtype}`);
      if (acc && acc.size !== metricsAccumulatorSize) throw new Error(`softmaxCrossEntropy: the accumulator must hold ${metricsAccumulatorSize} values, got ${fmt(acc.shape)}`);
      return [f32([B]), f32([B, C])];
    },
    lower: ({ inputs: [logits, labels, acc], outputs: [l, dl], attrs }, limits) => {
      const kernel = loss.softmaxCrossEntropy({ batch: logits.shape[0], classes: logits.shape[1], labels: attrs.labels, scale: attrs.scale, metrics: attrs.metrics, limits });
      return one(kernel, attrs.metrics ? [logits, labels, acc, l, dl] : [logits, labels, l, dl]);
    },
    grad: ([dy], { inputs, outputs: [, dlogits], attrs: { scale } }) =>
      inputs.map((_, k) => (k === 0 && dy ? ops.mul(dlogits, ops.reshape(ops.div(dy, scale), [dy.size, 1])) : null)),
    effect: ({ metrics }) => !!metrics,
  },
  binaryCrossEntropy: {
    name: ({ fromLogits }) => (fromLogits ? 'losses.sigmoidCrossEntropy' : 'losses.binaryCrossentropy'),
    outputs: ([p, t]) => {
      if (p.rank !== t.rank || p.shape.some((d, k) => d !== t.shape[k])) throw new Error(`binaryCrossentropy: labels ${fmt(t.shape)} must have the predictions' shape ${fmt(p.shape)}`);
      return [f32(p.shape), f32(p.shape)];
    },
    lower: ({ inputs: [p, t], outputs: [l, dl], attrs }, limits) =>
      one(loss.binaryCrossEntropy({ size: p.size, fromLogits: attrs.fromLogits, scale: attrs.scale, limits }), [p, t, l, dl]),
    grad: ([dy], { outputs: [, dp], attrs: { scale } }) => [dy ? ops.mul(dp, ops.div(dy, scale)) : null, null],
  },
  meanSquaredError: {
    name: () => 'losses.meanSquaredError',
    outputs: ([p, t]) => {
      if (p.rank !== t.rank || p.shape.some((d, k) => d !== t.shape[k])) throw new Error(`meanSquaredError: labels ${fmt(t.shape)} must have the predictions' shape ${fmt(p.shape)}`);
      return [f32([p.shape[0] ?? 1]), f32(p.shape)];
    },
    lower: ({ inputs: [p, t], outputs: [l, dl], attrs }, limits) => {
      const batch = p.shape[0] ?? 1;
      return one(loss.meanSquaredError({ batch, features: p.size / batch, scale: attrs.scale, limits }), [p, t, l, dl]);
    },
    grad: ([dy], { outputs: [, dp], attrs: { scale } }) => [dy ? ops.mul(dp, ops.reshape(ops.div(dy, scale), [dy.size, ...dp.shape.slice(1).map(() => 1)])) : null, null],
  },
  dropout: {
    outputs: sameShape(0),
    lower: ({ inputs: [x, state], outputs: [y], attrs: { rate, seed } }, limits) =>
      one(dropoutForward({ size: x.size, rate, seed, limits }), [state, x, y]),
    grad: ([dy], { inputs: [, state], attrs }) => [dy ? ops.dropoutGrad(dy, state, attrs) : null, null],
  },
  dropoutGrad: {
    outputs: sameShape(0),
    lower: ({ inputs: [dy, state, y], outputs: [dx], attrs: { rate, seed, activation } }, limits) =>
      one(dropoutBackward({ size: dy.size, rate, seed, activation, limits }), y ? [state, dy, y, dx] : [state, dy, dx]),
    grad: notDifferentiable('dropoutGrad'),
  },
  update: {
    outputs: () => [],
    lower: ({ inputs: [state, ...members], attrs: { states, kernel } }, limits) => {
      const per = updateBindingsPerParameter(states);
      const group = per * updateGroupSize(states, limits.maxStorageBuffersPerShaderStage);
      return Array.from({ length: Math.ceil(members.length / group) }, (_, g) => {
        const args = members.slice(g * group, (g + 1) * group);
        return { kernel: kernel(args.filter((_, k) => k % per === 1).map((p) => p.size), limits), args: [state, ...args] };
      });
    },
    grad: notDifferentiable('an optimizer update'),
  },
  metrics: {
    outputs: ([predictions, , l, acc]) => {
      if (acc.size !== metricsAccumulatorSize) throw new Error(`metrics: the accumulator must hold ${metricsAccumulatorSize} values, got ${fmt(acc.shape)}`);
      if (l.size !== predictions.shape[0]) throw new Error(`metrics: expected one loss per example (${predictions.shape[0]}), got ${fmt(l.shape)}`);
      return [];
    },
    lower: ({ inputs: [predictions, labels, l, acc], attrs }, limits) => {
      const batch = predictions.shape[0];
      return one(trainingMetrics({ batch, classes: predictions.size / batch, labels: attrs.labels, threshold: attrs.threshold, limits }), [predictions, labels, l, acc]);
    },
    grad: notDifferentiable('metrics'),
  },
  findNonFinite: {
    outputs: ([x, , acc]) => {
      if (x.dtype !== 'float32') throw new Error(`findNonFinite: expected float32 values, got ${x.dtype}`);
      if (acc.size !== metricsAccumulatorSize) throw new Error(`findNonFinite: the accumulator must hold ${metricsAccumulatorSize} values, got ${fmt(acc.shape)}`);
      return [];
    },
    lower: ({ inputs: [x, state, acc], attrs: { which } }, limits) => {
      if (x.size === 0) return [];
      return one(findNonFinite({ size: x.size, rowSize: x.rank ? x.size / x.shape[0] : 1, which, limits }), [x, state, acc]);
    },
    grad: notDifferentiable('findNonFinite'),
  },
  gather: {
    // Inputs: the sources, then the indices; one output per source, all gathered in one dispatch.
    outputs: (inputs) => {
      const indices = inputs[inputs.length - 1];
      if (indices.rank !== 1 || indices.dtype !== 'int32') throw new Error(`gather: expected int32 indices of rank 1, got ${indices.dtype} ${fmt(indices.shape)}`);
      return inputs.slice(0, -1).map((x) => {
        if (x.rank < 1) throw new Error(`gather: expected x of rank ≥ 1, got ${fmt(x.shape)}`);
        if (x.shape[0] === 0 && indices.size > 0) throw new Error(`gather: x has no rows (shape ${fmt(x.shape)}), so none of the ${indices.size} indices can pick one`);
        return { shape: [indices.shape[0], ...x.shape.slice(1)], dtype: x.dtype };
      });
    },
    lower: ({ inputs, outputs }, limits) => {
      const indices = inputs[inputs.length - 1];
      const pairs = outputs.flatMap((y, s) => (y.size === 0 ? [] : [[inputs[s], y] as const]));
      const perDispatch = Math.max(1, Math.floor((limits.maxStorageBuffersPerShaderStage - 1) / 2));
      return Array.from({ length: Math.ceil(pairs.length / perDispatch) }, (_, g) => {
        const group = pairs.slice(g * perDispatch, (g + 1) * perDispatch);
        const sources = group.map(([x]) => ({ rows: x.shape[0], rowSize: x.size / x.shape[0], dtype: x.dtype }));
        return { kernel: gatherRows({ sources, batch: indices.size, limits }), args: [indices, ...group.flat()] };
      });
    },
    // Gathering selects data (a batch of examples); nothing differentiates through it.
    grad: notDifferentiable('gather'),
  },
  gatherBytes: {
    outputs: ([, indices], { rowShape }) => [f32([indices.shape[0], ...rowShape])],
    lower: ({ inputs: [words, indices], outputs: [y], attrs }, limits) => {
      if (y.size === 0) return [];
      const rowBytes = size(attrs.rowShape);
      return one(gatherBytes({ rows: attrs.rows, rowBytes, batch: indices.size, scale: attrs.scale, offset: attrs.offset, limits }), [words, indices, y]);
    },
    grad: notDifferentiable('gatherBytes'),
  },
} satisfies { [K in TrainingKind]: OpDef<OpAttrs[K]> };
