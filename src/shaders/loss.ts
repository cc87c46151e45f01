// Loss kernels: each reads predictions and targets once and writes both the loss values and
// the gradient with respect to the predictions (times a uniform `scale`, e.g. 1/B for a mean).

import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { declareBindings, linearKernel, packUniforms, preamble, type StorageBuffer } from './preamble.js';
import { accumulatorWgsl, correctWgsl, metricsLanes } from './metrics.js';
import { checkCount, maxColsPerInvocation, rowLayout } from './reduce.js';

/**
 * A quiet NaN, for losses that must report bad input. WGSL rejects NaN in constant expressions,
 * so its bits come from a private variable, which is read at run time.
 */
const nanBits = 'var<private> nan_bits: u32 = 0x7fc00000u;';
const nan = 'bitcast<f32>(nan_bits)';

/** The bindings of the losses over predictions and targets of one shape: both read, the loss and the gradient written. */
const predictionBuffers: readonly StorageBuffer[] = [
  ['predictions', 'read', 'f32'],
  ['targets', 'read', 'f32'],
  ['loss', 'write', 'f32'],
  ['dpredictions', 'write', 'f32'],
];

export interface SoftmaxCrossEntropyParams {
  batch: number;
  classes: number;
  /** 'sparse': int32 class indices [batch]; 'onehot': float32 probabilities [batch, classes]. */
  labels: 'sparse' | 'onehot';
  /** Multiplies the gradient (not the loss). Default 1/batch: the gradient of the batch mean. */
  scale?: number;
  /**
   * Also adds the batch to a metrics accumulator, as trainingMetrics does (loss sum, correct
   * count, count): one workgroup strides over the rows, one invocation per row, so only for
   * batches where that is cheap (see fusesMetrics). The accumulator is bound after the labels.
   */
  metrics?: boolean;
  limits?: KernelLimits;
}

/** Whether softmaxCrossEntropy can take a batch's metrics in the same dispatch: rows one invocation each, one workgroup. */
export function fusesMetrics(batch: number, classes: number): boolean {
  return classes <= maxColsPerInvocation && batch * classes <= 2 ** 14;
}

/**
 * Softmax followed by cross-entropy, from logits, in one pass that also writes the gradient.
 * Bindings: logits [B, C], labels, (with metrics: the accumulator [8]), loss [B], dlogits [B, C], params.
 *
 * loss = −Σ_j t_j·log softmax(x)_j = Σ_j t_j·(m − x_j) + (Σ_j t_j)·log Σ_k exp(x_k − m), with m
 * the row max: every term is ≥ 0 and no exp overflows. dloss/dx = softmax(x)·Σt − t, which is
 * softmax − onehot for labels that sum to 1. A sparse label outside [0, C) gives a NaN loss (so
 * training stops and reports it) and a zero gradient.
 */
export function softmaxCrossEntropy({ batch, classes, labels, scale = 1 / batch, metrics = false, limits = defaultLimits }: SoftmaxCrossEntropyParams): Kernel {
  checkCount('softmaxCrossEntropy', 'batch', batch);
  checkCount('softmaxCrossEntropy', 'classes', classes);
  if (labels !== 'sparse' && labels !== 'onehot') {
    throw new Error(`softmaxCrossEntropy: labels must be 'sparse' or 'onehot', got '${labels}'`);
  }
  if (metrics && !fusesMetrics(batch, classes)) throw new Error(`softmaxCrossEntropy: metrics are fused only for up to ${maxColsPerInvocation} classes and 2^14 elements, got ${batch}×${classes}`);
  const C = classes;
  const layout = rowLayout(metrics ? 1 : batch, C, limits);
  const params = packUniforms([['scale', 'f32', scale]]);
  const each = `for (var j = lane; j < ${C}u; j += ${layout.lanes}u)`;
  const sparse = labels === 'sparse';
  const body = sparse
    ? /* wgsl */ `
  let label = labels[row];
  let valid = label >= 0 && label < ${C}i;
  ${each} {
    let t = select(0.0, 1.0, valid && u32(label) == j);
    dlogits[base + j] = select(0.0, (exp(logits[base + j] - m) * inv - t) * p.scale, valid);
  }
  let l = select(${nan}, (m - logits[base + select(0u, u32(label), valid)]) + log_sum, valid);
  if (lane == 0u) { loss[row] = l; }
  return l;`
    : /* wgsl */ `
  var t_sum = 0.0;
  var t_gap = 0.0;
  ${each} {
    let t = labels[base + j];
    t_sum += t;
    t_gap += t * (m - logits[base + j]);
  }
  t_sum = row_sum(t_sum, lane);
  t_gap = row_sum(t_gap, lane);
  ${each} {
    dlogits[base + j] = (exp(logits[base + j] - m) * inv * t_sum - labels[base + j]) * p.scale;
  }
  let l = t_gap + t_sum * log_sum;
  if (lane == 0u) { loss[row] = l; }
  return l;`;
  const { wgsl, bindings } = declareBindings([
    ['logits', 'read', 'f32'],
    ['labels', 'read', sparse ? 'i32' : 'f32'],
    ...(metrics ? [['acc', 'write', 'f32'] as const] : []),
    ['loss', 'write', 'f32'],
    ['dlogits', 'write', 'f32'],
  ], true);
  const lanes = metricsLanes(batch, limits);
  // With metrics: one workgroup, each invocation taking rows lane, lane + lanes, ... whole.
  const main = metrics
    ? /* wgsl */ `${correctWgsl(labels, C, 0.5, 'logits')}
${accumulatorWgsl(lanes)}

@compute @workgroup_size(${lanes})
fn main(@builtin(local_invocation_index) invocation: u32) {
  var sums = vec2<f32>(0.0, 0.0);
  for (var row = invocation; row < ${batch}u; row += ${lanes}u) {
    sums += vec2<f32>(row_loss(row, 0u), select(0.0, 1.0, is_correct(row)));
  }
  accumulate(sums, invocation, ${batch}u);
}`
    : /* wgsl */ `${layout.main}
  row_loss(row, lane);
}`;
  const code = /* wgsl */ `${preamble}
${params.struct}
${wgsl}
${sparse ? nanBits : ''}
${layout.functions}

${main}

// Row \`row\`'s loss and gradient, its lanes sharing the row; returns the loss.
fn row_loss(row: u32, lane: u32) -> f32 {
  let base = row * ${C}u;
  var m = -0x1.fffffep+127f; // the lowest finite f32
  ${each} { m = max(m, logits[base + j]); }
  m = row_max(m, lane);
  var s = 0.0;
  ${each} { s += exp(logits[base + j] - m); }
  s = row_sum(s, lane);
  // s ≥ 1: the max element contributes exp(0).
  let log_sum = log(s);
  let inv = 1.0 / s;
${body}
}
`;
  return {
    name: `softmax_cross_entropy_${labels}${metrics ? '_metrics' : ''}`,
    code,
    bindings,
    uniforms: params.data,
    workgroupSize: metrics ? [lanes, 1, 1] : layout.workgroupSize,
    dispatch: metrics ? [1, 1, 1] : layout.dispatch,
  };
}

export interface BinaryCrossEntropyParams {
  /** Elements. */
  size: number;
  /** Predictions are logits (any real) rather than probabilities in [0, 1]. */
  fromLogits: boolean;
  /** Multiplies the gradient (not the loss). Default 1/size: the gradient of the mean. */
  scale?: number;
  limits?: KernelLimits;
}

/**
 * Elementwise binary cross-entropy and its gradient with respect to the predictions.
 * Bindings: predictions, targets, loss, dpredictions, params (all [size]).
 *
 * Probabilities are clipped to [1e-7, 1 − 1e-7] as Keras does, loss = −t·log p − (1 − t)·log(1 − p),
 * gradient (p − t) / (p·(1 − p)) inside the clip range and 0 outside it (where the clip is flat).
 * Logits use loss = max(x, 0) − x·t + log(1 + exp(−|x|)), which never overflows, and gradient
 * sigmoid(x) − t.
 */
export function binaryCrossEntropy({ size, fromLogits, scale = 1 / Math.max(1, size), limits = defaultLimits }: BinaryCrossEntropyParams): Kernel {
  checkCount('binaryCrossEntropy', 'size', size, 0);
  const body = fromLogits
    ? /* wgsl */ `
  let e = exp(-abs(x));
  // log(1 + e) loses e's digits when e is tiny; the series does not.
  let log1p_e = select(log(1.0 + e), e * (1.0 - 0.5 * e), e < 1e-4);
  loss[i] = max(x, 0.0) - x * t + log1p_e;
  // sigmoid(x) from e = exp(−|x|), which cannot overflow.
  let sigmoid = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
  dpredictions[i] = (sigmoid - t) * p.scale;`
    : /* wgsl */ `
  let epsilon = 1e-7;
  let q = clamp(x, epsilon, 1.0 - epsilon);
  loss[i] = -(t * log(q) + (1.0 - t) * log(1.0 - q));
  let inside = x >= epsilon && x <= 1.0 - epsilon;
  dpredictions[i] = select(0.0, (q - t) / (q * (1.0 - q)) * p.scale, inside);`;
  return linearKernel({
    name: fromLogits ? 'binary_cross_entropy_logits' : 'binary_cross_entropy',
    count: size, limits, buffers: predictionBuffers, fields: [['scale', 'f32', scale]], countUniform: true,
    body: `  let x = predictions[i];\n  let t = targets[i];${body}`,
  });
}

export interface MeanSquaredErrorParams {
  batch: number;
  features: number;
  /** Multiplies the gradient (not the loss). Default 1/batch: the gradient of the batch mean. */
  scale?: number;
  limits?: KernelLimits;
}

/**
 * loss[b] = mean over features of (p − t)², gradient 2(p − t)/F · scale.
 * Bindings: predictions [B, F], targets [B, F], loss [B], dpredictions [B, F], params.
 */
export function meanSquaredError({ batch, features, scale = 1 / batch, limits = defaultLimits }: MeanSquaredErrorParams): Kernel {
  checkCount('meanSquaredError', 'batch', batch);
  checkCount('meanSquaredError', 'features', features);
  const F = features;
  const layout = rowLayout(batch, F, limits);
  const params = packUniforms([['scale', 'f32', scale]]);
  const { wgsl, bindings } = declareBindings(predictionBuffers, true);
  const code = /* wgsl */ `${preamble}
${params.struct}
${wgsl}
${layout.functions}

${layout.main}
  let base = row * ${F}u;
  var s = 0.0;
  for (var j = lane; j < ${F}u; j += ${layout.lanes}u) {
    let d = predictions[base + j] - targets[base + j];
    s += d * d;
    dpredictions[base + j] = d * (2.0 / ${F}.0) * p.scale;
  }
  let total = row_sum(s, lane);
  if (lane == 0u) { loss[row] = total / ${F}.0; }
}
`;
  return {
    name: 'mean_squared_error',
    code,
    bindings,
    uniforms: params.data,
    workgroupSize: layout.workgroupSize,
    dispatch: layout.dispatch,
  };
}
