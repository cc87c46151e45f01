// Where the seed CNN's cold start goes: creates each distinct pipeline of its training step one
// by one (timing the creation), then times the step's first run, in which lavapipe JIT-compiles
// every pipeline at its first dispatch, and its second. Run it with an empty shader cache:
// MESA_SHADER_CACHE_DISABLE=true node scripts/run-ts.mjs bench/compile.ts [batch, default 128]

import * as sf from '../src/index.js';
import { runtime } from '../src/gpu/device.js';
import type { Kernel } from '../src/shaders/kernel.js';
import type { PlannedStep } from '../src/nn/step.js';
import { seedCnn } from '../scripts/seed-models.js';

await sf.ready();
const batch = Number(process.argv[2] ?? 128);
const model = seedCnn();
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
const started = performance.now();
const step = (model as unknown as { step(purpose: 'train'): { compile(spec: { shape: number[]; dtype: 'float32' | 'int32' }[]): Promise<PlannedStep> } }).step('train');
const planned = await step.compile([{ shape: [batch, 28, 28, 1], dtype: 'float32' }, { shape: [batch], dtype: 'int32' }]);
console.log(`trace, plan and create every pipeline (in parallel, as fit does): ${(performance.now() - started).toFixed(0)} ms`);

const kernels = new Map<string, Kernel>();
for (const s of planned.plan.program.steps) if (!('copy' in s)) kernels.set(s.kernel.code, s.kernel);
const device = runtime().device;
const rows: [string, number][] = [];
for (const k of kernels.values()) {
  // A comment makes the source new to Dawn's cache, so each creation is timed from scratch.
  const module = device.createShaderModule({ code: `${k.code}\n// timed ${Math.random()}` });
  const t = performance.now();
  device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  rows.push([k.name, performance.now() - t]);
}
const created = rows.reduce((n, r) => n + r[1], 0);
console.log(`${kernels.size} distinct pipelines of ${planned.plan.dispatches} dispatches; created one by one in ${created.toFixed(0)} ms, the slowest:`);
for (const [name, ms] of rows.sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`  ${name.padEnd(36)} ${ms.toFixed(0).padStart(5)} ms`);

for (const label of ['first run (JIT at each first dispatch)', 'second run']) {
  const t = performance.now();
  const profile = await planned.plan.profile();
  console.log(`\n${label}: ${(performance.now() - t).toFixed(0)} ms`);
  if (label.startsWith('first')) console.log(String(profile).split('\n').slice(1, 12).join('\n'));
}
process.exit(0);
