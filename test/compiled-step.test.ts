// Compiled training steps: gradients through a plan against finite differences, a plan against
// the same arithmetic run op by op, the memory planner on the seed CNN, and a steady state that
// submits once per step, never waits, and allocates nothing.

import * as sf from 'shaderflow';
import { beforeAll, describe, expect, test } from 'vitest';
import { runtime } from '../src/gpu/device.js';
import { lossPerExample } from '../src/nn/losses.js';
import { accumulateMetrics, activationGrad, dropoutWith } from '../src/nn/ops.js';
import { StepState } from '../src/nn/step-state.js';
import { expectAllClose, freshSeed, randomUniform } from './expect-all-close.js';

beforeAll(async () => {
  await sf.ready();
});

type Params = sf.Tensor[];

function glorot(shape: number[], seed: number): sf.Tensor {
  const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
  const fanOut = shape.length === 4 ? shape[0] * shape[1] * shape[3] : shape[1];
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return sf.tensor(randomUniform(shape.reduce((n, d) => n * d, 1), seed, -limit, limit), shape);
}

const bias = (n: number, seed: number): sf.Tensor => sf.tensor(randomUniform(n, seed, -0.1, 0.1), [n]);

/** Dense(7, relu) → Dropout(0.3) → Dense(3) → softmax cross-entropy, as one function of its parameters. */
function mlpLoss(x: sf.Tensor, labels: sf.Tensor, [w1, b1, w2, b2]: Params, state: sf.Tensor): sf.Tensor {
  const h = sf.fused.matMul({ a: x, b: w1, bias: b1, activation: 'relu' });
  const d = dropoutWith(h, { rate: 0.3, seed: 1234 }, state);
  const logits = sf.fused.matMul({ a: d, b: w2, bias: b2 });
  return sf.losses.sparseSoftmaxCrossEntropy(labels, logits);
}

/** Conv(3, 3x3 same, relu) → MaxPool 2 same → Conv(4, 3x3 valid, tanh) → Flatten → Dropout → Dense(5). */
function cnnLoss(x: sf.Tensor, labels: sf.Tensor, [f1, c1, f2, c2, w, b]: Params, state: sf.Tensor): sf.Tensor {
  const a = sf.fused.conv2d({ x, filter: f1, strides: 1, pad: 'same', bias: c1, activation: 'relu' });
  const p = sf.maxPool(a, 2, 2, 'same');
  const c = sf.fused.conv2d({ x: p, filter: f2, strides: 1, pad: 'valid', bias: c2, activation: 'tanh' });
  const flat = sf.reshape(c, [c.shape[0], -1]);
  const d = dropoutWith(flat, { rate: 0.25, seed: 99 }, state);
  return sf.losses.sparseSoftmaxCrossEntropy(labels, sf.fused.matMul({ a: d, b: w, bias: b }));
}

async function valueOf(t: sf.Tensor): Promise<number> {
  const v = (await t.data())[0];
  t.dispose();
  return v;
}

/**
 * Checks `grads` (from a compiled plan) against central differences of the eagerly computed loss
 * at a few coordinates of each parameter.
 */
async function checkAgainstFiniteDifferences(
  loss: (params: Params) => sf.Tensor, params: Params, grads: sf.Tensor[], seed: number,
): Promise<void> {
  const h = 1e-3;
  const tolerance = { atol: 2e-3, rtol: 3e-2 };
  let kinks = 0;
  let coordinates = 0;
  for (const [k, p] of params.entries()) {
    const values = await p.data();
    const g = await grads[k].data();
    const coords = Array.from({ length: Math.min(5, p.size) }, (_, i) => (seed * 31 + i * 7919) % p.size);
    const numeric: number[] = [];
    const at = async (i: number, delta: number): Promise<number> => {
      const moved = Float32Array.from(values);
      moved[i] += delta;
      const q = sf.tensor(moved, p.shape);
      const l = await valueOf(loss(params.map((r, j) => (j === k ? q : r))));
      q.dispose();
      return l;
    };
    for (const i of coords) {
      const [below, centre, above] = [await at(i, -h), await at(i, 0), await at(i, h)];
      // A ReLU or max-pool kink inside [−h, h] makes the one-sided slopes disagree, and the
      // central difference averages them; the derivative at the point is then the slope of
      // the side the point lies on, so the nearer one-sided slope is the estimate there.
      const left = (centre - below) / h;
      const right = (above - centre) / h;
      const kink = Math.abs(right - left) > tolerance.atol + tolerance.rtol * Math.abs(right + left);
      if (kink) kinks++;
      numeric.push(kink ? [left, right].reduce((a, b) => (Math.abs(b - g[i]) < Math.abs(a - g[i]) ? b : a)) : (above - below) / (2 * h));
    }
    coordinates += coords.length;
    try {
      expectAllClose(coords.map((i) => g[i]), numeric, tolerance);
    } catch (error) {
      throw new Error(`parameter ${k} ${p.describe()}, coordinates [${coords}], seed ${seed}: ${(error as Error).message}`);
    }
  }
  // Kinks are rare: most coordinates must be compared by central differences.
  expect(kinks).toBeLessThanOrEqual(coordinates / 4);
}

describe('gradients through a compiled plan', () => {
  test('a small MLP with dropout matches central finite differences of its loss', async () => {
    const seed = freshSeed();
    const params = [glorot([5, 7], seed), bias(7, seed + 1), glorot([7, 3], seed + 2), bias(3, seed + 3)];
    const x = sf.tensor(randomUniform(6 * 5, seed + 4), [6, 5]);
    const labels = sf.tensor(new Int32Array([0, 2, 1, 1, 0, 2]));
    const state = new StepState({ step: 7 });
    const step = sf.compile('mlp gradient', (xs, ys) => {
      const { value, grads } = sf.valueAndGrads((...ps) => mlpLoss(xs, ys, ps, state.tensor))(params);
      return [value, ...grads];
    });
    const planned = step.run([x, labels]);
    const grads = await Promise.all(params.map(async (p, k) => sf.tensor(await planned.read(k + 1), p.shape)));
    await checkAgainstFiniteDifferences((ps) => mlpLoss(x, labels, ps, state.tensor), params, grads, seed);
    step.dispose();
    state.dispose();
    for (const t of [...params, ...grads, x, labels]) t.dispose();
  });

  test('a small CNN (conv, max pooling, dropout) matches central finite differences of its loss', async () => {
    const seed = freshSeed();
    const params = [glorot([3, 3, 1, 3], seed), bias(3, seed + 1), glorot([3, 3, 3, 4], seed + 2), bias(4, seed + 3), glorot([16, 5], seed + 4), bias(5, seed + 5)];
    const x = sf.tensor(randomUniform(2 * 8 * 8, seed + 6, 0, 1), [2, 8, 8, 1]);
    const labels = sf.tensor(new Int32Array([3, 1]));
    const state = new StepState({ step: 3 });
    const step = sf.compile('cnn gradient', (xs, ys) => {
      const { value, grads } = sf.valueAndGrads((...ps) => cnnLoss(xs, ys, ps, state.tensor))(params);
      return [value, ...grads];
    });
    const planned = step.run([x, labels]);
    const grads = await Promise.all(params.map(async (p, k) => sf.tensor(await planned.read(k + 1), p.shape)));
    await checkAgainstFiniteDifferences((ps) => cnnLoss(x, labels, ps, state.tensor), params, grads, seed);
    step.dispose();
    state.dispose();
    for (const t of [...params, ...grads, x, labels]) t.dispose();
  });
});

describe('a compiled training step', () => {
  test('gives the same parameters after N steps as the same arithmetic run op by op', async () => {
    const seed = freshSeed();
    const init = [glorot([4, 6], seed), bias(6, seed + 1), glorot([6, 3], seed + 2), bias(3, seed + 3)];
    const hosts = await Promise.all(init.map((t) => t.data()));
    const compiled = init;
    const eager = hosts.map((v, k) => sf.tensor(v, init[k].shape));
    const batches = Array.from({ length: 5 }, (_, s) => ({
      x: sf.tensor(randomUniform(8 * 4, seed + 10 + s), [8, 4]),
      y: sf.tensor(new Int32Array(Array.from({ length: 8 }, (_, i) => (i + s) % 3))),
      onehot: sf.tensor(Array.from({ length: 8 }, (_, i) => [0, 1, 2].map((c) => (c === (i + s) % 3 ? 1 : 0)))),
    }));
    const config = { learningRate: 0.1, momentum: 0.9, nesterov: true };

    const optimizer = sf.optimizers.sgd(config);
    const step = sf.compile('train', (x, y) => {
      const loss = (w1: sf.Tensor, b1: sf.Tensor, w2: sf.Tensor, b2: sf.Tensor) =>
        sf.losses.sparseSoftmaxCrossEntropy(y, sf.fused.matMul({ a: sf.fused.matMul({ a: x, b: w1, bias: b1, activation: 'relu' }), b: w2, bias: b2 }));
      const { value, grads } = sf.valueAndGrads(loss)(compiled);
      optimizer.applyGradients(compiled.map((p, k) => [p, grads[k]] as const));
      return [value];
    });
    for (const b of batches) step.run([b.x, b.y]);

    // The same network differentiated by hand, one eager op at a time.
    const reference = sf.optimizers.sgd(config);
    for (const { x, onehot } of batches) {
      const [w1, b1, w2, b2] = eager;
      const h = sf.fused.matMul({ a: x, b: w1, bias: b1, activation: 'relu' });
      const logits = sf.fused.matMul({ a: h, b: w2, bias: b2 });
      const probs = sf.softmax(logits);
      const dLogits = sf.div(sf.sub(probs, onehot), x.shape[0]);
      const dh = activationGrad(h, sf.matMul(dLogits, w2, false, true), 'relu');
      const grads = [sf.matMul(x, dh, true), sf.sum(dh, 0), sf.matMul(h, dLogits, true), sf.sum(dLogits, 0)];
      reference.applyGradients(eager.map((p, k) => [p, grads[k]] as const));
      for (const t of [h, logits, probs, dLogits, dh, ...grads]) t.dispose();
    }
    for (const [k, p] of compiled.entries()) expectAllClose(await p.data(), await eager[k].data(), { rtol: 1e-4, atol: 1e-6 });
    expect(await (await eager[0].data())[0]).not.toBe(hosts[0][0]);

    step.dispose();
    optimizer.dispose();
    reference.dispose();
    for (const t of [...compiled, ...eager, ...batches.flatMap((b) => [b.x, b.y, b.onehot])]) t.dispose();
  });

  test('runs a plan per input shape, so a last partial batch is never dropped', async () => {
    const w = sf.tensor([[1, 2], [3, 4]]);
    const step = sf.compile('shapes', (x) => [sf.matMul(x, w)]);
    const full = sf.tensor([[1, 0], [0, 1], [1, 1]]);
    const partial = sf.tensor([[2, 1]]);
    expect(Array.from(await step.run([full]).read(0))).toEqual([1, 2, 3, 4, 4, 6]);
    expect(Array.from(await step.run([partial]).read(0))).toEqual([5, 8]);
    expect(Array.from(await step.run([full]).read(0))).toEqual([1, 2, 3, 4, 4, 6]);
    expect(step.planCount).toBe(2);
    step.dispose();
    for (const t of [w, full, partial]) t.dispose();
  });
});

/** The seed CNN's parameters: four 5x5 convs of 16/32/64/128 filters, Dense 128, Dense 10. */
function seedCnn(seed: number): Params {
  const shapes = [[5, 5, 1, 16], [16], [5, 5, 16, 32], [32], [5, 5, 32, 64], [64], [5, 5, 64, 128], [128], [2 * 2 * 128, 128], [128], [128, 10], [10]];
  return shapes.map((s, k) => (s.length === 1 ? sf.tensor(new Float32Array(s[0]), s) : glorot(s, seed + k)));
}

const seedCnnState = new StepState();

function seedCnnLoss(x: sf.Tensor, y: sf.Tensor, p: Params): sf.Tensor {
  let a = x;
  for (let l = 0; l < 4; l++) {
    a = sf.fused.conv2d({ x: a, filter: p[2 * l], strides: 1, pad: 'same', bias: p[2 * l + 1], activation: 'relu' });
    a = sf.maxPool(a, 2, 2, 'same');
  }
  const h = sf.fused.matMul({ a: sf.reshape(a, [a.shape[0], -1]), b: p[8], bias: p[9], activation: 'relu' });
  const d = dropoutWith(h, { rate: 0.4, seed: 5 }, seedCnnState.tensor);
  return sf.losses.sparseSoftmaxCrossEntropy(y, sf.fused.matMul({ a: d, b: p[10], bias: p[11] }));
}

describe('the memory planner', () => {
  test("keeps the seed CNN's training step at batch 128 well below the sum of its intermediates", () => {
    const params = seedCnn(freshSeed());
    const optimizer = sf.optimizers.rmsprop();
    const step = sf.compile('seed cnn', (x, y) => {
      const { value, grads } = sf.valueAndGrads((...ps) => seedCnnLoss(x, y, ps))(params);
      optimizer.applyGradients(params.map((p, k) => [p, grads[k]] as const));
      return [value];
    });
    const { plan } = step.planFor([{ shape: [128, 28, 28, 1], dtype: 'float32' }, { shape: [128], dtype: 'int32' }]);
    expect(plan.memory.intermediateBytes).toBeGreaterThan(50e6);
    const { peakBytes, intermediateBytes, liveBytes, sizes } = plan.memory;
    const ownBytes = peakBytes - sizes.slice(0, 2).reduce((a, b) => a + b, 0); // less the input and label buffers
    expect(peakBytes).toBeLessThan(0.55 * intermediateBytes);
    expect(ownBytes).toBeLessThan(1.4 * liveBytes);
    expect(plan.dispatches).toBeLessThan(64);
    step.dispose();
    optimizer.dispose();
    for (const p of params) p.dispose();
  });
});

describe('the steady state', () => {
  test('one submit per step, no waiting, and the same buffers after step 10 and step 1,000', async () => {
    const seed = freshSeed();
    const params = [glorot([4, 8], seed), bias(8, seed + 1), glorot([8, 3], seed + 2), bias(3, seed + 3)];
    const x = sf.tensor(randomUniform(16 * 4, seed + 4), [16, 4]);
    const y = sf.tensor(new Int32Array(16).map((_, i) => i % 3));
    const accumulator = sf.tensor(new Float32Array(8));
    const optimizer = sf.optimizers.adam();
    const step = sf.compile('steady', (xs, ys) => {
      const { grads } = sf.valueAndGrads((...ps) => mlpLoss(xs, ys, ps, optimizer.state.tensor))(params);
      optimizer.applyGradients(params.map((p, k) => [p, grads[k]] as const));
      const [w1, b1, w2, b2] = params;
      const logits = sf.fused.matMul({ a: sf.fused.matMul({ a: xs, b: w1, bias: b1, activation: 'relu' }), b: w2, bias: b2 });
      accumulateMetrics(logits, ys, lossPerExample('sparse', ys, logits), accumulator, 'sparse');
      return [];
    });
    const planned = await step.compile([{ shape: [16, 4], dtype: 'float32' }, { shape: [16], dtype: 'int32' }]);
    const metrics = planned.watch(accumulator);
    const rt = runtime();
    const run = (): void => {
      planned.run([x, y]);
      optimizer.state.advance();
    };
    for (let s = 0; s < 10; s++) run();
    await params[0].data();
    const after10 = { created: rt.pool.created, memory: sf.memory() };
    const submits = rt.counters.submits;
    const reads = rt.counters.reads;
    for (let s = 10; s < 1000; s++) run();
    expect(rt.counters.submits - submits).toBe(990);
    expect(rt.counters.reads - reads).toBe(0);
    const values = await params[0].data();
    expect(values.every(Number.isFinite)).toBe(true);
    expect(rt.pool.created).toBe(after10.created);
    expect(sf.memory()).toEqual(after10.memory);
    // The ring delivered values a few steps late while the loop ran; the exact read has them all.
    expect(metrics.latest).not.toBeNull();
    expect(metrics.latest!.run).toBeGreaterThan(0);
    const exact = await metrics.exact();
    expect(exact[2]).toBe(16 * 1000);
    expect(exact[1]).toBeGreaterThan(0);
    expect(exact[1]).toBeLessThanOrEqual(16 * 1000);
    expect(exact[0] / exact[2]).toBeGreaterThan(0);
    const profile = await planned.profile();
    expect(profile.rows.reduce((n, r) => n + r.dispatches, 0)).toBe(planned.plan.dispatches);
    expect(profile.rows.every((r) => r.milliseconds >= 0)).toBe(true);
    expect(String(profile)).toMatch(/matmul(_sg)?_bias_relu +\d+ +[\d.]+ +[\d.]+%/);
    expect(String(profile)).toMatch(/memory: [\d.]+ MiB planned/);
    step.dispose();
    optimizer.dispose();
    for (const t of [...params, x, y, accumulator]) t.dispose();
  });
});
