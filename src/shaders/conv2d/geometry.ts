// The shapes of a 2-D convolution (NHWC input, HWIO filter): the parameters every conv2d
// builder takes, the geometry derived from them, and its WGSL constants.

import type { KernelLimits } from '../kernel.js';
import { type Padding, windowAxis } from '../window.js';

export interface Conv2dShape {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  filterHeight: number;
  filterWidth: number;
  outChannels: number;
  strides?: [number, number];
  padding?: Padding;
  /**
   * Register-tile height: rows of the implicit GEMM per workgroup (default 8, 16 on a
   * subgroup). For the small-filter kernels, the pixels of a forward run along a row and the
   * input rows of a backward-input band; their backward-filter ignores it.
   */
  tileRows?: number;
  limits?: KernelLimits;
}

export interface Conv2dGeometry {
  B: number; H: number; W: number; CI: number; KH: number; KW: number; CO: number;
  OH: number; OW: number; SH: number; SW: number; PT: number; PL: number;
}

/** Output shape [batch, outHeight, outWidth, outChannels] and padding, by TF.js's rules. */
export function conv2dGeometry(s: Conv2dShape): Conv2dGeometry {
  for (const [name, v] of Object.entries({
    batch: s.batch, inHeight: s.inHeight, inWidth: s.inWidth, inChannels: s.inChannels,
    filterHeight: s.filterHeight, filterWidth: s.filterWidth, outChannels: s.outChannels,
  })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`conv2d: ${name} must be a positive integer, got ${v}`);
  }
  const [SH, SW] = s.strides ?? [1, 1];
  const padding = s.padding ?? 'valid';
  const h = windowAxis(s.inHeight, s.filterHeight, SH, padding);
  const w = windowAxis(s.inWidth, s.filterWidth, SW, padding);
  return {
    B: s.batch, H: s.inHeight, W: s.inWidth, CI: s.inChannels, KH: s.filterHeight, KW: s.filterWidth,
    CO: s.outChannels, OH: h.out, OW: w.out, SH, SW, PT: h.padBefore, PL: w.padBefore,
  };
}

export function conv2dOutputShape(s: Conv2dShape): [number, number, number, number] {
  const g = conv2dGeometry(s);
  return [g.B, g.OH, g.OW, g.CO];
}

/** The geometry as WGSL constants (B, H, W, CI, ... PL), which every conv2d kernel declares. */
export function constants(g: Conv2dGeometry): string {
  return Object.entries(g).map(([k, v]) => `const ${k} = ${v}u;`).join('\n');
}

/** 0, 1, ..., n − 1: the indices a generator unrolls a WGSL loop over. */
export const list = (n: number) => Array.from({ length: n }, (_, i) => i);
