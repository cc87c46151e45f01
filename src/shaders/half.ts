// Half-precision copies: float32 values rounded to IEEE binary16 and packed two to a 32-bit word
// (pack2x16float, core WGSL), for kernels that read them as array<f16> on devices with
// 'shader-f16'. Element 2w is word w's low half, 2w + 1 its high half, as array<f16> lays them out.

import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { linearKernel } from './preamble.js';
import { checkCount } from './reduce.js';

export interface ToHalfParams {
  /** Elements to convert (≥ 1). */
  size: number;
  limits?: KernelLimits;
}

/**
 * y = x rounded to half precision, ⌈size / 2⌉ words; an odd size's last word has a zero high
 * half. One invocation per word. The size is a uniform, so every weight shares one pipeline.
 * Bindings: x [size] f32, y [⌈size / 2⌉] u32, params.
 */
export function toHalf({ size, limits = defaultLimits }: ToHalfParams): Kernel {
  checkCount('toHalf', 'size', size);
  return linearKernel({
    name: 'to_half',
    count: Math.ceil(size / 2),
    countUniform: true,
    fields: [['size', 'u32', size]],
    limits,
    buffers: [['x', 'read', 'f32'], ['y', 'write', 'u32']],
    body: /* wgsl */ `  let j = 2u * i;
  let high = select(0.0, x[min(j + 1u, p.size - 1u)], j + 1u < p.size);
  y[i] = pack2x16float(vec2<f32>(x[j], high));`,
  });
}
