// Max and average pooling against float64 references, and their backward passes against finite
// differences of those references, on odd image sizes, both paddings and overlapping windows.

import { describe, expect, it } from 'vitest';
import { expectAllClose, freshSeed, randomUniform } from '../../test/expect-all-close.js';
import { dot, numericGradient } from '../../test/gradcheck.js';
import { runKernel } from '../../test/kernel-harness.js';
import { defaultLimits, type KernelLimits } from './kernel.js';
import { avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward, pool2dOutputShape, type Pool2dShape } from './pool2d.js';

interface Case {
  batch: number;
  inHeight: number;
  inWidth: number;
  channels: number;
  poolSize: [number, number];
  strides: [number, number];
  padding: 'same' | 'valid';
}

const label = (s: Case) =>
  `B${s.batch} ${s.inHeight}x${s.inWidth} C${s.channels} pool ${s.poolSize.join('x')} stride ${s.strides.join('x')} '${s.padding}'`;

/** Output length and padding before, written out from TF's rules independently of window.ts. */
function axis(input: number, size: number, stride: number, padding: 'same' | 'valid'): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.ceil((input - size + 1) / stride), before: 0 };
  const out = Math.ceil(input / stride);
  return { out, before: Math.floor(Math.max((out - 1) * stride + size - input, 0) / 2) };
}

/**
 * Calls `visit(o, k)` for every output element o and every image element k of its window, in
 * row-major window order; `n` is how many image elements the window holds.
 */
function forEachWindow(s: Case, visit: (o: number, k: number, n: number) => void): number {
  const h = axis(s.inHeight, s.poolSize[0], s.strides[0], s.padding);
  const w = axis(s.inWidth, s.poolSize[1], s.strides[1], s.padding);
  const C = s.channels;
  let o = 0;
  for (let b = 0; b < s.batch; b++) {
    for (let oy = 0; oy < h.out; oy++) {
      for (let ox = 0; ox < w.out; ox++) {
        for (let c = 0; c < C; c++, o++) {
          const members: number[] = [];
          for (let ky = 0; ky < s.poolSize[0]; ky++) {
            for (let kx = 0; kx < s.poolSize[1]; kx++) {
              const iy = oy * s.strides[0] - h.before + ky;
              const ix = ox * s.strides[1] - w.before + kx;
              if (iy < 0 || iy >= s.inHeight || ix < 0 || ix >= s.inWidth) continue;
              members.push(((b * s.inHeight + iy) * s.inWidth + ix) * C + c);
            }
          }
          for (const k of members) visit(o, k, members.length);
        }
      }
    }
  }
  return o;
}

const outputSize = (s: Case) => pool2dOutputShape(s).reduce((a, d) => a * d, 1);
const inputSize = (s: Case) => s.batch * s.inHeight * s.inWidth * s.channels;

/** Max over the image elements of each window; ties keep the first in row-major window order. */
function maxPoolReference(s: Case, x: ArrayLike<number>): { y: Float64Array; argmax: Int32Array } {
  const y = new Float64Array(outputSize(s)).fill(-Infinity);
  const argmax = new Int32Array(y.length).fill(-1);
  forEachWindow(s, (o, k) => {
    if (argmax[o] < 0 || x[k] > y[o]) {
      y[o] = x[k];
      argmax[o] = k;
    }
  });
  return { y, argmax };
}

function maxPoolBackwardReference(s: Case, dy: ArrayLike<number>, argmax: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(inputSize(s));
  for (let o = 0; o < dy.length; o++) dx[argmax[o]] += dy[o];
  return dx;
}

/** Mean over the image elements of each window (padding is not counted). */
function avgPoolReference(s: Case, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(outputSize(s));
  forEachWindow(s, (o, k, n) => { y[o] += x[k] / n; });
  return y;
}

function avgPoolBackwardReference(s: Case, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(inputSize(s));
  forEachWindow(s, (o, k, n) => { dx[k] += dy[o] / n; });
  return dx;
}

const seed = freshSeed();

/** Distinct values at least 0.03 apart in a seeded random order, so each window's max is unique and stays so under ±1e-3. */
function separated(n: number, s: number): Float32Array {
  const keys = randomUniform(n, seed + s);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a] - keys[b]);
  const out = new Float32Array(n);
  order.forEach((i, rank) => { out[i] = (rank - n / 2) * 0.03; });
  return out;
}

const cases: Case[] = [
  // The seed CNN's pooling on an odd image: 'same' pads the last row and column.
  { batch: 1, inHeight: 7, inWidth: 5, channels: 1, poolSize: [2, 2], strides: [2, 2], padding: 'same' },
  // Overlapping windows (stride < pool) on both paddings, prime channels.
  { batch: 3, inHeight: 7, inWidth: 5, channels: 7, poolSize: [3, 3], strides: [2, 2], padding: 'same' },
  { batch: 3, inHeight: 7, inWidth: 5, channels: 7, poolSize: [3, 3], strides: [2, 2], padding: 'valid' },
  { batch: 1, inHeight: 6, inWidth: 9, channels: 7, poolSize: [2, 3], strides: [1, 1], padding: 'valid' },
  { batch: 3, inHeight: 5, inWidth: 6, channels: 1, poolSize: [3, 2], strides: [1, 2], padding: 'same' },
  // Stride > pool: some elements belong to no window and must get a zero gradient.
  { batch: 1, inHeight: 8, inWidth: 7, channels: 3, poolSize: [2, 2], strides: [3, 3], padding: 'valid' },
  // Windows that tile the input: 'valid' leaves the last row out, 'same' pads unevenly.
  { batch: 2, inHeight: 7, inWidth: 8, channels: 3, poolSize: [3, 2], strides: [3, 2], padding: 'valid' },
  { batch: 2, inHeight: 5, inWidth: 7, channels: 4, poolSize: [2, 3], strides: [2, 3], padding: 'same' },
  // Channels in whole vec4s with overlapping windows (the forward takes 4 channels at a time).
  { batch: 2, inHeight: 6, inWidth: 5, channels: 8, poolSize: [3, 3], strides: [2, 1], padding: 'same' },
  // A window larger than the image in both directions.
  { batch: 1, inHeight: 3, inWidth: 2, channels: 5, poolSize: [4, 3], strides: [1, 1], padding: 'same' },
];

async function checkMaxPool(s: Case, limits?: KernelLimits): Promise<void> {
  const n = inputSize(s);
  const m = outputSize(s);
  const x = separated(n, 1);
  const dy = randomUniform(m, seed + 2, -1, 1);
  const shape: Pool2dShape = { ...s, limits };
  const [y, argmax] = await runKernel(maxPool2dForward(shape), [x], [{ size: m }, { size: m, dtype: 'int32' }]);
  const ref = maxPoolReference(s, x);
  expectAllClose(y, ref.y, { rtol: 0, atol: 0 });
  expect(Array.from(argmax)).toEqual(Array.from(ref.argmax));

  const [dx] = await runKernel(maxPool2dBackward(shape), [dy, argmax], [{ size: n }]);
  expectAllClose(dx, maxPoolBackwardReference(s, dy, ref.argmax), { rtol: 1e-6, atol: 1e-7 });
  const numeric = numericGradient((xs) => dot(dy, maxPoolReference(s, xs).y), x);
  expectAllClose(dx, numeric, { rtol: 1e-5, atol: 1e-6 });
}

async function checkAvgPool(s: Case, limits?: KernelLimits): Promise<void> {
  const n = inputSize(s);
  const m = outputSize(s);
  const x = randomUniform(n, seed + 3, -4, 4);
  const dy = randomUniform(m, seed + 4, -1, 1);
  const shape: Pool2dShape = { ...s, limits };
  const [y] = await runKernel(avgPool2dForward(shape), [x], [{ size: m }]);
  expectAllClose(y, avgPoolReference(s, x), { rtol: 1e-5, atol: 1e-6 });

  const [dx] = await runKernel(avgPool2dBackward(shape), [dy], [{ size: n }]);
  expectAllClose(dx, avgPoolBackwardReference(s, dy), { rtol: 1e-5, atol: 1e-7 });
  const numeric = numericGradient((xs) => dot(dy, avgPoolReference(s, xs)), x);
  expectAllClose(dx, numeric, { rtol: 1e-5, atol: 1e-6 });
}

describe(`max pooling (seed ${seed})`, () => {
  for (const s of cases) it(`forward, argmax and backward: ${label(s)}`, () => checkMaxPool(s));

  it('breaks ties by the first element in row-major window order, and padding never wins', async () => {
    // A 4x4 image of ones with 5s at (0,1) and (1,0): window (0,0) ties between flat indices 1
    // and 4 and must pick 1; the other windows are all ones and pick their top-left element.
    const s: Case = { batch: 1, inHeight: 4, inWidth: 4, channels: 1, poolSize: [2, 2], strides: [2, 2], padding: 'valid' };
    const x = new Float32Array(16).fill(1);
    x[1] = 5;
    x[4] = 5;
    const [y, argmax] = await runKernel(maxPool2dForward(s), [x], [{ size: 4 }, { size: 4, dtype: 'int32' }]);
    expectAllClose(y, [5, 1, 1, 1], { rtol: 0, atol: 0 });
    expect(Array.from(argmax)).toEqual([1, 2, 8, 10]);
    const [dx] = await runKernel(maxPool2dBackward(s), [new Float32Array([1, 2, 3, 4]), argmax], [{ size: 16 }]);
    expectAllClose(dx, [0, 1, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0], { rtol: 0, atol: 0 });

    // All -1 under 'same' 3x3 stride 1: were padding a 0 it would win; each window instead picks
    // its first image element, (max(oy-1, 0), max(ox-1, 0)), and overlapping windows that chose
    // the same element add their gradients there.
    const t: Case = { batch: 1, inHeight: 3, inWidth: 3, channels: 1, poolSize: [3, 3], strides: [1, 1], padding: 'same' };
    const [ty, targ] = await runKernel(maxPool2dForward(t), [new Float32Array(9).fill(-1)], [{ size: 9 }, { size: 9, dtype: 'int32' }]);
    expectAllClose(ty, new Array(9).fill(-1), { rtol: 0, atol: 0 });
    expect(Array.from(targ)).toEqual([0, 0, 1, 0, 0, 1, 3, 3, 4]);
    const [tdx] = await runKernel(maxPool2dBackward(t), [new Float32Array(9).fill(1), targ], [{ size: 9 }]);
    expectAllClose(tdx, [4, 2, 0, 2, 1, 0, 0, 0, 0], { rtol: 0, atol: 0 });
  });
});

describe(`average pooling (seed ${seed})`, () => {
  for (const s of cases) it(`forward and backward: ${label(s)}`, () => checkAvgPool(s));

  it("averages over image elements only under 'same' padding", async () => {
    // 3x3 image 1..9, pool 2x2 stride 2 'same': windows of 4, 2, 2 and 1 elements.
    const s: Case = { batch: 1, inHeight: 3, inWidth: 3, channels: 1, poolSize: [2, 2], strides: [2, 2], padding: 'same' };
    const [y] = await runKernel(avgPool2dForward(s), [Float32Array.from({ length: 9 }, (_, i) => i + 1)], [{ size: 4 }]);
    expectAllClose(y, [(1 + 2 + 4 + 5) / 4, (3 + 6) / 2, (7 + 8) / 2, 9], { rtol: 1e-6, atol: 0 });
  });
});

describe('pooling geometry and grids', () => {
  it("follows TF's output sizes: the seed CNN's 28 → 14 → 7 → 4 → 2, and 'valid'", () => {
    const sizes = [28];
    while (sizes.length < 5) {
      const h = sizes[sizes.length - 1];
      sizes.push(pool2dOutputShape({ batch: 2, inHeight: h, inWidth: h, channels: 3, poolSize: [2, 2], strides: [2, 2], padding: 'same' })[1]);
    }
    expect(sizes).toEqual([28, 14, 7, 4, 2]);
    expect(pool2dOutputShape({ batch: 3, inHeight: 7, inWidth: 5, channels: 7, poolSize: [3, 3], strides: [2, 2], padding: 'valid' })).toEqual([3, 3, 2, 7]);
    // Keras defaults: strides = poolSize, padding 'valid'.
    expect(pool2dOutputShape({ batch: 1, inHeight: 7, inWidth: 5, channels: 1, poolSize: [2, 2] })).toEqual([1, 3, 2, 1]);
  });

  it('runs all four kernels on grids folded into y and z', async () => {
    const limits: KernelLimits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 5, maxComputeInvocationsPerWorkgroup: 8 };
    const s = cases[1];
    for (const kernel of [maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward]) {
      const { dispatch } = kernel({ ...s, limits });
      expect(dispatch[0]).toBeLessThanOrEqual(5);
      expect(dispatch[1]).toBeGreaterThan(1);
    }
    expect(maxPool2dBackward({ ...s, limits }).dispatch[2]).toBeGreaterThan(1);
    await checkMaxPool(s, limits);
    await checkAvgPool(s, limits);
  });

  it('rejects bad static parameters, naming what was expected and what was given', () => {
    const s: Case = { batch: 1, inHeight: 7, inWidth: 5, channels: 3, poolSize: [2, 2], strides: [2, 2], padding: 'same' };
    expect(() => maxPool2dForward({ ...s, poolSize: [0, 2] })).toThrow(/maxPool2dForward: poolSize must be two positive integers \[height, width\], got \[0,2\]/);
    expect(() => avgPool2dForward({ ...s, strides: [2] as unknown as [number, number] })).toThrow(/avgPool2dForward: strides must be two positive integers .*got \[2\]/);
    expect(() => maxPool2dBackward({ ...s, channels: 2.5 })).toThrow(/maxPool2dBackward: channels must be a positive integer, got 2.5/);
    expect(() => avgPool2dBackward({ ...s, padding: 'full' as 'same' })).toThrow(/avgPool2dBackward: padding must be 'same' or 'valid', got 'full'/);
    expect(() => pool2dOutputShape({ ...s, inHeight: 2, poolSize: [3, 3], padding: 'valid' })).toThrow(/along the height, a window of 3 does not fit in an input of 2 with 'valid' padding/);
  });
});
