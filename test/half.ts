// Host-side half precision for kernel tests: float32 values rounded to binary16 (to nearest,
// ties to even) and packed two to a word as array<f16> lays them out, and their exact values.

import { halfToFloat } from '../src/nn/tensor.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits nearest a float32 value (finite inputs within the half range). */
export function halfBits(value: number): number {
  f32[0] = value;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  let mantissa = bits & 0x7fffff;
  if (exponent >= 31) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000; // the implicit bit, shifted into a subnormal
    const shift = 14 - exponent;
    const kept = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const middle = 1 << (shift - 1);
    return sign | (kept + (rest > middle || (rest === middle && kept & 1) ? 1 : 0));
  }
  const kept = (exponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  return sign | (kept + (rest > 0x1000 || (rest === 0x1000 && kept & 1) ? 1 : 0)); // a carry moves into the exponent, as it should
}

/** `values` rounded to halves, packed two to a 32-bit word, and the halves' exact values. */
export function halves(values: ArrayLike<number>): { packed: Uint32Array; values: Float64Array } {
  const packed = new Uint32Array(Math.ceil(values.length / 2));
  const exact = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const bits = halfBits(values[i]);
    packed[i >> 1] |= bits << (16 * (i & 1));
    exact[i] = halfToFloat(bits);
  }
  return { packed, values: exact };
}
