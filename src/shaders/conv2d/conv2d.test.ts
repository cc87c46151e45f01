// conv2d forward, backward-input and backward-filter against float64 references and finite
// differences, across paddings, strides, odd sizes and channel counts that are not multiples of 4.

import { describe, expect, it } from 'vitest';
import { expectAllClose, freshSeed, randomUniform } from '../../../test/expect-all-close.js';
import { dot, numericGradient } from '../../../test/gradcheck.js';
import { halves } from '../../../test/half.js';
import { runKernel } from '../../../test/kernel-harness.js';
import { activationReference, type Activation } from '../activation.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dGeometry, conv2dOutputShape, conv2dScratchSize, type Conv2dShape } from './index.js';
import { ready, runtime } from '../../gpu/device.js';
import { defaultLimits } from '../kernel.js';

/** float64 conv2d: y[b, oh, ow, co] = Σ x[b, oh·SH − PT + kh, ow·SW − PL + kw, ci] · f[kh, kw, ci, co]. */
function reference(x: ArrayLike<number>, f: ArrayLike<number>, s: Conv2dShape, bias?: ArrayLike<number>, activation: Activation = 'linear'): Float64Array {
  const g = conv2dGeometry(s);
  const y = new Float64Array(g.B * g.OH * g.OW * g.CO);
  for (let b = 0; b < g.B; b++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++)
        for (let co = 0; co < g.CO; co++) {
          let sum = bias ? bias[co] : 0;
          for (let kh = 0; kh < g.KH; kh++)
            for (let kw = 0; kw < g.KW; kw++) {
              const ih = oh * g.SH - g.PT + kh;
              const iw = ow * g.SW - g.PL + kw;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              for (let ci = 0; ci < g.CI; ci++) sum += x[((b * g.H + ih) * g.W + iw) * g.CI + ci] * f[((kh * g.KW + kw) * g.CI + ci) * g.CO + co];
            }
          y[((b * g.OH + oh) * g.OW + ow) * g.CO + co] = activationReference[activation].forward(sum);
        }
  return y;
}

const seed = freshSeed();
const sizes = (s: Conv2dShape) => {
  const g = conv2dGeometry(s);
  return { x: g.B * g.H * g.W * g.CI, f: g.KH * g.KW * g.CI * g.CO, y: g.B * g.OH * g.OW * g.CO };
};

const shapes: Conv2dShape[] = [
  { batch: 2, inHeight: 7, inWidth: 5, inChannels: 3, filterHeight: 3, filterWidth: 2, outChannels: 5, padding: 'same' },
  { batch: 1, inHeight: 7, inWidth: 5, inChannels: 3, filterHeight: 3, filterWidth: 2, outChannels: 5, padding: 'valid', strides: [2, 1] },
  { batch: 3, inHeight: 6, inWidth: 6, inChannels: 4, filterHeight: 5, filterWidth: 5, outChannels: 8, padding: 'same' },
  { batch: 2, inHeight: 9, inWidth: 8, inChannels: 8, filterHeight: 3, filterWidth: 3, outChannels: 12, padding: 'same', strides: [2, 3] },
  { batch: 2, inHeight: 4, inWidth: 4, inChannels: 1, filterHeight: 5, filterWidth: 5, outChannels: 16, padding: 'same' },
  // 16 channels: backward-filter blocks 16 channels of one tap per tile; windows overhang both sides.
  { batch: 2, inHeight: 3, inWidth: 5, inChannels: 16, filterHeight: 5, filterWidth: 4, outChannels: 6, padding: 'same', strides: [1, 2] },
  { batch: 1, inHeight: 1, inWidth: 1, inChannels: 1, filterHeight: 1, filterWidth: 1, outChannels: 1, padding: 'valid' },
  // A batch of at least 8 with whole vec4s of channels: forward and backward-input tile 8 images
  // at one pixel and skip the padding taps by loop bounds; 9 leaves a part-filled tile.
  { batch: 9, inHeight: 2, inWidth: 3, inChannels: 8, filterHeight: 3, filterWidth: 3, outChannels: 8, padding: 'same' },
  { batch: 8, inHeight: 5, inWidth: 3, inChannels: 8, filterHeight: 3, filterWidth: 2, outChannels: 8, padding: 'valid', strides: [2, 1] },
  { batch: 8, inHeight: 4, inWidth: 5, inChannels: 8, filterHeight: 3, filterWidth: 3, outChannels: 12, padding: 'same', strides: [2, 3] },
  // One input channel (sliding windows): tileRows 4 makes forward runs of 4 along rows of 11 (the
  // last of 3) and backward-input bands of 4 rows over 5 (the last of 1).
  { batch: 2, inHeight: 5, inWidth: 11, inChannels: 1, filterHeight: 3, filterWidth: 4, outChannels: 8, padding: 'same', tileRows: 4 },
  { batch: 3, inHeight: 6, inWidth: 10, inChannels: 1, filterHeight: 2, filterWidth: 3, outChannels: 4, padding: 'valid' },
  { batch: 1, inHeight: 1, inWidth: 6, inChannels: 1, filterHeight: 1, filterWidth: 3, outChannels: 4, padding: 'valid' },
  // A small filter at stride 2: the forward's sliding window keeps 3 of its 5 columns a step.
  { batch: 2, inHeight: 6, inWidth: 9, inChannels: 1, filterHeight: 5, filterWidth: 5, outChannels: 6, padding: 'same', strides: [2, 2] },
];
const label = (s: Conv2dShape) => `${s.batch}x${s.inHeight}x${s.inWidth}x${s.inChannels} * ${s.filterHeight}x${s.filterWidth}→${s.outChannels} ${s.padding} ${s.strides ?? [1, 1]}`;

describe(`conv2d forward (seed ${seed})`, () => {
  it(`matches float64 at ${shapes.map(label).join('; ')}`, async () => {
    for (const [i, s] of shapes.entries()) {
      const n = sizes(s);
      const x = randomUniform(n.x, seed + i);
      const f = randomUniform(n.f, seed + i + 100);
      const [y] = await runKernel(conv2dForward(s), [x, f], [{ size: n.y }]);
      expectAllClose(y, reference(x, f, s), { rtol: 1e-4, atol: 1e-5 });
    }
  });

  it('fuses bias and activation', async () => {
    // The last case tiles images of the batch (see the shapes above).
    for (const [activation, shape] of [['relu', 2], ['tanh', 3], ['relu', 7]] as [Activation, number][]) {
      const s = shapes[shape];
      const n = sizes(s);
      const x = randomUniform(n.x, seed + 7);
      const f = randomUniform(n.f, seed + 8);
      const bias = randomUniform(s.outChannels, seed + 9);
      const [y] = await runKernel(conv2dForward({ ...s, bias: true, activation }), [x, f, bias], [{ size: n.y }]);
      expectAllClose(y, reference(x, f, s, bias, activation), { rtol: 1e-4, atol: 1e-5 });
    }
  });

  it('reads a half-precision filter on each forward path, accumulating in float32', async () => {
    // Tiles over pixels (2, 5) and over the batch (7), and sliding windows (4, 13).
    for (const i of [2, 5, 7, 4, 13]) {
      const s = shapes[i];
      const n = sizes(s);
      const x = randomUniform(n.x, seed + 40 + i);
      const f = halves(randomUniform(n.f, seed + 60 + i));
      const bias = randomUniform(s.outChannels, seed + 80 + i);
      const kernel = conv2dForward({ ...s, bias: true, activation: 'relu', halfFilter: true });
      expect(kernel.name).toBe('conv2d_hf_bias_relu');
      const [y] = await runKernel(kernel, [x, f.packed, bias], [{ size: n.y }]);
      expectAllClose(y, reference(x, f.values, s, bias, 'relu'), { rtol: 1e-4, atol: 1e-5 });
    }
  });

  it('folds its grid when the device limit forces it', async () => {
    // A small filter (the sliding window, 4 lanes a workgroup) and a larger one (register tiles).
    const limits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 9, maxComputeInvocationsPerWorkgroup: 4 };
    for (const shape of [shapes[0], shapes[5]]) {
      const s: Conv2dShape = { ...shape, tileRows: 1, limits };
      expect(conv2dForward(s).dispatch[1]).toBeGreaterThan(1);
      const n = sizes(s);
      const x = randomUniform(n.x, seed + 11);
      const f = randomUniform(n.f, seed + 12);
      const [y] = await runKernel(conv2dForward(s), [x, f], [{ size: n.y }]);
      expectAllClose(y, reference(x, f, s), { rtol: 1e-4, atol: 1e-5 });
    }
  });

  it('names bad parameters', () => {
    expect(() => conv2dForward({ ...shapes[0], inChannels: 0 })).toThrow('conv2d: inChannels must be a positive integer, got 0');
    expect(() => conv2dForward({ ...shapes[0], inHeight: 2, filterHeight: 3, padding: 'valid' })).toThrow(/window of 3 does not fit in an input of 2/);
    expect(conv2dOutputShape({ ...shapes[3] })).toEqual([2, 5, 3, 12]);
  });
});

async function backward(s: Conv2dShape, i: number) {
  const n = sizes(s);
  const x = randomUniform(n.x, seed + 20 + i);
  const f = randomUniform(n.f, seed + 40 + i);
  const dy = randomUniform(n.y, seed + 60 + i);
  const [dx] = await runKernel(conv2dBackwardInput(s), [dy, f], [{ size: n.x }]);
  const kernels = conv2dBackwardFilter(s);
  const scratch = conv2dScratchSize(s);
  const [df] = scratch
    ? await runKernel(kernels, [x, dy], [{ size: n.f }, { size: scratch }], [[0, 1, 3], [3, 2]])
    : await runKernel(kernels, [x, dy], [{ size: n.f }]);
  return { x, f, dy, dx, df };
}

/** dx and df against the exact gradients of the float64 forward: Σ dy·conv(x, f) is bilinear, so its gradient is taken one unit input at a time. */
async function checkBackward(s: Conv2dShape, i: number): Promise<void> {
  const { x, f, dy, dx, df } = await backward(s, i);
  const g = sizes(s);
  const dxRef = new Float64Array(g.x);
  const dfRef = new Float64Array(g.f);
  const unit = new Float64Array(Math.max(g.x, g.f));
  for (let k = 0; k < g.x; k++) {
    unit.fill(0);
    unit[k] = 1;
    dxRef[k] = dot(dy, reference(unit.subarray(0, g.x), f, s));
  }
  for (let k = 0; k < g.f; k++) {
    unit.fill(0);
    unit[k] = 1;
    dfRef[k] = dot(dy, reference(x, unit.subarray(0, g.f), s));
  }
  expectAllClose(dx, dxRef, { rtol: 1e-4, atol: 1e-5 });
  expectAllClose(df, dfRef, { rtol: 1e-4, atol: 1e-4 });
}

describe(`conv2d backward passes (seed ${seed})`, () => {
  it('match the exact gradients of the float64 forward', async () => {
    for (const [i, s] of shapes.entries()) await checkBackward(s, i);
  });

  it('match central finite differences on a small case', async () => {
    const s = shapes[1];
    const { x, f, dy, dx, df } = await backward(s, 9);
    expectAllClose(dx, numericGradient((v) => dot(dy, reference(v, f, s)), x), { rtol: 1e-3, atol: 1e-4 });
    expectAllClose(df, numericGradient((v) => dot(dy, reference(x, v, s)), f), { rtol: 1e-3, atol: 1e-4 });
  });

  it('split the filter reduction over the batch into parts', () => {
    const s: Conv2dShape = { batch: 128, inHeight: 14, inWidth: 14, inChannels: 16, filterHeight: 5, filterWidth: 5, outChannels: 32, padding: 'same' };
    const kernels = conv2dBackwardFilter(s);
    expect(kernels.map((k) => k.name)).toEqual(['conv2d_backward_filter_partial', 'conv2d_backward_filter_reduce']);
    expect(conv2dScratchSize(s)).toBeGreaterThan(5 * 5 * 16 * 32);
  });
});

// Where the device reports one subgroup size (lavapipe: 8 lanes), the forward and backward-input
// tiles over a batch load their rows' operand once per subgroup and broadcast it; batches of at
// least the tile height take that path. Skipped on devices without one subgroup size: there the
// kernels cannot be built, and the per-lane kernels those devices run are checked above.
// Also 4-lane tiles (SwiftShader's subgroup size), which run on wider subgroups as well.
await ready();
const native = runtime().limits;

// Skipped where the adapter reports no single subgroup size: the kernels are only chosen there.
for (const lanes of [...new Set([native.subgroupSize ?? 0, 4])]) describe.skipIf(!native.subgroupSize)(`conv2d sharing rows across a subgroup of ${lanes} lanes (seed ${seed})`, () => {
  const limits = { ...native, subgroupSize: lanes };
  const subgroupShapes: Conv2dShape[] = [
    { batch: 17, inHeight: 3, inWidth: 3, inChannels: 8, filterHeight: 3, filterWidth: 3, outChannels: 12, padding: 'same', limits },
    { batch: 9, inHeight: 4, inWidth: 3, inChannels: 8, filterHeight: 3, filterWidth: 2, outChannels: 8, padding: 'valid', strides: [2, 1], tileRows: 4, limits },
    { batch: 8, inHeight: 2, inWidth: 3, inChannels: 4, filterHeight: 5, filterWidth: 5, outChannels: 36, padding: 'same', strides: [1, 2], tileRows: 8, limits },
    // Fewer column vec4s than lanes: the lanes split the tile's rows (forward: 2 groups, backward-input: 4).
    { batch: 32, inHeight: 2, inWidth: 2, inChannels: 16, filterHeight: 3, filterWidth: 3, outChannels: 8, padding: 'same', limits },
    // One-channel images: their small filters slide a window along rows instead, on any device.
    { batch: 2, inHeight: 5, inWidth: 11, inChannels: 1, filterHeight: 3, filterWidth: 4, outChannels: 8, padding: 'same', tileRows: 4, limits },
    { batch: 2, inHeight: 4, inWidth: 6, inChannels: 1, filterHeight: 5, filterWidth: 5, outChannels: 16, padding: 'same', limits },
    // 32 channels: the backward-filter tile's 32 rows (one input vec4 per lane of 8).
    { batch: 2, inHeight: 3, inWidth: 3, inChannels: 32, filterHeight: 2, filterWidth: 2, outChannels: 8, padding: 'same', limits },
  ];

  it('forward, with bias and relu, matches float64', async () => {
    for (const [i, s] of subgroupShapes.entries()) {
      if (s.batch >= 8) expect(conv2dForward(s).code).toMatch(/subgroup(Broadcast|Shuffle)\(/);
      const n = sizes(s);
      const x = randomUniform(n.x, seed + 800 + i);
      const f = randomUniform(n.f, seed + 810 + i);
      const bias = randomUniform(s.outChannels, seed + 820 + i);
      const [y] = await runKernel(conv2dForward(s), [x, f], [{ size: n.y }]);
      expectAllClose(y, reference(x, f, s), { rtol: 1e-4, atol: 1e-5 });
      const [yb] = await runKernel(conv2dForward({ ...s, bias: true, activation: 'relu' }), [x, f, bias], [{ size: n.y }]);
      expectAllClose(yb, reference(x, f, s, bias, 'relu'), { rtol: 1e-4, atol: 1e-5 });
    }
  });

  it('backward passes match the exact gradients', async () => {
    for (const [i, s] of subgroupShapes.entries()) {
      if (s.inChannels > 4 && s.batch >= 8) expect(conv2dBackwardInput(s).code).toMatch(/subgroup(Broadcast|Shuffle)\(/);
      // Small filters over at most 4 channels (windows of at most 50 values) slide along rows
      // instead: here the one-channel images.
      if (s.inChannels > 4 || s.filterHeight * s.filterWidth * s.inChannels > 50) expect(conv2dBackwardFilter(s)[0].code).toMatch(/subgroup(Broadcast|Shuffle)\(/);
      await checkBackward(s, 830 + i);
    }
  });
});
