// Every op kind in one typed table: the shapes it makes, the kernels that compute it (from
// src/shaders) and its gradient rule, side by side. The table must cover every kind in OpAttrs,
// each with a gradient rule, or this file does not compile. The math is here; the training
// step's bookkeeping (losses, dropout, updates, metrics, gathers) is in op-table-training.ts.

import type { Activation } from '../shaders/activation.js';
import * as activation from '../shaders/activation.js';
import * as conv from '../shaders/conv2d/index.js';
import * as elementwise from '../shaders/elementwise.js';
import type { Kernel, KernelLimits } from '../shaders/kernel.js';
import { toHalf } from '../shaders/half.js';
import { denseGradients, matMul as matMulKernel, type MatMulParams, smallMatMulMacs } from '../shaders/matmul.js';
import { tunable } from '../shaders/variants.js';
import * as pool from '../shaders/pool2d.js';
import * as reduce from '../shaders/reduce.js';
import type { Padding } from '../shaders/window.js';
import { apply, type Dispatch, type OpDef, producerOf, Scratch } from './graph.js';
import { f32, fmt, notDifferentiable, one, sameShape } from './op-kit.js';
import { trainingOps } from './op-table-training.js';
import * as ops from './ops.js';
import type { DType, Tensor } from './tensor.js';

export interface WindowAttrs {
  readonly strides: readonly [number, number];
  readonly padding: Padding;
}

export interface PoolAttrs extends WindowAttrs {
  readonly poolSize: readonly [number, number];
}

/**
 * An optimizer's update of parameters: inputs [step state, then per parameter its grad, its
 * values and, when `states` > 0, its slots (`states` values per element)], lowered to as few dispatches as the device's storage bindings
 * allow (one for most models), each `kernel` over a group of parameters of the given sizes. The
 * learning rate and iteration come from the step state.
 */
export interface UpdateAttrs {
  readonly name: string;
  readonly states: number;
  readonly kernel: (sizes: readonly number[], limits: KernelLimits) => Kernel;
}

/** The attributes of each op kind; the keys are the op kinds. */
export interface OpAttrs {
  binary: { op: elementwise.BinaryOp };
  binaryScalar: { op: elementwise.BinaryOp; scalar: number; scalarFirst: boolean };
  unary: { op: elementwise.UnaryOp };
  fill: { shape: readonly number[]; value: number; dtype: DType };
  reshape: { shape: readonly number[] };
  activation: { activation: Activation };
  /** Inputs y (the activation's output) and dy. */
  activationGrad: { activation: Activation };
  softmax: object;
  /** Inputs y, dy. */
  softmaxGrad: object;
  /** Inputs a, b and, optionally, bias; y = activation(op(a)·op(b) + bias). */
  /**
   * With `dropout`, the step state is the last input and inverted dropout follows the activation
   * in the same kernel (a Dense relu followed by Dropout, fused when traced). With `gate` (a
   * backward product only), the last input is that layer's dropped output, through which the
   * product's gradient is taken.
   */
  matMul: { transposeA: boolean; transposeB: boolean; activation: Activation; dropout?: OpAttrs['dropout']; gate?: { scale: number } };
  /** dy [..., C] → Σ over all but the last axis [C]. */
  biasGrad: object;
  /** x float32 → the same values rounded to float16, read by a forward product; its gradient passes straight to x. */
  toHalf: object;
  /** Inputs x [rows, inputs], dz [rows, units]; outputs a dense layer's dW = xᵀ·dz and db = Σ_rows dz. */
  denseGrads: object;
  /** Inputs x (NHWC), filter (HWIO) and, optionally, bias. */
  conv2d: WindowAttrs & { activation: Activation };
  /** Inputs dy, filter; output shaped like conv2d's input. */
  conv2dBackpropInput: WindowAttrs & { inputShape: readonly number[] };
  /** Inputs x, dy; output shaped like the filter. */
  conv2dBackpropFilter: WindowAttrs & { filterShape: readonly number[] };
  /** Outputs y and the argmax (int32) that backward routes gradients through. */
  maxPool: PoolAttrs;
  /** Inputs dy, argmax. */
  maxPoolGrad: PoolAttrs & { inputShape: readonly number[] };
  avgPool: PoolAttrs;
  avgPoolGrad: PoolAttrs & { inputShape: readonly number[] };
  sum: { axes: readonly number[] };
  mean: { axes: readonly number[] };
  /** Inputs logits [B, C], labels (int32 [B] or one-hot [B, C]); outputs loss [B] and dloss/dlogits [B, C]. */
  /**
   * Losses write each loss and its gradient times `scale` (the mean's 1/n, so the mean's gradient
   * folds away). With `metrics`, a third input is a metrics accumulator the kernel adds the batch to.
   */
  softmaxCrossEntropy: { labels: 'sparse' | 'onehot'; scale: number; metrics?: true };
  /** Inputs predictions, labels (same shape); outputs loss and dloss/dpredictions, elementwise. */
  binaryCrossEntropy: { fromLogits: boolean; scale: number };
  /** Inputs predictions, labels [B, ...]; outputs loss [B] (mean over the rest) and dloss/dpredictions. */
  meanSquaredError: { scale: number };
  /** Inputs x, step state (int32 [4]); the mask comes from (seed ^ run seed, step, index), read from the state as each run executes. */
  dropout: { rate: number; seed: number };
  /** Inputs dy, the forward pass's step state, and with an `activation` its output y, taken back through too. */
  dropoutGrad: { rate: number; seed: number; activation?: Activation };
  /** In place: inputs step state, then per parameter grad, param and slots; no outputs. */
  update: UpdateAttrs;
  /** In place: inputs predictions, labels, per-example loss, accumulator [8]; no outputs. */
  metrics: { labels: 'sparse' | 'onehot' | 'binary'; threshold?: number };
  /** In place: inputs x (float32), step state, accumulator [8]; records x's first non-finite element. */
  findNonFinite: { which: number };
  /** Rows of x (axis 0) by an int32 index list: a batch from a GPU-resident dataset. */
  gather: object;
  /**
   * Rows of a uint8 dataset packed four bytes to a word (input 0, an int32 tensor of words), by
   * index (input 1), as float32 byte·scale + offset, shaped [batch, ...rowShape].
   */
  gatherBytes: { rows: number; rowShape: readonly number[]; scale: number; offset: number };
}

export type OpKind = keyof OpAttrs;

type OpTable = { [K in OpKind]: OpDef<OpAttrs[K]> };

/** A reduction over no elements (an axis of 0 reduced, others kept): the sum 0, the mean NaN (0 / 0, as TensorFlow and NumPy). */
const emptyReduction = (y: Tensor, value: number, limits: KernelLimits): Dispatch[] => one(elementwise.fill({ dtype: y.dtype, size: y.size, value, limits }), [y]);

/** Sums `dy` over the axes along which `shape` was broadcast to dy's shape. */
function unbroadcast(dy: Tensor, shape: readonly number[]): Tensor {
  if (dy.shape.length === shape.length && dy.shape.every((d, k) => d === shape[k])) return dy;
  const lead = dy.shape.length - shape.length;
  const axes = dy.shape.map((_, k) => k).filter((k) => k < lead || (shape[k - lead] === 1 && dy.shape[k] !== 1));
  return ops.reshape(axes.length ? ops.sum(dy, axes) : dy, shape);
}

/** dy of a reduction over `axes` of a tensor of `shape`, spread back over those axes. */
function spread(dy: Tensor, shape: readonly number[], axes: readonly number[]): Tensor {
  const rank = shape.length;
  const reduced = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const kept = shape.map((d, k) => (reduced.has(k) ? 1 : d));
  return ops.add(ops.zeros(shape), ops.reshape(dy, kept));
}

/**
 * dz = dy · activation'(y) where the op fused an activation, so the linear part's rule can follow.
 * Where dy is a dropout's gradient (a Dense relu followed by Dropout), the dropout's kernel takes
 * the activation too, and the separate dropout gradient is left unused for the planner to drop.
 */
function throughActivation(dy: Tensor, y: Tensor, a: Activation): Tensor {
  if (a === 'linear') return dy;
  const dropout = producerOf(dy);
  if (dropout?.kind === 'dropoutGrad' && dropout.inputs.length === 2) {
    const [upstream, state] = dropout.inputs;
    return apply('dropoutGrad', [upstream, state, y], { ...(dropout.attrs as OpAttrs['dropoutGrad']), activation: a })[0];
  }
  return ops.activationGrad(y, dy, a);
}

function convShape(x: readonly number[], filter: readonly number[], attrs: WindowAttrs): conv.Conv2dShape {
  return {
    batch: x[0], inHeight: x[1], inWidth: x[2], inChannels: x[3],
    filterHeight: filter[0], filterWidth: filter[1], outChannels: filter[3],
    strides: [attrs.strides[0], attrs.strides[1]], padding: attrs.padding,
  };
}

function poolShape(x: readonly number[], attrs: PoolAttrs, limits?: KernelLimits): pool.Pool2dShape {
  return { batch: x[0], inHeight: x[1], inWidth: x[2], channels: x[3], poolSize: attrs.poolSize, strides: attrs.strides, padding: attrs.padding, limits };
}

/** Bias gradient kernels with their scratch for dy viewed as [rows, cols]. */
function biasGradDispatches(dy: Tensor, db: Tensor, limits: KernelLimits): Dispatch[] {
  const cols = dy.shape[dy.shape.length - 1];
  const params = { rows: dy.size / cols, cols, limits };
  const kernels = reduce.biasGradient(params);
  if (kernels.length === 1) return one(kernels[0], [dy, db]);
  const scratch = new Scratch(reduce.biasGradientScratchSize(params) * 4);
  return [{ kernel: kernels[0], args: [dy, scratch] }, { kernel: kernels[1], args: [scratch, db] }];
}

/** dy of a fused op's bias: Σ dz over all but the channel axis. */
function biasGradient(dz: Tensor, bias: Tensor | undefined): Tensor | null {
  return bias ? ops.biasGrad(dz) : null;
}

/**
 * The float32 weights a half copy was made from (the input of its toHalf node), else `t`: the
 * backward products read the full-precision weights; only the forward reads the halves.
 */
function master(t: Tensor): Tensor {
  if (t.dtype !== 'float16') return t;
  const node = producerOf(t);
  if (node?.kind !== 'toHalf') throw new Error(`${t.describe()}: a float16 operand must come from toHalf in the same trace`);
  return node.inputs[0];
}

/** A matmul's dispatch: the variant the adapter chose for this shape, or the built-in one. */
function matMulDispatch(shape: Omit<MatMulParams, 'limits'>, args: readonly Tensor[], limits: KernelLimits): Dispatch {
  // A fused dropout's seed changes the shader, not its speed: the choice is kept by its rate alone.
  const key = shape.dropout ? { ...shape, dropout: shape.dropout.rate } : shape;
  const { kernel, tuning } = tunable('matmul', key, limits, (variant, l) => matMulKernel({ ...shape, tileRows: variant.tileRows, lanes: variant.lanes, limits: l }));
  return { kernel, tuning, args };
}

/** A matMul node's inputs: a, b, then the bias if any, then the step state if dropout is fused, or the gate. */
function matMulInputs(inputs: readonly Tensor[], attrs: OpAttrs['matMul']): { a: Tensor; b: Tensor; bias?: Tensor; state?: Tensor; gate?: Tensor } {
  const [a, b, ...rest] = inputs;
  const state = attrs.dropout ? rest.pop() : undefined;
  const gate = attrs.gate ? rest.pop() : undefined;
  return { a, b, bias: rest[0], state, gate };
}

function matMulGeometry(a: readonly number[], b: readonly number[], { transposeA, transposeB }: OpAttrs['matMul']) {
  const [m, k] = transposeA ? [a[1], a[0]] : [a[0], a[1]];
  const [k2, n] = transposeB ? [b[1], b[0]] : [b[0], b[1]];
  return { m, n, k, k2 };
}

export const opTable = {
  binary: {
    name: ({ op }) => op,
    outputs: ([a, b]) => [{ shape: elementwise.broadcastShapes(a.shape, b.shape), dtype: a.dtype }],
    lower: ({ inputs: [a, b], outputs: [y], attrs }, limits) =>
      one(elementwise.binary({ op: attrs.op, dtype: a.dtype, aShape: a.shape, bShape: b.shape, limits }), [a, b, y]),
    grad: ([dy], { inputs: [a, b], attrs: { op } }) => {
      if (!dy) return [null, null];
      switch (op) {
        case 'add': return [unbroadcast(dy, a.shape), unbroadcast(dy, b.shape)];
        case 'sub': return [unbroadcast(dy, a.shape), unbroadcast(ops.neg(dy), b.shape)];
        case 'mul': return [unbroadcast(ops.mul(dy, b), a.shape), unbroadcast(ops.mul(dy, a), b.shape)];
        case 'div': return [unbroadcast(ops.div(dy, b), a.shape), unbroadcast(ops.neg(ops.div(ops.mul(dy, a), ops.square(b))), b.shape)];
        case 'maximum':
        case 'minimum': {
          // max(a, b) = b + relu(a − b): a takes dy where a > b (ties go to b), min the other way.
          const toA = ops.activationGrad(ops.relu(ops.sub(a, b)), dy, 'relu');
          const toB = ops.sub(dy, toA);
          return op === 'maximum' ? [unbroadcast(toA, a.shape), unbroadcast(toB, b.shape)] : [unbroadcast(toB, a.shape), unbroadcast(toA, b.shape)];
        }
      }
    },
  },
  binaryScalar: {
    name: ({ op }) => op,
    outputs: sameShape(0),
    lower: ({ inputs: [a], outputs: [y], attrs }, limits) =>
      one(elementwise.binaryScalar({ ...attrs, dtype: a.dtype, size: a.size, limits }), [a, y]),
    grad: ([dy], { inputs: [a], attrs: { op, scalar, scalarFirst } }) => {
      if (!dy) return [null];
      switch (op) {
        case 'add': return [dy];
        case 'sub': return [scalarFirst ? ops.neg(dy) : dy];
        case 'mul': return [ops.mul(dy, scalar)];
        case 'div': return [scalarFirst ? ops.neg(ops.div(ops.mul(dy, scalar), ops.square(a))) : ops.div(dy, scalar)];
        case 'maximum': return [ops.activationGrad(ops.relu(ops.sub(a, scalar)), dy, 'relu')];
        case 'minimum': return [ops.activationGrad(ops.relu(ops.sub(scalar, a)), dy, 'relu')];
      }
    },
  },
  unary: {
    name: ({ op }) => op,
    outputs: sameShape(0),
    lower: ({ inputs: [x], outputs: [y], attrs }, limits) => one(elementwise.unary({ op: attrs.op, dtype: x.dtype, size: x.size, limits }), [x, y]),
    grad: ([dy], { inputs: [x], attrs: { op } }) => {
      if (!dy) return [null];
      switch (op) {
        case 'neg': return [ops.neg(dy)];
        case 'square': return [ops.mul(ops.mul(dy, x), 2)];
        // d|x|/dx = sign(x) = relu'(x) − relu'(−x); 0 at 0, as TF.js.
        case 'abs': return [ops.sub(ops.activationGrad(ops.relu(x), dy, 'relu'), ops.activationGrad(ops.relu(ops.neg(x)), dy, 'relu'))];
      }
    },
  },
  fill: {
    outputs: (_, { shape, dtype }) => [{ shape, dtype }],
    lower: ({ outputs: [y], attrs }, limits) => one(elementwise.fill({ dtype: attrs.dtype, size: y.size, value: attrs.value, limits }), [y]),
    grad: () => [],
  },
  reshape: {
    alias: true,
    outputs: ([x], { shape }) => [{ shape, dtype: x.dtype }],
    lower: () => [],
    grad: ([dy], { inputs: [x] }) => [dy ? ops.reshape(dy, x.shape) : null],
  },
  activation: {
    name: ({ activation }) => activation,
    outputs: sameShape(0),
    lower: ({ inputs: [x], outputs: [y], attrs }, limits) => one(activation.activationForward({ activation: attrs.activation, size: x.size, limits }), [x, y]),
    grad: ([dy], { outputs: [y], attrs }) => [dy ? throughActivation(dy, y, attrs.activation) : null],
  },
  activationGrad: {
    outputs: sameShape(1),
    lower: ({ inputs: [y, dy], outputs: [dx], attrs }, limits) =>
      one(activation.activationBackward({ activation: attrs.activation, size: y.size, limits }), [y, dy, dx]),
    grad: notDifferentiable('activationGrad'),
  },
  softmax: {
    outputs: sameShape(0),
    lower: ({ inputs: [x], outputs: [y] }, limits) => {
      const cols = x.shape[x.rank - 1];
      return one(activation.softmaxForward({ rows: x.size / cols, cols, limits }), [x, y]);
    },
    grad: ([dy], { outputs: [y] }) => [dy ? ops.softmaxGrad(y, dy) : null],
  },
  softmaxGrad: {
    outputs: sameShape(1),
    lower: ({ inputs: [y, dy], outputs: [dx] }, limits) => {
      const cols = y.shape[y.rank - 1];
      return one(activation.softmaxBackward({ rows: y.size / cols, cols, limits }), [y, dy, dx]);
    },
    grad: notDifferentiable('softmaxGrad'),
  },
  matMul: {
    outputs: (inputs, attrs) => {
      const { a, b, bias, gate } = matMulInputs(inputs, attrs);
      if (a.rank !== 2 || b.rank !== 2) throw new Error(`matMul: expected two rank-2 tensors, got shapes ${fmt(a.shape)} and ${fmt(b.shape)}`);
      if (a.dtype !== 'float32' || b.dtype === 'int32') throw new Error(`matMul: expected float32 a and float32 or float16 b, got ${a.describe()} and ${b.describe()}`);
      const { m, n, k, k2 } = matMulGeometry(a.shape, b.shape, attrs);
      if (k !== k2) {
        throw new Error(`matMul: inner dimensions must agree: ${fmt(a.shape)}${attrs.transposeA ? 'ᵀ' : ''} · ${fmt(b.shape)}${attrs.transposeB ? 'ᵀ' : ''} has ${k} and ${k2}`);
      }
      if (bias && (bias.rank !== 1 || bias.shape[0] !== n)) throw new Error(`matMul: bias must have shape [${n}], got ${fmt(bias.shape)}`);
      if (gate && gate.size !== m * n) throw new Error(`matMul: the gate must have the product's shape [${m}, ${n}], got ${fmt(gate.shape)}`);
      return [f32([m, n])];
    },
    lower: ({ inputs, outputs: [y], attrs }, limits) => {
      const { a, b, bias } = matMulInputs(inputs, attrs);
      const { m, n, k } = matMulGeometry(a.shape, b.shape, attrs);
      const shape = {
        m, n, k, transposeA: attrs.transposeA, transposeB: attrs.transposeB, bias: !!bias, activation: attrs.activation,
        ...(attrs.dropout ? { dropout: attrs.dropout } : {}), ...(attrs.gate ? { gate: attrs.gate } : {}), ...(b.dtype === 'float16' ? { halfB: true } : {}),
      };
      return [matMulDispatch(shape, [...inputs, y], limits)];
    },
    grad: ([dy], { inputs, outputs: [y], attrs }) => {
      const { a, b: forwardB, bias, state } = matMulInputs(inputs, attrs);
      const b = master(forwardB);
      const { transposeA: tA, transposeB: tB, activation: act, dropout } = attrs;
      const none = inputs.map(() => null);
      if (!dy) return none;
      if (attrs.gate) throw new Error('matMul: a gated product is a gradient and has none of its own');
      // With dropout fused, its kernel takes the gradient back through the activation too: y is
      // the dropped output, whose sign is the activation's where kept (relu and linear only).
      const dz = dropout && state ? ops.dropoutGradThrough(dy, state, y, { ...dropout, activation: act }) : throughActivation(dy, y, act);
      // C = op(A)·op(B): dop(A) = dC·op(B)ᵀ, dop(B) = op(A)ᵀ·dC, each taken back through its transpose flag.
      const da = tA ? ops.matMul(b, dz, tB, true) : ops.matMul(dz, b, false, !tB);
      const grads: (Tensor | null)[] = bias && !tA && !tB
        ? [da, ...apply('denseGrads', [a, dz], {})] // a Dense layer's weights and bias
        : [da, tB ? ops.matMul(dz, a, true, tA) : ops.matMul(a, dz, !tA, false), biasGradient(dz, bias)];
      return inputs.map((_, k) => grads[k] ?? null);
    },
  },
  toHalf: {
    outputs: ([x]) => {
      if (x.dtype !== 'float32') throw new Error(`toHalf: expected float32 values, got ${x.describe()}`);
      return [{ shape: x.shape, dtype: 'float16' }];
    },
    lower: ({ inputs: [x], outputs: [y] }, limits) => (x.size ? one(toHalf({ size: x.size, limits }), [x, y]) : []),
    grad: ([dy]) => [dy],
  },
  biasGrad: {
    outputs: ([dy]) => [f32([dy.shape[dy.rank - 1]])],
    lower: ({ inputs: [dy], outputs: [db] }, limits) => biasGradDispatches(dy, db, limits),
    grad: notDifferentiable('biasGrad'),
  },
  denseGrads: {
    outputs: ([x, dz]) => [f32([x.shape[1], dz.shape[1]]), f32([dz.shape[1]])],
    // Small layers take one kernel for both; larger ones the (tunable) matmul and the bias reduction.
    lower: ({ inputs: [x, dz], outputs: [dw, db] }, limits) => {
      const [rows, inputs] = x.shape;
      const units = dz.shape[1];
      if (rows * inputs * units <= smallMatMulMacs) return one(denseGradients({ rows, inputs, units, limits }), [x, dz, dw, db]);
      const shape = { m: inputs, n: units, k: rows, transposeA: true, transposeB: false, bias: false, activation: 'linear' as const };
      return [matMulDispatch(shape, [x, dz, dw], limits), ...biasGradDispatches(dz, db, limits)];
    },
    grad: notDifferentiable('denseGrads'),
  },
  conv2d: {
    outputs: ([x, filter, bias], attrs) => {
      if (x.rank !== 4) throw new Error(`conv2d: expected x of rank 4 [batch, height, width, channels], got shape ${fmt(x.shape)}`);
      if (filter.rank !== 4) throw new Error(`conv2d: expected a filter of rank 4 [height, width, inChannels, outChannels], got shape ${fmt(filter.shape)}`);
      if (filter.shape[2] !== x.shape[3]) {
        throw new Error(`conv2d: the filter's inChannels (${filter.shape[2]}, shape ${fmt(filter.shape)}) must equal x's channels (${x.shape[3]}, shape ${fmt(x.shape)})`);
      }
      if (bias && (bias.rank !== 1 || bias.shape[0] !== filter.shape[3])) throw new Error(`conv2d: bias must have shape [${filter.shape[3]}], got ${fmt(bias.shape)}`);
      return [f32(conv.conv2dOutputShape(convShape(x.shape, filter.shape, attrs)))];
    },
    lower: ({ inputs: [x, filter, bias], outputs: [y], attrs }, limits) => {
      const shape = { ...convShape(x.shape, filter.shape, attrs), bias: !!bias, activation: attrs.activation, ...(filter.dtype === 'float16' ? { halfFilter: true } : {}) };
      const { kernel, tuning } = tunable('conv2d_forward', shape, limits, (variant, l) => conv.conv2dForward({ ...shape, tileRows: variant.tileRows, limits: l }));
      return [{ kernel, tuning, args: bias ? [x, filter, bias, y] : [x, filter, y] }];
    },
    grad: ([dy], { inputs: [x, filter, bias], outputs: [y], attrs }) => {
      if (!dy) return [null, null, null];
      const dz = throughActivation(dy, y, attrs.activation);
      const window = { strides: attrs.strides, padding: attrs.padding };
      return [ops.conv2dBackpropInput(dz, master(filter), x.shape, window), ops.conv2dBackpropFilter(x, dz, filter.shape, window), biasGradient(dz, bias)];
    },
  },
  conv2dBackpropInput: {
    outputs: (_, { inputShape }) => [f32(inputShape)],
    lower: ({ inputs: [dy, filter], outputs: [dx], attrs }, limits) => {
      const shape = convShape(attrs.inputShape, filter.shape, attrs);
      const { kernel, tuning } = tunable('conv2d_backward_input', shape, limits, (variant, l) => conv.conv2dBackwardInput({ ...shape, tileRows: variant.tileRows, limits: l }));
      return [{ kernel, tuning, args: [dy, filter, dx] }];
    },
    grad: notDifferentiable('conv2dBackpropInput'),
  },
  conv2dBackpropFilter: {
    outputs: (_, { filterShape }) => [f32(filterShape)],
    lower: ({ inputs: [x, dy], outputs: [df], attrs }, limits) => {
      const shape = { ...convShape(x.shape, attrs.filterShape, attrs), limits };
      const kernels = conv.conv2dBackwardFilter(shape);
      if (kernels.length === 1) return one(kernels[0], [x, dy, df]);
      const scratch = new Scratch(conv.conv2dScratchSize(shape) * 4);
      return [{ kernel: kernels[0], args: [x, dy, scratch] }, { kernel: kernels[1], args: [scratch, df] }];
    },
    grad: notDifferentiable('conv2dBackpropFilter'),
  },
  maxPool: {
    outputs: ([x], attrs) => {
      const shape = pool.pool2dOutputShape(poolShape(x.shape, attrs));
      return [f32(shape), { shape, dtype: 'int32' }];
    },
    lower: ({ inputs: [x], outputs: [y, argmax], attrs }, limits) => one(pool.maxPool2dForward(poolShape(x.shape, attrs, limits)), [x, y, argmax]),
    grad: ([dy], { inputs: [x], outputs: [, argmax], attrs }) => [dy ? ops.maxPoolGrad(dy, argmax, x.shape, attrs) : null],
  },
  maxPoolGrad: {
    outputs: (_, { inputShape }) => [f32(inputShape)],
    lower: ({ inputs: [dy, argmax], outputs: [dx], attrs }, limits) => one(pool.maxPool2dBackward(poolShape(attrs.inputShape, attrs, limits)), [dy, argmax, dx]),
    grad: notDifferentiable('maxPoolGrad'),
  },
  avgPool: {
    outputs: ([x], attrs) => [f32(pool.pool2dOutputShape(poolShape(x.shape, attrs)))],
    lower: ({ inputs: [x], outputs: [y], attrs }, limits) => one(pool.avgPool2dForward(poolShape(x.shape, attrs, limits)), [x, y]),
    grad: ([dy], { inputs: [x], attrs }) => [dy ? ops.avgPoolGrad(dy, x.shape, attrs) : null],
  },
  avgPoolGrad: {
    outputs: (_, { inputShape }) => [f32(inputShape)],
    lower: ({ inputs: [dy], outputs: [dx], attrs }, limits) => one(pool.avgPool2dBackward(poolShape(attrs.inputShape, attrs, limits)), [dy, dx]),
    grad: notDifferentiable('avgPoolGrad'),
  },
  sum: {
    outputs: ([x], { axes }) => [{ shape: reduce.reducedShape('sum', x.shape, axes), dtype: x.dtype }],
    lower: ({ inputs: [x], outputs: [y], attrs }, limits) =>
      x.size === 0 ? emptyReduction(y, 0, limits) : one(reduce.reduceSum({ shape: x.shape, axes: attrs.axes, dtype: x.dtype, limits }), [x, y]),
    grad: ([dy], { inputs: [x], attrs: { axes } }) => [dy ? spread(dy, x.shape, axes) : null],
  },
  mean: {
    outputs: ([x], { axes }) => [f32(reduce.reducedShape('mean', x.shape, axes))],
    lower: ({ inputs: [x], outputs: [y], attrs }, limits) =>
      x.size === 0 ? emptyReduction(y, NaN, limits) : one(reduce.reduceMean({ shape: x.shape, axes: attrs.axes, limits }), [x, y]),
    grad: ([dy], { inputs: [x], outputs: [y], attrs: { axes } }) => [dy ? spread(ops.div(dy, x.size / Math.max(1, y.size)), x.shape, axes) : null],
  },
  ...trainingOps,
} satisfies OpTable;

