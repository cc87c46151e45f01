// Finding non-finite inputs on the GPU: the first NaN or ±Infinity of a tensor, recorded in the
// metrics accumulator's spare words, so a training step reports bad data in the same buffer the
// host already reads back.

import { linearWorkgroupSize } from './grid.js';
import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { metricsAccumulatorSize } from './metrics.js';
import { checkCount } from './reduce.js';

export interface FindNonFiniteParams {
  /** Elements of the tensor checked. */
  size: number;
  /** Elements per sample (the tensor's size over its first dimension). */
  rowSize: number;
  /** A number the host chose for the tensor (0 for x, 1 for y), recorded with the find. */
  which: number;
  limits?: KernelLimits;
}

/** Where the accumulator records a find: [which, step + 1 (0: none yet), sample, element, value]. */
export const nonFiniteAt = metricsAccumulatorSize - 5;

/**
 * Records the first non-finite element of `x` unless an earlier run recorded one: acc[3] = which,
 * acc[4] = step + 1 (the step counter from the step state), acc[5] = its sample, acc[6] = its
 * element within the sample, acc[7] = its value. Non-finite means all exponent bits set, tested
 * on the bits, so no compiler's fast math can fold the test away. One workgroup strides over x:
 * each lane stops at its first find and the lanes keep the smallest index.
 * Bindings: x [size] (read as bits), step state u32 [4], acc f32 [8] (updated in place).
 */
export function findNonFinite({ size, rowSize, which, limits = defaultLimits }: FindNonFiniteParams): Kernel {
  checkCount('findNonFinite', 'size', size);
  checkCount('findNonFinite', 'rowSize', rowSize);
  if (size % rowSize !== 0) throw new Error(`findNonFinite: size ${size} is not a whole number of rows of ${rowSize}`);
  checkCount('findNonFinite', 'which', which, 0);
  const lanes = Math.min(2 ** Math.floor(Math.log2(linearWorkgroupSize(limits))), 2 ** Math.ceil(Math.log2(size)));
  const at = nonFiniteAt;
  const code = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read> state: array<u32>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;
var<workgroup> first: array<u32, ${lanes}>;

@compute @workgroup_size(${lanes})
fn main(@builtin(local_invocation_index) lane: u32) {
  var found = 0xffffffffu;
  for (var i = lane; i < ${size}u; i += ${lanes}u) {
    if ((x[i] & 0x7f800000u) == 0x7f800000u) {
      found = i;
      break;
    }
  }
  first[lane] = found;
  workgroupBarrier();
  for (var s = ${lanes >> 1}u; s > 0u; s >>= 1u) {
    if (lane < s) { first[lane] = min(first[lane], first[lane + s]); }
    workgroupBarrier();
  }
  let i = first[0];
  if (lane == 0u && i != 0xffffffffu && acc[${at + 1}] == 0.0) {
    acc[${at}] = f32(${which}u);
    acc[${at + 1}] = f32(state[0] + 1u);
    acc[${at + 2}] = f32(i / ${rowSize}u);
    acc[${at + 3}] = f32(i % ${rowSize}u);
    acc[${at + 4}] = bitcast<f32>(x[i]);
  }
}
`;
  return { name: 'find_non_finite', code, bindings: ['read', 'read', 'write'], workgroupSize: [lanes, 1, 1], dispatch: [1, 1, 1] };
}
