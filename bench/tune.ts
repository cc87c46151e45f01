// Kernel tuning sweep: times only shaderflow's kernels (no peer) for a list of variants, so a
// tile-size or work-split change can be judged in seconds. Usage: node scripts/run-ts.mjs bench/tune.ts [filter] ['{"tileRows":16,"batch":128}']

import { ready, runtime } from '../src/gpu/device.js';
import { storageUsage } from '../src/gpu/pool.js';
import type { Runtime } from '../src/gpu/runtime.js';
import { conv2dBackwardFilter, conv2dBackwardInput, conv2dForward, conv2dScratchSize, type Conv2dShape } from '../src/shaders/conv2d/index.js';
import type { Kernel } from '../src/shaders/kernel.js';
import { matMul, type MatMulParams } from '../src/shaders/matmul.js';
import { time } from './timing.js';

const filter = process.argv[2] ?? '';
// Extra options go to every kernel; `batch` (default 32) sets the batch of the dense and conv cases.
const { batch = 32, ...extra } = (process.argv[3] ? JSON.parse(process.argv[3]) : {}) as { batch?: number } & Record<string, unknown>;

function buffers(rt: Runtime, sizes: number[]): GPUBuffer[] {
  return sizes.map((n) => {
    const buffer = rt.allocate(Math.max(1, n) * 4, 'tune', storageUsage);
    rt.write(buffer, Float32Array.from({ length: Math.max(1, n) }, () => Math.random() - 0.5));
    return buffer;
  });
}

/**
 * Best of three timings, as GFLOP per wall second and per CPU second of this process (lavapipe
 * runs its threads in-process). The machine is shared: the fastest wall time is the least
 * disturbed, and CPU time, less inflated by other jobs taking the cores, ranks variants when the load is high.
 */
async function gflops(rt: Runtime, kernels: Kernel[], bound: GPUBuffer[][], flops: number): Promise<[number, number]> {
  const run = async (count: number) => {
    for (let r = 0; r < count; r++) kernels.forEach((k, i) => rt.dispatch(k, bound[i]));
    await rt.flush();
    await rt.device.queue.onSubmittedWorkDone();
  };
  const { reps } = await time(run, 0.12);
  let wall = Infinity;
  let cpu = Infinity;
  for (let trial = 0; trial < 3; trial++) {
    const start = performance.now();
    const used = process.cpuUsage();
    await run(reps);
    const { user, system } = process.cpuUsage(used);
    wall = Math.min(wall, (performance.now() - start) / 1000 / reps);
    cpu = Math.min(cpu, (user + system) / 1e6 / reps);
  }
  return [flops / wall / 1e9, flops / cpu / 1e9];
}

async function main(): Promise<void> {
  await ready();
  const rt = runtime();
  const cases: [string, () => Promise<[number, number]>][] = [];
  const mm = (label: string, p: MatMulParams) => cases.push([label, async () => {
    const { m, n, k } = p;
    const [a, b, c] = buffers(rt, [m * k, k * n, m * n]);
    const r = await gflops(rt, [matMul({ ...p, ...extra, limits: rt.limits })], [[a, b, c]], 2 * m * n * k);
    [a, b, c].forEach((x) => rt.release(x));
    return r;
  }]);
  mm('mm256', { m: 256, n: 256, k: 256 });
  mm('mm1024', { m: 1024, n: 1024, k: 1024 });
  mm('dense', { m: batch, n: 128, k: 512 });
  mm('denseDX', { m: batch, n: 512, k: 128, transposeB: true });
  mm('denseDW', { m: 512, n: 128, k: batch, transposeA: true });
  const layers: [number, number, number, number][] = [[28, 28, 1, 16], [14, 14, 16, 32], [7, 7, 32, 64], [4, 4, 64, 128]];
  layers.forEach(([h, w, cin, cout], i) => {
    const shape: Conv2dShape = { batch, inHeight: h, inWidth: w, inChannels: cin, filterHeight: 5, filterWidth: 5, outChannels: cout, strides: [1, 1], padding: 'same', limits: rt.limits, ...extra };
    const flops = 2 * batch * h * w * 25 * cin * cout;
    const sizes = [batch * h * w * cin, 25 * cin * cout, batch * h * w * cout];
    cases.push([`conv${i + 1}fwd`, async () => {
      const [x, f, y] = buffers(rt, sizes);
      const r = await gflops(rt, [conv2dForward(shape)], [[x, f, y]], flops);
      [x, f, y].forEach((b) => rt.release(b));
      return r;
    }]);
    cases.push([`conv${i + 1}bin`, async () => {
      const [dx, f, dy] = buffers(rt, sizes);
      const r = await gflops(rt, [conv2dBackwardInput(shape)], [[dy, f, dx]], flops);
      [dx, f, dy].forEach((b) => rt.release(b));
      return r;
    }]);
    cases.push([`conv${i + 1}bfl`, async () => {
      const [x, df, dy] = buffers(rt, sizes);
      const [scratch] = buffers(rt, [conv2dScratchSize(shape)]);
      const ks = conv2dBackwardFilter(shape);
      const bound = ks.length === 2 ? [[x, dy, scratch], [scratch, df]] : [[x, dy, df]];
      const r = await gflops(rt, ks, bound, flops);
      [x, df, dy, scratch].forEach((b) => rt.release(b));
      return r;
    }]);
  });
  for (const [label, run] of cases) {
    if (!label.match(filter)) continue;
    const [wall, cpu] = await run();
    process.stdout.write(`${label} ${wall.toFixed(2)} (${cpu.toFixed(2)}/cpu-s)  `);
  }
}

await main();
console.log();
