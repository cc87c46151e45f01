// Kernel benchmark: the adapter's FMA peak, then matmul and each conv2d pass of the seed CNN,
// as GFLOP/s, as a fraction of the peak, and against TF.js's WebGPU backend on the same adapter.
// Usage: npm run bench:kernels [-- --json FILE] [-- --quick]

import { writeFileSync } from 'node:fs';
import { ready, runtime } from '../src/gpu/device.js';
import { kernelRows } from './kernel-rows.js';
import { measurePeak } from './peak.js';
import { loadTfjsWebgpu } from './peers.js';
import { table } from './timing.js';

const args = process.argv.slice(2);
const jsonPath = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const quick = args.includes('--quick');

async function main(): Promise<void> {
  const info = await ready();
  const rt = runtime();
  const adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ');
  console.log(`adapter: ${adapter}; subgroup kernels: ${info.subgroupSize ? `${info.subgroupSize} lanes` : 'none (per-lane kernels)'}`);
  const peak = await measurePeak(rt);
  console.log(`measured FMA peak: ${peak.toFixed(1)} GFLOP/s`);
  const tf = await loadTfjsWebgpu();

  const batch = quick ? 32 : 128;
  const rows = await kernelRows(rt, tf, batch, quick ? 0.2 : 0.5);

  console.log(`\nbatch ${batch}; GFLOP/s measured as wall time over many queued dispatches\n`);
  console.log(table(['op', 'shaderflow GFLOP/s', '% of peak', 'TF.js WebGPU GFLOP/s', 'ratio'],
    rows.map((r) => [r.op, r.ours, (100 * r.ours) / peak, r.peer, r.ours / r.peer])));
  if (jsonPath) {
    writeFileSync(jsonPath, JSON.stringify({ adapter, subgroupSize: info.subgroupSize ?? null, peakGflops: peak, batch, rows: rows.map((r) => ({ ...r, fractionOfPeak: r.ours / peak, ratio: r.ours / r.peer })) }, null, 2));
    console.log(`\nwrote ${jsonPath}`);
  }
}

await main();
