// The kernel rows of the benchmarks: matmul and each conv2d pass of the seed CNN, timed for
// shaderflow's kernels and for TF.js's WebGPU backend on the same adapter (bench/kernels.ts
// prints them; bench/train.ts --device-report puts them in its JSON).

import { storageUsage } from '../src/gpu/pool.js';
import type { Runtime } from '../src/gpu/runtime.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dScratchSize } from '../src/shaders/conv2d/index.js';
import type { Kernel } from '../src/shaders/kernel.js';
import { toHalf } from '../src/shaders/half.js';
import { matMul, type MatMulParams } from '../src/shaders/matmul.js';
import type { Tf } from './peers.js';
import { time } from './timing.js';

export interface Row {
  op: string;
  flops: number;
  ours: number;
  peer: number;
}

/** Random-filled buffers of the given element counts. */
function buffers(rt: Runtime, sizes: number[]): GPUBuffer[] {
  return sizes.map((n) => {
    const buffer = rt.allocate(n * 4, 'bench', storageUsage);
    rt.write(buffer, Float32Array.from({ length: n }, () => Math.random() - 0.5));
    return buffer;
  });
}

async function timeOurs(rt: Runtime, kernels: Kernel[], bound: GPUBuffer[][], seconds: number): Promise<number> {
  const t = await time(async (count) => {
    for (let r = 0; r < count; r++) kernels.forEach((k, i) => rt.dispatch(k, bound[i]));
    await rt.flush();
    await rt.device.queue.onSubmittedWorkDone();
  }, seconds);
  return t.seconds;
}

async function timePeer(tf: Tf, run: () => PeerTensor, seconds: number): Promise<number> {
  const t = await time(async (count) => {
    for (let r = 1; r < count; r++) run().dispose();
    // Reading one element of the last result waits for everything queued before it.
    const last = run();
    const first = tf.slice(tf.reshape(last as never, [-1]), 0, 1);
    await first.data();
    first.dispose();
    last.dispose();
  }, seconds);
  return t.seconds;
}

type PeerTensor = { dispose(): void };

/** Whether the device reads halves ('shader-f16'): the f16 rows are timed only there. */
const hasHalves = (rt: Runtime): boolean => rt.device.features.has('shader-f16');

/** A half copy of `source`'s `size` float32 values, made on the GPU (src/shaders/half.ts). */
function halfCopy(rt: Runtime, source: GPUBuffer, size: number): GPUBuffer {
  const half = rt.allocate(Math.ceil(size / 2) * 4, 'bench f16', storageUsage);
  rt.dispatch(toHalf({ size, limits: rt.limits }), [source, half]);
  return half;
}

/** A matmul's row, and with `half` (on a device with 'shader-f16') the same product with B in halves, next to the same peer. */
async function matmulRows(rt: Runtime, tf: Tf, label: string, p: MatMulParams, seconds: number, half = false): Promise<Row[]> {
  const { m, n, k, transposeA = false, transposeB = false } = p;
  const [a, b, c] = buffers(rt, [m * k, k * n, m * n]);
  const ours = await timeOurs(rt, [matMul({ ...p, limits: rt.limits })], [[a, b, c]], seconds);
  const bh = half && hasHalves(rt) ? halfCopy(rt, b, k * n) : undefined;
  const oursHalf = bh ? await timeOurs(rt, [matMul({ ...p, halfB: true, limits: rt.limits })], [[a, bh, c]], seconds) : 0;
  [a, b, c, ...(bh ? [bh] : [])].forEach((x) => rt.release(x));
  const ta = tf.randomUniform(transposeA ? [k, m] : [m, k]);
  const tb = tf.randomUniform(transposeB ? [n, k] : [k, n]);
  const peer = await timePeer(tf, () => tf.matMul(ta, tb, transposeA, transposeB), seconds);
  ta.dispose();
  tb.dispose();
  const flops = 2 * m * n * k;
  const row = { op: label, flops, ours: flops / ours / 1e9, peer: flops / peer / 1e9 };
  return bh ? [row, { ...row, op: `${label}, B in f16`, ours: flops / oursHalf / 1e9 }] : [row];
}

/** The seed CNN's conv layers at batch 128: [H, W, Cin, Cout], 5x5 'same'. */
const convLayers: [number, number, number, number][] = [
  [28, 28, 1, 16],
  [14, 14, 16, 32],
  [7, 7, 32, 64],
  [4, 4, 64, 128],
];

async function convRows(rt: Runtime, tf: Tf, layer: number, batch: number, seconds: number): Promise<Row[]> {
  const [h, w, cin, cout] = convLayers[layer];
  const shape = { batch, inHeight: h, inWidth: w, inChannels: cin, filterHeight: 5, filterWidth: 5, outChannels: cout, strides: [1, 1] as [number, number], padding: 'same' as const, limits: rt.limits };
  const flops = 2 * batch * h * w * 25 * cin * cout;
  const [x, f, y, dy, dx, df] = buffers(rt, [batch * h * w * cin, 25 * cin * cout, batch * h * w * cout, batch * h * w * cout, batch * h * w * cin, 25 * cin * cout]);
  const bias = buffers(rt, [cout])[0];
  const fwd = await timeOurs(rt, [conv2dForward({ ...shape, bias: true, activation: 'relu' })], [[x, f, bias, y]], seconds);
  const fh = hasHalves(rt) ? halfCopy(rt, f, 25 * cin * cout) : undefined;
  const fwdHalf = fh ? await timeOurs(rt, [conv2dForward({ ...shape, bias: true, activation: 'relu', halfFilter: true })], [[x, fh, bias, y]], seconds) : 0;
  if (fh) rt.release(fh);
  const bin = await timeOurs(rt, [conv2dBackwardInput(shape)], [[dy, f, dx]], seconds);
  const scratch = buffers(rt, [Math.max(1, conv2dScratchSize(shape))])[0];
  const filterKernels = conv2dBackwardFilter(shape);
  const bfl = await timeOurs(rt, filterKernels, filterKernels.map((k) => bindFilter(k, x, dy, scratch, df)), seconds);
  [x, f, y, dy, dx, df, bias, scratch].forEach((b) => rt.release(b));

  const tx = tf.randomUniform([batch, h, w, cin]);
  const tfilter = tf.randomUniform([5, 5, cin, cout]);
  const tbias = tf.randomUniform([cout]);
  const tdy = tf.randomUniform([batch, h, w, cout]);
  const engine = tf.engine() as unknown as { runKernel(name: string, inputs: object, attrs: object): PeerTensor };
  const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] };
  const pf = await timePeer(tf, () => tf.fused.conv2d({ x: tx as never, filter: tfilter as never, strides: 1, pad: 'same', bias: tbias, activation: 'relu' }), seconds);
  const pi = await timePeer(tf, () => engine.runKernel('Conv2DBackpropInput', { dy: tdy, filter: tfilter }, { ...attrs, inputShape: [batch, h, w, cin] }), seconds);
  const pb = await timePeer(tf, () => engine.runKernel('Conv2DBackpropFilter', { x: tx, dy: tdy }, { ...attrs, filterShape: [5, 5, cin, cout] }), seconds);
  [tx, tfilter, tbias, tdy].forEach((t) => t.dispose());
  const name = `conv${layer + 1} ${h}x${w}x${cin}→${cout}`;
  return [
    { op: `${name} forward`, flops, ours: flops / fwd / 1e9, peer: flops / pf / 1e9 },
    ...(fh ? [{ op: `${name} forward, filter in f16`, flops, ours: flops / fwdHalf / 1e9, peer: flops / pf / 1e9 }] : []),
    { op: `${name} backward input`, flops, ours: flops / bin / 1e9, peer: flops / pi / 1e9 },
    { op: `${name} backward filter`, flops, ours: flops / bfl / 1e9, peer: flops / pb / 1e9 },
  ];
}

/** The buffers a backward-filter kernel binds, by its binding count: (x, dy, scratch) then (scratch, df), or (x, dy, df). */
function bindFilter(kernel: Kernel, x: GPUBuffer, dy: GPUBuffer, scratch: GPUBuffer, df: GPUBuffer): GPUBuffer[] {
  const storage = kernel.bindings.filter((b) => b !== 'uniform').length;
  if (kernel.name.includes('reduce')) return [scratch, df];
  return storage === 3 ? [x, dy, kernel.name.includes('partial') ? scratch : df] : [x, dy, scratch];
}

/**
 * Every kernel row at `batch`: two square matmuls, the seed CNN's dense layer and its two
 * backward products, and the three passes of each conv layer; each timed for about `seconds`.
 * On a device with 'shader-f16', the forward products also with their weights in halves
 * (compile's forwardWeights 'float16'), next to the same TF.js float32 figure.
 */
export async function kernelRows(rt: Runtime, tf: Tf, batch: number, seconds: number): Promise<Row[]> {
  const rows: Row[] = [];
  rows.push(...(await matmulRows(rt, tf, 'matmul 256³', { m: 256, n: 256, k: 256 }, seconds)));
  rows.push(...(await matmulRows(rt, tf, 'matmul 1024³', { m: 1024, n: 1024, k: 1024 }, seconds, true)));
  // The seed CNN's Dense 128 on the flattened 2x2x128 features, and its two backward products.
  rows.push(...(await matmulRows(rt, tf, `dense ${batch}x512·512x128`, { m: batch, n: 128, k: 512 }, seconds, true)));
  rows.push(...(await matmulRows(rt, tf, `dense dX ${batch}x128·(512x128)ᵀ`, { m: batch, n: 512, k: 128, transposeB: true }, seconds)));
  rows.push(...(await matmulRows(rt, tf, `dense dW (${batch}x512)ᵀ·${batch}x128`, { m: 512, n: 128, k: batch, transposeA: true }, seconds)));
  for (let layer = 0; layer < convLayers.length; layer++) rows.push(...(await convRows(rt, tf, layer, batch, seconds)));
  return rows;
}
