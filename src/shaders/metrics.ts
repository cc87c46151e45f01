// Training metrics on the GPU: each step adds its loss sum, correct-prediction count and sample
// count to a small accumulator buffer, which the host reads back when it pleases.

import { linearWorkgroupSize } from './grid.js';
import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { checkCount } from './reduce.js';

export interface TrainingMetricsParams {
  batch: number;
  classes: number;
  /**
   * 'sparse': int32 class indices [B] (categorical accuracy by argmax; a label outside [0, C)
   * never counts as correct). 'onehot': float32 [B, C], compared by argmax. 'binary': float32
   * 0/1 labels [B] against predictions [B, 1] thresholded, as Keras's binary accuracy; needs
   * classes 1.
   */
  labels: 'sparse' | 'onehot' | 'binary';
  /** 'binary' only: a prediction counts as 1 when strictly above it (0.5 for probabilities, 0 for logits). */
  threshold?: number;
  limits?: KernelLimits;
}

/**
 * The accumulator layout: [loss sum, correct count, sample count], then five words where a
 * training step records the first non-finite input it finds (shaders/finite.ts).
 */
export const metricsAccumulatorSize = 8;

/**
 * Adds one batch to the accumulator: acc[0] += Σ loss, acc[1] += number of correct predictions,
 * acc[2] += B; the other words are left alone. Predictions may be logits or probabilities: argmax is the
 * same. Argmax ties go to the first maximal index, as tf.argMax. One workgroup strides over the
 * batch and combines its partial sums with a tree, so each float32 sum is accurate to about
 * log2(lanes) + B/lanes roundings; counts are exact up to 2^24.
 * Bindings: predictions [B, C], labels, loss [B], acc [8] (updated in place).
 */
export function trainingMetrics({ batch, classes, labels, threshold = 0.5, limits = defaultLimits }: TrainingMetricsParams): Kernel {
  checkCount('trainingMetrics', 'batch', batch);
  checkCount('trainingMetrics', 'classes', classes);
  if (labels !== 'sparse' && labels !== 'onehot' && labels !== 'binary') {
    throw new Error(`trainingMetrics: labels must be 'sparse', 'onehot' or 'binary', got '${labels}'`);
  }
  if (labels === 'binary' && classes !== 1) {
    throw new Error(`trainingMetrics: binary labels need predictions of 1 class per example, got classes ${classes}`);
  }
  if (!Number.isFinite(threshold)) throw new Error(`trainingMetrics: threshold must be a finite number, got ${threshold}`);
  const lanes = metricsLanes(batch, limits);
  const code = /* wgsl */ `
@group(0) @binding(0) var<storage, read> predictions: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<${labels === 'sparse' ? 'i32' : 'f32'}>;
@group(0) @binding(2) var<storage, read> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> acc: array<f32>;
${correctWgsl(labels, classes, threshold, 'predictions')}
${accumulatorWgsl(lanes)}

@compute @workgroup_size(${lanes})
fn main(@builtin(local_invocation_index) lane: u32) {
  var sums = vec2<f32>(0.0, 0.0);
  for (var b = lane; b < ${batch}u; b += ${lanes}u) {
    sums += vec2<f32>(loss[b], select(0.0, 1.0, is_correct(b)));
  }
  accumulate(sums, lane, ${batch}u);
}
`;
  return { name: `training_metrics_${labels}`, code, bindings: ['read', 'read', 'read', 'write'], workgroupSize: [lanes, 1, 1], dispatch: [1, 1, 1] };
}

/** The lanes of a one-workgroup metrics pass: a power of two, no wider than the batch needs. */
export function metricsLanes(batch: number, limits: KernelLimits): number {
  return Math.min(2 ** Math.floor(Math.log2(linearWorkgroupSize(limits))), 2 ** Math.ceil(Math.log2(batch)));
}

/**
 * WGSL `fn is_correct(b: u32) -> bool`: whether example b's prediction (in the buffer named
 * `predictions`, [B, C]) matches its label (the buffer `labels`), as trainingMetrics counts it.
 */
export function correctWgsl(labels: TrainingMetricsParams['labels'], classes: number, threshold: number, predictions: string): string {
  const C = classes;
  const argmax = (buffer: string) => /* wgsl */ `
fn argmax_${buffer}(base: u32) -> u32 {
  var best = ${buffer}[base];
  var index = 0u;
  for (var j = 1u; j < ${C}u; j++) {
    let v = ${buffer}[base + j];
    // Strictly greater: the first of equal maxima wins.
    if (v > best) {
      best = v;
      index = j;
    }
  }
  return index;
}`;
  return {
    sparse: /* wgsl */ `${argmax(predictions)}
fn is_correct(b: u32) -> bool {
  let label = labels[b];
  return label >= 0 && u32(label) == argmax_${predictions}(b * ${C}u);
}`,
    onehot: /* wgsl */ `${argmax(predictions)}
${argmax('labels')}
fn is_correct(b: u32) -> bool {
  return argmax_labels(b * ${C}u) == argmax_${predictions}(b * ${C}u);
}`,
    binary: /* wgsl */ `
fn is_correct(b: u32) -> bool {
  return select(0.0, 1.0, ${predictions}[b] > f32(${threshold})) == labels[b];
}`,
  }[labels];
}

/**
 * WGSL `fn accumulate(sums: vec2<f32>, lane: u32, batch: u32)`: adds the (loss, correct) sums of
 * the workgroup's `lanes` lanes to acc[0] and acc[1] with a tree, and batch to acc[2]. Every lane
 * calls it, from uniform control flow. The kernel binds the accumulator as `acc`.
 */
export function accumulatorWgsl(lanes: number): string {
  return /* wgsl */ `
var<workgroup> partial: array<vec2<f32>, ${lanes}>;
fn accumulate(sums: vec2<f32>, lane: u32, batch: u32) {
  partial[lane] = sums;
  workgroupBarrier();
  for (var s = ${lanes >> 1}u; s > 0u; s >>= 1u) {
    if (lane < s) { partial[lane] += partial[lane + s]; }
    workgroupBarrier();
  }
  if (lane == 0u) {
    acc[0] += partial[0].x;
    acc[1] += partial[0].y;
    acc[2] += f32(batch);
  }
}`;
}
