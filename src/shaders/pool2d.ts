// 2-D max and average pooling over NHWC tensors, forward and backward, with TF.js / Keras
// 'same' and 'valid' padding. Backward passes gather (one invocation per dx element), so they
// need no float atomics and their sums are deterministic.

import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { linearKernel, type StorageBuffer } from './preamble.js';
import { type Padding, windowAxis } from './window.js';

export interface Pool2dShape {
  batch: number;
  inHeight: number;
  inWidth: number;
  channels: number;
  poolSize: readonly [number, number];
  /** Default: poolSize, as in Keras. */
  strides?: readonly [number, number];
  /** Default: 'valid', as in Keras. */
  padding?: Padding;
  limits?: KernelLimits;
}

/** Static sizes of one pooling problem: input B×H×W×C, window PH×PW moved by SH×SW, output OH×OW. */
interface Pool2dGeometry {
  B: number; H: number; W: number; C: number; PH: number; PW: number;
  SH: number; SW: number; PT: number; PL: number; OH: number; OW: number;
}

function positiveInteger(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1;
}

function pair(op: string, name: string, v: unknown): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every(positiveInteger)) {
    throw new Error(`${op}: ${name} must be two positive integers [height, width], got ${JSON.stringify(v)}`);
  }
  return [v[0], v[1]];
}

function pool2dGeometry(op: string, s: Pool2dShape): Pool2dGeometry {
  for (const [name, v] of Object.entries({ batch: s.batch, inHeight: s.inHeight, inWidth: s.inWidth, channels: s.channels })) {
    if (!positiveInteger(v)) throw new Error(`${op}: ${name} must be a positive integer, got ${v}`);
  }
  const [PH, PW] = pair(op, 'poolSize', s.poolSize);
  const [SH, SW] = pair(op, 'strides', s.strides ?? s.poolSize);
  const padding = s.padding ?? 'valid';
  if (padding !== 'same' && padding !== 'valid') throw new Error(`${op}: padding must be 'same' or 'valid', got '${padding}'`);
  const axis = (name: string, input: number, size: number, stride: number) => {
    try {
      return windowAxis(input, size, stride, padding);
    } catch (e) {
      throw new Error(`${op}: along the ${name}, ${(e as Error).message}`);
    }
  };
  const h = axis('height', s.inHeight, PH, SH);
  const w = axis('width', s.inWidth, PW, SW);
  return {
    B: s.batch, H: s.inHeight, W: s.inWidth, C: s.channels, PH, PW, SH, SW,
    PT: h.padBefore, PL: w.padBefore, OH: h.out, OW: w.out,
  };
}

/** Output shape [batch, outHeight, outWidth, channels] by TF.js's rules. */
export function pool2dOutputShape(s: Pool2dShape): [number, number, number, number] {
  const g = pool2dGeometry('pool2dOutputShape', s);
  return [g.B, g.OH, g.OW, g.C];
}

// Spatial coordinates are signed, since windows start before the image under 'same' padding.
function constants(g: Pool2dGeometry): string {
  return Object.entries(g).map(([k, v]) => `const ${k} = ${v}i;`).join('\n');
}

/**
 * Decodes the flat index `e` of an output element (b, oy, ox, c) and declares the window it
 * covers, clipped to the image: rows y0..y1-1, columns x0..x1-1, and `base`, the flat index of
 * x[b, 0, 0, c].
 */
const outputWindow = /* wgsl */ `
  let c = e % C;
  let ox = (e / C) % OW;
  let oy = (e / (C * OW)) % OH;
  let b = e / (C * OW * OH);
  let y0 = max(oy * SH - PT, 0);
  let y1 = min(oy * SH - PT + PH, H);
  let x0 = max(ox * SW - PL, 0);
  let x1 = min(ox * SW - PL + PW, W);
  let base = b * H * W * C + c;`;

/**
 * Decodes the flat index `e` of an input element (b, iy, ix, c) and declares the range of
 * output windows that cover it: oy in oy0..oy1, ox in ox0..ox1 (inclusive; empty when a stride
 * larger than the window skips this element), and `out_base`, the flat index of y[b, 0, 0, c].
 * Window oy covers rows oy·SH − PT .. oy·SH − PT + PH − 1.
 */
const coveringWindows = /* wgsl */ `
  let c = e % C;
  let ix = (e / C) % W;
  let iy = (e / (C * W)) % H;
  let b = e / (C * W * H);
  let ny = iy + PT - PH + 1;
  let nx = ix + PL - PW + 1;
  let oy0 = select(0, (ny + SH - 1) / SH, ny > 0);
  let ox0 = select(0, (nx + SW - 1) / SW, nx > 0);
  let oy1 = min((iy + PT) / SH, OH - 1);
  let ox1 = min((ix + PL) / SW, OW - 1);
  let out_base = b * OH * OW * C + c;`;

/**
 * One invocation per output element (`over` 'output': the forward passes, with `outputWindow`
 * decoded) or per input element ('input': the backward passes, with `coveringWindows`), or per
 * `vec` of them along the channels, `e` being the first; the geometry as WGSL constants.
 */
function poolKernel(
  g: Pool2dGeometry, name: string, limits: KernelLimits | undefined, over: 'output' | 'input', buffers: readonly StorageBuffer[], body: string, vec = 1,
): Kernel {
  return linearKernel({
    name, limits: limits ?? defaultLimits, buffers, functions: constants(g),
    count: (over === 'output' ? g.B * g.OH * g.OW * g.C : g.B * g.H * g.W * g.C) / vec,
    body: `
  let e = i32(i) * ${vec};${over === 'output' ? outputWindow : coveringWindows}${body}`,
  });
}

/** 4 when the channels come in whole vec4s, so an invocation can take 4 channels of one pixel. */
function channelVec(g: Pool2dGeometry): 1 | 4 {
  return g.C % 4 === 0 ? 4 : 1;
}

/**
 * y = the maximum of each window, argmax = the flat index into x of the element chosen.
 * Padded positions are skipped, so they never win (TF pads with −∞). Ties go to the first
 * element in row-major window order (the strict `>` below keeps the earlier one).
 * Bindings: x, y, argmax (int32).
 */
export function maxPool2dForward(s: Pool2dShape): Kernel {
  const g = pool2dGeometry('maxPool2dForward', s);
  // With channels in whole vec4s, an invocation takes 4 channels of one output pixel, making the
  // same comparisons per component.
  const vec = channelVec(g);
  const [f, i] = vec === 4 ? ['vec4<f32>', 'vec4<i32>'] as const : ['f32', 'i32'] as const;
  const buffers: StorageBuffer[] = [['x', 'read', f], ['y', 'write', f], ['argmax', 'write', i]];
  // Every 'same' or 'valid' window holds at least one image element (padding is at most
  // window − 1 in total), so `best_index` is always set; starting from the first element
  // rather than a −∞ constant also makes an all −∞ window pick its first element.
  const body = /* wgsl */ `
  var best = ${f}(0.0);
  var best_index = ${i}(-1);
  for (var iy = y0; iy < y1; iy++) {
    for (var ix = x0; ix < x1; ix++) {
      let k = base + (iy * W + ix) * C;
      let v = x[k / ${vec}];
      let better = ${vec === 4 ? '(best_index < vec4<i32>(0)) | (v > best)' : 'best_index < 0 || v > best'};
      best = select(best, v, better);
      best_index = select(best_index, ${vec === 4 ? 'vec4<i32>(k, k + 1, k + 2, k + 3)' : 'k'}, better);
    }
  }
  y[i] = best;
  argmax[i] = best_index;`;
  return poolKernel(g, 'max_pool2d', s.limits, 'output', buffers, body, vec);
}

/**
 * dx = the gradient of Σ dy·maxPool2d(x): each x element sums dy over the windows whose argmax
 * is that element (several when windows overlap), visited in a fixed order.
 * Bindings: dy, argmax (int32, from maxPool2dForward), dx.
 */
export function maxPool2dBackward(s: Pool2dShape): Kernel {
  const g = pool2dGeometry('maxPool2dBackward', s);
  if (g.SH === g.PH && g.SW === g.PW) {
    // Windows that tile the input (stride = window, Keras's default): an element lies in at most
    // one window, found by division, so there is no loop; with channels in whole vec4s, each
    // invocation takes 4 channels of one pixel.
    const vec = channelVec(g);
    const [f, i] = vec === 4 ? ['vec4<f32>', 'vec4<i32>'] as const : ['f32', 'i32'] as const;
    return poolKernel(g, 'max_pool2d_backward', s.limits, 'input', [['dy', 'read', f], ['argmax', 'read', i], ['dx', 'write', f]], /* wgsl */ `
  let oy = (iy + PT) / SH;
  let ox = (ix + PL) / SW;
  let inside = oy < OH && ox < OW; // 'valid' pooling leaves the last rows and columns out
  let o = out_base + (min(oy, OH - 1) * OW + min(ox, OW - 1)) * C;
  let chosen = argmax[o / ${vec}] == ${vec === 4 ? 'vec4<i32>(e, e + 1, e + 2, e + 3)' : 'e'};
  dx[i] = select(${f}(0.0), dy[o / ${vec}], ${vec === 4 ? 'vec4<bool>(inside) & chosen' : 'inside && chosen'});`, vec);
  }
  const body = /* wgsl */ `
  var sum = 0.0;
  for (var oy = oy0; oy <= oy1; oy++) {
    for (var ox = ox0; ox <= ox1; ox++) {
      let o = out_base + (oy * OW + ox) * C;
      if (argmax[o] == e) { sum += dy[o]; }
    }
  }
  dx[i] = sum;`;
  return poolKernel(g, 'max_pool2d_backward', s.limits, 'input', [['dy', 'read', 'f32'], ['argmax', 'read', 'i32'], ['dx', 'write', 'f32']], body);
}

/**
 * y = the mean of each window over its image elements only: under 'same' padding an edge
 * window divides by the elements it actually covers, as TF.js and Keras do.
 * Bindings: x, y.
 */
export function avgPool2dForward(s: Pool2dShape): Kernel {
  const buffers: StorageBuffer[] = [['x', 'read', 'f32'], ['y', 'write', 'f32']];
  const body = /* wgsl */ `
  var sum = 0.0;
  for (var iy = y0; iy < y1; iy++) {
    for (var ix = x0; ix < x1; ix++) {
      sum += x[base + (iy * W + ix) * C];
    }
  }
  y[i] = sum / f32((y1 - y0) * (x1 - x0));`;
  return poolKernel(pool2dGeometry('avgPool2dForward', s), 'avg_pool2d', s.limits, 'output', buffers, body);
}

/**
 * dx = the gradient of Σ dy·avgPool2d(x): each x element gathers dy / n over the windows that
 * cover it, n being the number of image elements in that window (the divisor of the forward).
 * Bindings: dy, dx.
 */
export function avgPool2dBackward(s: Pool2dShape): Kernel {
  const buffers: StorageBuffer[] = [['dy', 'read', 'f32'], ['dx', 'write', 'f32']];
  const body = /* wgsl */ `
  var sum = 0.0;
  for (var oy = oy0; oy <= oy1; oy++) {
    let rows = min(oy * SH - PT + PH, H) - max(oy * SH - PT, 0);
    for (var ox = ox0; ox <= ox1; ox++) {
      let cols = min(ox * SW - PL + PW, W) - max(ox * SW - PL, 0);
      sum += dy[out_base + (oy * OW + ox) * C] / f32(rows * cols);
    }
  }
  dx[i] = sum;`;
  return poolKernel(pool2dGeometry('avgPool2dBackward', s), 'avg_pool2d_backward', s.limits, 'input', buffers, body);
}
