// Ops, named and shaped as in TF.js. Each checks its arguments and goes through `apply`, which
// dispatches at once (eager) or records the op when a trace is active (sf.grads, a compiled
// step); the same functions write the gradient rules in op-table.ts.

import { runtime } from '../gpu/device.js';
import type { Activation } from '../shaders/activation.js';
import { activationNames } from '../shaders/activation.js';
import { type BinaryOp, broadcastShapes, type UnaryOp } from '../shaders/elementwise.js';
import type { Padding } from '../shaders/window.js';
import { fusesMetrics } from '../shaders/loss.js';
import { apply, constantValue, producerOf, rerecord } from './graph.js';
import type { OpAttrs, PoolAttrs, WindowAttrs } from './op-table.js';
import { mix32 } from './random.js';
import { type DType, Tensor, tensor } from './tensor.js';

export type Operand = Tensor | number;

/** f(t), then frees t when it is an eager intermediate (a traced one costs nothing to keep). */
export function disposing<T>(t: Tensor, f: (t: Tensor) => T): T {
  try {
    return f(t);
  } finally {
    if (!t.isSymbolic) t.dispose();
  }
}

/** Throws unless `t` is a tensor that can be used now, naming the op and the argument. */
export function check(t: unknown, op: string, name: string, expected = 'a Tensor'): asserts t is Tensor {
  if (!(t instanceof Tensor)) throw new Error(`sf.${op}: '${name}' must be ${expected}, got ${describeValue(t)}`);
  if (t.isDisposed) throw new Error(`sf.${op}: '${name}' is ${t.describe()}, which was disposed`);
  if (t.runtime !== runtime()) throw new Error(`sf.${op}: '${name}' lives on a GPU device that is no longer current`);
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array (wrap it with sf.tensor)';
  if (typeof v === 'number') return `the number ${v}`;
  return typeof v;
}

/** Throws unless `t` is float32 (or, where `half`, a float16 weight copy from toHalf). */
function checkFloat(t: Tensor, op: string, name: string, half = false): void {
  if (t.dtype === 'float32' || (half && t.dtype === 'float16')) return;
  throw new Error(`sf.${op}: '${name}' must be float32, got ${t.describe()}`);
}

/**
 * @internal x rounded to half precision, two elements to a word, for the forward products of a
 * step compiled with `forwardWeights: 'float16'`; the gradient passes straight through to x.
 */
export function toHalf(x: Tensor): Tensor {
  check(x, 'toHalf', 'x');
  checkFloat(x, 'toHalf', 'x');
  return apply('toHalf', [x], {})[0];
}

/** Fills a new tensor of `shape` with `value`. */
export function fill(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
  return filled('fill', shape, value, dtype);
}

function filled(op: string, shape: readonly number[], value: number, dtype: DType): Tensor {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`sf.${op}: a shape is an array of non-negative integers, got ${JSON.stringify(shape) ?? String(shape)}`);
  }
  if (dtype !== 'float32' && dtype !== 'int32') throw new Error(`sf.${op}: dtype must be 'float32' or 'int32', got ${JSON.stringify(dtype) ?? String(dtype)}`);
  if (typeof value !== 'number') throw new Error(`sf.${op}: value must be a number, got ${describeValue(value)}`);
  if (dtype === 'int32' && !Number.isInteger(value)) throw new Error(`sf.${op}: an int32 tensor holds integers, got the value ${value}`);
  return apply('fill', [], { shape: [...shape], value, dtype })[0];
}

export const zeros = (shape: readonly number[], dtype: DType = 'float32'): Tensor => filled('zeros', shape, 0, dtype);
export const ones = (shape: readonly number[], dtype: DType = 'float32'): Tensor => filled('ones', shape, 1, dtype);

function binary(op: BinaryOp, a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') return disposing(fill([], a), (t) => binaryScalar(op, t, b, false));
  if (typeof a === 'number' || typeof b === 'number') {
    const scalarFirst = typeof a === 'number';
    const t = scalarFirst ? b : a;
    check(t, op, scalarFirst ? 'b' : 'a', 'a Tensor or a number');
    return binaryScalar(op, t, (scalarFirst ? a : b) as number, scalarFirst);
  }
  check(a, op, 'a', 'a Tensor or a number');
  check(b, op, 'b', 'a Tensor or a number');
  if (a.dtype !== b.dtype) throw new Error(`sf.${op}: both operands need one dtype, got ${a.dtype} (a) and ${b.dtype} (b)`);
  // Traced constants (the gradient seed, a mean's 1/n) fold away rather than cost dispatches.
  const [ca, cb] = [constantValue(a), constantValue(b)];
  let shape: number[];
  try {
    shape = broadcastShapes(a.shape, b.shape);
  } catch (error) {
    throw new Error(`sf.${op}: ${(error as Error).message}`);
  }
  const same = (t: Tensor) => t.shape.length === shape.length && t.shape.every((d, k) => d === shape[k]);
  if (ca !== undefined && cb !== undefined) return fill(shape, scalarOp(op, ca, cb, a.dtype), a.dtype);
  if (cb !== undefined && same(a)) return binaryScalar(op, a, cb, false);
  if (ca !== undefined && same(b)) return binaryScalar(op, b, ca, true);
  return apply('binary', [a, b], { op })[0];
}

/** op on two numbers as the kernels compute it (float32 or int32). */
function scalarOp(op: BinaryOp, x: number, y: number, dtype: DType): number {
  const v = { add: x + y, sub: x - y, mul: x * y, div: dtype === 'int32' ? Math.floor(x / y) : x / y, maximum: Math.max(x, y), minimum: Math.min(x, y) }[op];
  return dtype === 'int32' ? Math.trunc(v) : Math.fround(v);
}

function binaryScalar(op: BinaryOp, t: Tensor, scalar: number, scalarFirst: boolean): Tensor {
  if (typeof scalar !== 'number') throw new Error(`sf.${op}: expected a Tensor or a number, got ${describeValue(scalar)}`);
  // As TensorFlow does: an int32 tensor takes integers only; rounding 0.5 away would be silent.
  if (t.dtype === 'int32' && !Number.isInteger(scalar)) {
    throw new Error(`sf.${op}: an int32 tensor takes integer numbers only, got ${scalar} with ${t.describe()}; use float32 tensors for fractions`);
  }
  const c = constantValue(t);
  if (c !== undefined) return fill(t.shape, scalarFirst ? scalarOp(op, scalar, c, t.dtype) : scalarOp(op, c, scalar, t.dtype), t.dtype);
  const identity = !scalarFirst && ((scalar === 0 && (op === 'add' || op === 'sub')) || (scalar === 1 && (op === 'mul' || op === 'div')));
  if (identity && t.isSymbolic) return t; // traced: nothing to compute; eagerly users get a tensor of their own
  return apply('binaryScalar', [t], { op, scalar, scalarFirst })[0];
}

function unary(op: UnaryOp, x: Tensor): Tensor {
  check(x, op, 'x');
  return apply('unary', [x], { op })[0];
}

/** a + b, broadcasting as in NumPy; either may be a number. */
export const add = (a: Operand, b: Operand): Tensor => binary('add', a, b);
/** a - b, broadcasting. */
export const sub = (a: Operand, b: Operand): Tensor => binary('sub', a, b);
/** a * b, broadcasting. */
export const mul = (a: Operand, b: Operand): Tensor => binary('mul', a, b);
/** a / b, broadcasting; floor division for int32, as in TF.js. */
export const div = (a: Operand, b: Operand): Tensor => binary('div', a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binary('maximum', a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binary('minimum', a, b);
export const neg = (x: Tensor): Tensor => unary('neg', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const square = (x: Tensor): Tensor => unary('square', x);

/** The same elements under another shape; one dimension may be −1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  check(x, 'reshape', 'x');
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < -1)) {
    throw new Error(`sf.reshape: a shape is an array of integers ≥ −1, got ${JSON.stringify(shape)}`);
  }
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) throw new Error(`sf.reshape: at most one dimension may be −1, got [${shape.join(', ')}]`);
  const known = shape.reduce((n, d) => (d === -1 ? n : n * d), 1);
  if (unknown && known === 0) throw new Error(`sf.reshape: cannot infer the −1 in [${shape.join(', ')}] when the other dimensions hold 0 elements (${x.describe()})`);
  const resolved = shape.map((d) => (d === -1 ? x.size / known : d));
  const size = resolved.reduce((n, d) => n * d, 1);
  if (size !== x.size || !resolved.every(Number.isInteger)) {
    throw new Error(`sf.reshape: cannot reshape ${x.describe()} (${x.size} elements) to [${shape.join(', ')}]`);
  }
  const c = constantValue(x);
  return c === undefined ? apply('reshape', [x], { shape: resolved })[0] : fill(resolved, c, x.dtype);
}

function activate(x: Tensor, a: Activation, op: string): Tensor {
  check(x, op, 'x');
  checkFloat(x, op, 'x');
  return apply('activation', [x], { activation: a })[0];
}

export const relu = (x: Tensor): Tensor => activate(x, 'relu', 'relu');
/** @internal An activation from the kernels' table by name ('linear' is the identity). */
export const activation = (x: Tensor, a: Activation): Tensor => (a === 'linear' ? x : activate(x, a, a));
export const sigmoid = (x: Tensor): Tensor => activate(x, 'sigmoid', 'sigmoid');
export const tanh = (x: Tensor): Tensor => activate(x, 'tanh', 'tanh');

/** softmax over the last axis (`dim` −1, the only one supported, as Keras's default). */
export function softmax(logits: Tensor, dim = -1): Tensor {
  check(logits, 'softmax', 'logits');
  checkFloat(logits, 'softmax', 'logits');
  if (dim !== -1 && dim !== logits.rank - 1) throw new Error(`sf.softmax: only the last axis (dim −1) is supported, got dim ${dim} for ${logits.describe()}`);
  if (logits.rank < 1) throw new Error(`sf.softmax: expected a tensor of rank ≥ 1, got ${logits.describe()}`);
  return apply('softmax', [logits], {})[0];
}

function checkActivation(a: unknown, op: string): asserts a is Activation {
  if (!activationNames.includes(a as Activation)) {
    throw new Error(`sf.${op}: unknown activation '${String(a)}'; expected one of ${activationNames.map((n) => `'${n}'`).join(', ')}`);
  }
}

/** op(a)·op(b) for rank-2 a and b, op transposing where asked. */
export function matMul(a: Tensor, b: Tensor, transposeA = false, transposeB = false): Tensor {
  return fusedMatMul({ a, b, transposeA, transposeB });
}

export interface FusedMatMulArgs {
  a: Tensor;
  b: Tensor;
  transposeA?: boolean;
  transposeB?: boolean;
  bias?: Tensor;
  activation?: Activation;
}

/** activation(op(a)·op(b) + bias) in one kernel, as tf.fused.matMul. */
export function fusedMatMul({ a, b, transposeA = false, transposeB = false, bias, activation = 'linear' }: FusedMatMulArgs): Tensor {
  check(a, 'matMul', 'a');
  check(b, 'matMul', 'b');
  checkFloat(a, 'matMul', 'a');
  checkFloat(b, 'matMul', 'b', true);
  if (bias !== undefined) check(bias, 'matMul', 'bias');
  checkActivation(activation, 'matMul');
  if (a.rank === 2 && b.rank === 2 && a.shape[transposeA ? 0 : 1] === 0 && b.shape[transposeB ? 1 : 0] === 0) {
    // An inner dimension of 0 sums nothing: zeros (plus the bias, through the activation), as TF.js.
    const [m, n] = [a.shape[transposeA ? 1 : 0], b.shape[transposeB ? 0 : 1]];
    if (bias && (bias.rank !== 1 || bias.shape[0] !== n)) throw new Error(`sf.matMul: bias must have shape [${n}], got ${bias.describe()}`);
    const z = bias ? disposing(zeros([m, n]), (t) => add(t, bias)) : zeros([m, n]);
    return activation === 'linear' ? z : disposing(z, (t) => activate(t, activation, 'matMul'));
  }
  return apply('matMul', bias ? [a, b, bias] : [a, b], { transposeA, transposeB, activation })[0];
}

function pair(v: number | readonly number[], op: string, name: string): [number, number] {
  const p: unknown[] = typeof v === 'number' ? [v, v] : Array.isArray(v) ? v : [];
  if (p.length !== 2 || p.some((d) => !Number.isInteger(d) || (d as number) < 1)) {
    throw new Error(`sf.${op}: ${name} must be a positive integer or a pair of them, got ${JSON.stringify(v) ?? String(v)}`);
  }
  return [p[0] as number, p[1] as number];
}

function padding(pad: unknown, op: string): Padding {
  if (pad !== 'same' && pad !== 'valid') throw new Error(`sf.${op}: pad must be 'same' or 'valid', got ${JSON.stringify(pad)}`);
  return pad;
}

/** 2-D convolution of NHWC `x` with an HWIO `filter`, as tf.conv2d. */
export function conv2d(x: Tensor, filter: Tensor, strides: number | [number, number], pad: Padding): Tensor {
  return fusedConv2d({ x, filter, strides, pad });
}

export interface FusedConv2dArgs {
  x: Tensor;
  filter: Tensor;
  strides: number | [number, number];
  pad: Padding;
  bias?: Tensor;
  activation?: Activation;
}

/** activation(conv2d(x, filter) + bias) in one kernel, as tf.fused.conv2d. */
export function fusedConv2d({ x, filter, strides, pad, bias, activation = 'linear' }: FusedConv2dArgs): Tensor {
  check(x, 'conv2d', 'x');
  check(filter, 'conv2d', 'filter');
  checkFloat(x, 'conv2d', 'x');
  checkFloat(filter, 'conv2d', 'filter', true);
  if (bias !== undefined) check(bias, 'conv2d', 'bias');
  checkActivation(activation, 'conv2d');
  const attrs = { strides: pair(strides, 'conv2d', 'strides'), padding: padding(pad, 'conv2d'), activation };
  return apply('conv2d', bias ? [x, filter, bias] : [x, filter], attrs)[0];
}

function poolAttrs(x: Tensor, filterSize: number | [number, number], strides: number | [number, number] | undefined, pad: Padding, op: string): PoolAttrs {
  check(x, op, 'x');
  checkFloat(x, op, 'x');
  if (x.rank !== 4) throw new Error(`sf.${op}: expected x of rank 4 [batch, height, width, channels], got ${x.describe()}`);
  const poolSize = pair(filterSize, op, 'filterSize');
  return { poolSize, strides: strides === undefined ? poolSize : pair(strides, op, 'strides'), padding: padding(pad, op) };
}

/** Max pooling of NHWC `x`, as tf.maxPool. */
export function maxPool(x: Tensor, filterSize: number | [number, number], strides: number | [number, number], pad: Padding): Tensor {
  const [y, argmax] = apply('maxPool', [x], poolAttrs(x, filterSize, strides, pad, 'maxPool'));
  if (!argmax.isSymbolic) argmax.dispose(); // eager: nothing will route gradients through it
  return y;
}

/** Average pooling of NHWC `x`, as tf.avgPool. */
export function avgPool(x: Tensor, filterSize: number | [number, number], strides: number | [number, number], pad: Padding): Tensor {
  return apply('avgPool', [x], poolAttrs(x, filterSize, strides, pad, 'avgPool'))[0];
}

function axesOf(x: Tensor, axis: number | number[] | null | undefined, op: string): number[] {
  check(x, op, 'x');
  if (axis === undefined || axis === null) return x.shape.map((_, k) => k);
  const axes = typeof axis === 'number' ? [axis] : axis;
  if (!Array.isArray(axes) || axes.some((a) => typeof a !== 'number')) throw new Error(`sf.${op}: axis must be a number or an array of numbers, got ${JSON.stringify(axis)}`);
  return axes;
}

function keep(y: Tensor, x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
  if (!keepDims) return y;
  const reduced = new Set(axes.map((a) => (a < 0 ? a + x.rank : a)));
  return disposing(y, (t) => reshape(t, x.shape.map((d, k) => (reduced.has(k) ? 1 : d))));
}

/** Σ over `axis` (all axes by default), as tf.sum. */
export function sum(x: Tensor, axis?: number | number[] | null, keepDims = false): Tensor {
  const axes = axesOf(x, axis, 'sum');
  return keep(apply('sum', [x], { axes })[0], x, axes, keepDims);
}

/** The mean over `axis` (all axes by default), as tf.mean. */
export function mean(x: Tensor, axis?: number | number[] | null, keepDims = false): Tensor {
  const axes = axesOf(x, axis, 'mean');
  checkFloat(x, 'mean', 'x');
  return keep(apply('mean', [x], { axes })[0], x, axes, keepDims);
}

let dropoutCalls = 0;

/** Inverted dropout, as tf.dropout: each element is zeroed with probability `rate`, the rest scaled by 1/(1 − rate). */
export function dropout(x: Tensor, rate: number, seed?: number): Tensor {
  check(x, 'dropout', 'x');
  checkFloat(x, 'dropout', 'x');
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw new Error(`sf.dropout: rate must be a number in [0, 1), got ${rate}`);
  const s = seed ?? Math.floor(Math.random() * 2 ** 32);
  if (!Number.isInteger(s) || s < 0 || s >= 2 ** 32) throw new Error(`sf.dropout: seed must be an integer in [0, 2³²), got ${seed}`);
  // Each call draws a new mask: the call count is mixed into the seed. The step state (step 0,
  // run seed 0) lives for the call only, so sf.memory() counts the result alone.
  return disposing(tensor(new Int32Array(4), [4], 'int32'), (state) => dropoutWith(x, { rate, seed: mix32(s, dropoutCalls++) }, state));
}

/** @internal Dropout whose step and run seed come from a step state (int32 [4], see src/nn/step-state.ts). */
export function dropoutWith(x: Tensor, attrs: OpAttrs['dropout'], state: Tensor): Tensor {
  // Traced after a relu (or linear) matMul, the matMul's kernel applies the dropout itself; the
  // plain matMul is then left unused (unless something else reads it) for the planner to drop.
  const producer = producerOf(x);
  if (producer?.kind === 'matMul') {
    const m = producer.attrs as OpAttrs['matMul'];
    if (!m.dropout && (m.activation === 'relu' || m.activation === 'linear')) return apply('matMul', [...producer.inputs, state], { ...m, dropout: attrs })[0];
  }
  return apply('dropout', [x, state], attrs)[0];
}

// The backward ops that gradient rules call; users reach them through sf.grads.

export const activationGrad = (y: Tensor, dy: Tensor, activation: Activation): Tensor => apply('activationGrad', [y, dy], { activation })[0];
export const softmaxGrad = (y: Tensor, dy: Tensor): Tensor => apply('softmaxGrad', [y, dy], {})[0];
export const biasGrad = (dy: Tensor): Tensor => apply('biasGrad', [dy], {})[0];
export const conv2dBackpropInput = (dy: Tensor, filter: Tensor, inputShape: readonly number[], window: WindowAttrs): Tensor =>
  apply('conv2dBackpropInput', [dy, filter], { ...window, inputShape })[0];
export const conv2dBackpropFilter = (x: Tensor, dy: Tensor, filterShape: readonly number[], window: WindowAttrs): Tensor =>
  apply('conv2dBackpropFilter', [x, dy], { ...window, filterShape })[0];
export const maxPoolGrad = (dy: Tensor, argmax: Tensor, inputShape: readonly number[], attrs: PoolAttrs): Tensor =>
  apply('maxPoolGrad', [dy, argmax], { ...attrs, inputShape })[0];
export const avgPoolGrad = (dy: Tensor, inputShape: readonly number[], attrs: PoolAttrs): Tensor => apply('avgPoolGrad', [dy], { ...attrs, inputShape })[0];
export const dropoutGrad = (dy: Tensor, state: Tensor, attrs: OpAttrs['dropoutGrad']): Tensor => apply('dropoutGrad', [dy, state], attrs)[0];

/**
 * @internal The gradient at the input of a relu (or linear) activation and the dropout fused
 * after it, from dy at the dropped output y. Traced after the relu, where dy is a plain product
 * (the next Dense layer's dz·Wᵀ), that product's kernel applies the gate itself: y > 0 exactly
 * where the mask kept the element and the relu passed it.
 */
export function dropoutGradThrough(dy: Tensor, state: Tensor, y: Tensor, attrs: OpAttrs['dropoutGrad']): Tensor {
  if (attrs.activation === 'linear') return apply('dropoutGrad', [dy, state], attrs)[0];
  const producer = producerOf(dy);
  if (attrs.activation === 'relu' && producer?.kind === 'matMul') {
    const m = producer.attrs as OpAttrs['matMul'];
    if (!m.dropout && !m.gate && m.activation === 'linear' && producer.inputs.length === 2) {
      return apply('matMul', [...producer.inputs, y], { ...m, gate: { scale: 1 / (1 - attrs.rate) } })[0];
    }
  }
  return apply('dropoutGrad', [dy, state, y], attrs)[0];
}

/**
 * @internal Records the first non-finite element of `x` (float32) in a metrics accumulator's
 * spare words, in place, unless an earlier run recorded one (see shaders/finite.ts); `which`
 * tells the tensors apart.
 */
export function recordNonFinite(x: Tensor, state: Tensor, accumulator: Tensor, which: number): void {
  apply('findNonFinite', [x, state, accumulator], { which });
}

/**
 * @internal Adds a batch to a metrics accumulator [loss sum, correct, count, ...] in place:
 * `loss` holds one value per example; labels are class indices, one-hot rows or 0/1 values.
 */
export function accumulateMetrics(predictions: Tensor, labels: Tensor, loss: Tensor, accumulator: Tensor, kind: OpAttrs['metrics']['labels'], threshold?: number): void {
  // Traced, a softmax cross-entropy over the same logits and labels takes the metrics in its own
  // kernel, where the batch is small enough for one workgroup.
  const producer = producerOf(loss);
  if (producer?.kind === 'softmaxCrossEntropy' && producer.outputs[0] === loss) {
    const attrs = producer.attrs as OpAttrs['softmaxCrossEntropy'];
    const [logits, given] = producer.inputs;
    if (!attrs.metrics && attrs.labels === kind && logits === predictions && given === labels && fusesMetrics(logits.shape[0], logits.shape[1])) {
      return rerecord(producer, 'softmaxCrossEntropy', [logits, labels, accumulator], { ...attrs, metrics: true });
    }
  }
  apply('metrics', [predictions, labels, loss, accumulator], { labels: kind, threshold });
}

/** Rows of `x` picked by `indices` (int32, rank 1), as tf.gather along axis 0. */
export function gather(x: Tensor, indices: Tensor): Tensor {
  check(x, 'gather', 'x');
  check(indices, 'gather', 'indices');
  return apply('gather', [x, indices], {})[0];
}

/** @internal Rows of each of `xs` by the same indices, in one dispatch: a batch's x and y. */
export function gatherAll(xs: readonly Tensor[], indices: Tensor): Tensor[] {
  xs.forEach((x, k) => check(x, 'gather', `x ${k}`));
  check(indices, 'gather', 'indices');
  return xs.length ? apply('gather', [...xs, indices], {}) : [];
}

/** @internal A GPU-resident uint8 dataset: bytes packed four to an int32 word, rows of `rowShape`. */
export interface PackedBytes {
  readonly words: Tensor;
  readonly rows: number;
  readonly rowShape: readonly number[];
}

/** @internal Rows of packed uint8 data by index, as float32 byte·scale + offset. */
export function gatherBytes(source: PackedBytes, indices: Tensor, scale = 1, offset = 0): Tensor {
  check(indices, 'gatherBytes', 'indices');
  return apply('gatherBytes', [source.words, indices], { rows: source.rows, rowShape: source.rowShape, scale, offset })[0];
}
