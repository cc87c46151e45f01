// Compiled-step benchmark: the seed CNN's training step (batch 128) and the seed MLP's (batch
// 32) as plans: dispatches per step, host time to encode and submit one step, GPU time per step,
// planned memory against the sum of all intermediates, and the per-kernel profile.
// Usage: npm run bench:step [-- --json FILE] [-- --batch N]

import { writeFileSync } from 'node:fs';
import * as sf from '../src/index.js';
import { runtime } from '../src/gpu/device.js';
import { dropoutWith } from '../src/nn/ops.js';
import { table } from './timing.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const jsonPath = option('--json');
const cnnBatch = Number(option('--batch') ?? 128);

const random = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => (Math.random() * 2 - 1) * scale);

function glorot(shape: number[]): sf.Tensor {
  const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
  const fanOut = shape.length === 4 ? shape[0] * shape[1] * shape[3] : shape[1];
  return sf.tensor(random(shape.reduce((n, d) => n * d, 1), Math.sqrt(6 / (fanIn + fanOut))), shape);
}

interface Model {
  name: string;
  params: sf.Tensor[];
  loss: (x: sf.Tensor, y: sf.Tensor, p: sf.Tensor[], state: sf.Tensor) => sf.Tensor;
  x: number[];
  classes: number;
}

const cnn = (): Model => ({
  name: `seed CNN, batch ${cnnBatch}`,
  params: [[5, 5, 1, 16], [16], [5, 5, 16, 32], [32], [5, 5, 32, 64], [64], [5, 5, 64, 128], [128], [512, 128], [128], [128, 10], [10]]
    .map((s) => (s.length === 1 ? sf.tensor(new Float32Array(s[0]), s) : glorot(s))),
  loss: (x, y, p, state) => {
    let a = x;
    for (let l = 0; l < 4; l++) {
      a = sf.fused.conv2d({ x: a, filter: p[2 * l], strides: 1, pad: 'same', bias: p[2 * l + 1], activation: 'relu' });
      a = sf.maxPool(a, 2, 2, 'same');
    }
    const h = sf.fused.matMul({ a: sf.reshape(a, [a.shape[0], -1]), b: p[8], bias: p[9], activation: 'relu' });
    const d = dropoutWith(h, { rate: 0.4, seed: 1 }, state);
    return sf.losses.sparseSoftmaxCrossEntropy(y, sf.fused.matMul({ a: d, b: p[10], bias: p[11] }));
  },
  x: [cnnBatch, 28, 28, 1],
  classes: 10,
});

const mlp = (): Model => ({
  name: 'seed MLP, batch 32',
  params: [glorot([4, 10]), sf.tensor(new Float32Array(10), [10]), glorot([10, 3]), sf.tensor(new Float32Array(3), [3])],
  loss: (x, y, p, state) => {
    const h = sf.fused.matMul({ a: x, b: p[0], bias: p[1], activation: 'relu' });
    const d = dropoutWith(h, { rate: 0.2, seed: 2 }, state);
    return sf.losses.sparseSoftmaxCrossEntropy(y, sf.fused.matMul({ a: d, b: p[2], bias: p[3] }));
  },
  x: [32, 4],
  classes: 3,
});

async function measure(model: Model, hostRuns: number): Promise<Record<string, number | string>> {
  const optimizer = sf.optimizers.rmsprop();
  const compiled = sf.compile(model.name, (x, y) => {
    const { value, grads } = sf.valueAndGrads((...p) => model.loss(x, y, p, optimizer.state.tensor))(model.params);
    optimizer.applyGradients(model.params.map((p, k) => [p, grads[k]] as const));
    return [value];
  });
  const batch = model.x[0];
  const x = sf.tensor(random(model.x.reduce((n, d) => n * d, 1), 1), model.x);
  const y = sf.tensor(Int32Array.from({ length: batch }, (_, i) => i % model.classes));
  const started = performance.now();
  const planned = await compiled.compile([{ shape: x.shape, dtype: 'float32' }, { shape: y.shape, dtype: 'int32' }]);
  const compileMs = performance.now() - started;
  const run = (): void => {
    planned.run([x, y]);
    optimizer.state.advance(); // as fit does: the step and the iteration move on in one 16-byte write
  };
  run();
  await planned.read(0);
  const firstStepMs = performance.now() - started;
  // Host time: encoding and submitting only; the GPU works through the queue meanwhile.
  let host = 0;
  const wall = performance.now();
  for (let r = 0; r < hostRuns; r++) {
    const t = performance.now();
    run();
    host += performance.now() - t;
  }
  const loss = (await planned.read(0))[0];
  const stepMs = (performance.now() - wall) / hostRuns;
  const profile = await planned.profile();
  console.log(`\n${String(profile)}\n`);
  const { memory } = planned.plan;
  compiled.dispose();
  optimizer.dispose();
  x.dispose();
  y.dispose();
  return {
    model: model.name,
    dispatches: planned.plan.dispatches,
    hostMsPerStep: host / hostRuns,
    stepMs,
    samplesPerSecond: (1000 * batch) / stepMs,
    compileMs,
    firstStepMs,
    plannedMiB: memory.peakBytes / 2 ** 20,
    intermediatesMiB: memory.intermediateBytes / 2 ** 20,
    liveMiB: memory.liveBytes / 2 ** 20,
    loss,
  };
}

async function main(): Promise<void> {
  const info = await sf.ready();
  console.log(`adapter: ${info.description || info.device || info.vendor}`);
  const rows = [await measure(mlp(), 200), await measure(cnn(), 5)];
  console.log(table(
    ['step', 'dispatches', 'host ms/step', 'GPU ms/step', 'samples/s', 'first step ms', 'planned MiB', 'unshared MiB', 'live MiB'],
    rows.map((r) => [r.model, r.dispatches, r.hostMsPerStep, r.stepMs, r.samplesPerSecond, r.firstStepMs, r.plannedMiB, r.intermediatesMiB, r.liveMiB] as (string | number)[]),
  ));
  console.log(`submits so far: ${runtime().counters.submits}`);
  if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ adapter: info, rows }, null, 2));
}

await main();
