// Per-adapter kernel choice: every row of the variant table computes what the built-in kernel
// computes; a plan in 'tune' mode times each new shape in place once, before its first run and
// without touching parameters; the choices persist by adapter and survive a broken store.

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sf from 'shaderflow';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runtime } from '../src/gpu/device.js';
import { defaultStore, Tuning } from '../src/gpu/tuning.js';
import { conv2dBackwardInput, conv2dForward, type Conv2dShape } from '../src/shaders/conv2d/index.js';
import type { Kernel, KernelLimits, Variant } from '../src/shaders/kernel.js';
import { matMul } from '../src/shaders/matmul.js';
import { tunable, type TunedFamily } from '../src/shaders/variants.js';
import { expectAllClose, freshSeed, randomUniform } from './expect-all-close.js';
import { runKernel } from './kernel-harness.js';

const seed = freshSeed();

/** The conv of the tuned model and of the variant check, so each variant compiles once. */
const convShape: Conv2dShape = { batch: 16, inHeight: 4, inWidth: 3, inChannels: 4, filterHeight: 3, filterWidth: 2, outChannels: 8, padding: 'same' };

beforeAll(async () => {
  await sf.ready();
});

afterAll(() => {
  sf.autotune('cached');
});

/** Runs every variant of one tunable kernel on the same random inputs and checks each against the built-in's output. */
async function checkVariants(family: TunedFamily, shape: object, build: (v: Variant, l: KernelLimits) => Kernel, inputSizes: readonly number[], outputSize: number): Promise<number> {
  const { tuning } = tunable(family, shape, runtime().limits, build);
  const variants = tuning.variants();
  const inputs = inputSizes.map((n, k) => randomUniform(n, seed + k, -1, 1));
  const outputs: Float32Array[] = [];
  for (const { kernel } of variants) outputs.push((await runKernel(kernel, inputs, [{ size: outputSize }]))[0] as Float32Array);
  for (const out of outputs.slice(1)) expectAllClose(out, outputs[0], { rtol: 1e-5, atol: 1e-5 });
  return variants.length;
}

describe(`the variant table (seed ${seed})`, () => {
  test('every matmul row computes what the built-in one does, the small kernel and the tiles alike', async () => {
    const shape = { m: 37, n: 24, k: 36, transposeA: false, transposeB: true, bias: false, activation: 'linear' as const };
    const count = await checkVariants('matmul', shape, (v, l) => matMul({ ...shape, tileRows: v.tileRows, lanes: v.lanes, limits: l }), [37 * 36, 24 * 36], 37 * 24);
    expect(count).toBeGreaterThanOrEqual(4);
  });

  test('every conv2d forward and backward-input row computes what the built-in one does', async () => {
    // The shape of the model's conv below, so its tuning finds these pipelines compiled.
    const shape = { ...convShape, strides: [1, 1] as [number, number] };
    const [x, filter, y] = [16 * 4 * 3 * 4, 3 * 2 * 4 * 8, 16 * 4 * 3 * 8];
    const forward = (v: Variant, l: KernelLimits) => conv2dForward({ ...shape, bias: true, activation: 'relu', tileRows: v.tileRows, limits: l });
    expect(await checkVariants('conv2d_forward', shape, forward, [x, filter, 8], y)).toBeGreaterThanOrEqual(3);
    const backward = (v: Variant, l: KernelLimits) => conv2dBackwardInput({ ...shape, tileRows: v.tileRows, limits: l });
    expect(await checkVariants('conv2d_backward_input', shape, backward, [y, filter], x)).toBeGreaterThanOrEqual(3);
  });

  test('variants that build the same WGSL are timed once', () => {
    const shape = { m: 4, n: 4, k: 4 };
    const { tuning } = tunable('matmul', shape, runtime().limits, (v, l) => matMul({ ...shape, tileRows: v.tileRows, limits: l }));
    const codes = tuning.variants().map((v) => v.kernel.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(tuning.variants()[0].variant).toEqual({});
  });
});

/**
 * A small CNN's training step: a scaled input (so the conv's input gradient is needed), conv,
 * pooling, dense, Adam; its tunable kernels are the conv forward and backward-input and matmuls.
 */
function cnnStep(params: sf.Tensor[], optimizer: sf.Optimizer): sf.CompiledStep {
  return sf.compile('tuned cnn', (x, y) => {
    const { value, grads } = sf.valueAndGrads((...p) => {
      let a = sf.fused.conv2d({ x: sf.mul(x, p[2]), filter: p[0], strides: 1, pad: 'same', bias: p[1], activation: 'relu' });
      a = sf.maxPool(a, 2, 2, 'same');
      const logits = sf.matMul(sf.reshape(a, [a.shape[0], -1]), p[3]);
      return sf.losses.sparseSoftmaxCrossEntropy(y, logits);
    })(params);
    optimizer.applyGradients(params.map((p, k) => [p, grads[k]] as const));
    return [value];
  });
}

describe("a plan in 'tune' mode", () => {
  test('times each new kernel shape in place once, leaves the parameters alone, and trains as the built-in kernels do', async () => {
    const shapes = [[3, 2, 4, 8], [8], [4, 3, 4], [2 * 2 * 8, 5]];
    const initial = shapes.map((s, k) => randomUniform(s.reduce((a, b) => a * b, 1), seed + 10 + k, -0.3, 0.3));
    const x = sf.tensor(randomUniform(16 * 4 * 3 * 4, seed + 20, 0, 1), [16, 4, 3, 4]);
    const y = sf.tensor(Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 5), [16], 'int32');
    const specs = [{ shape: x.shape, dtype: x.dtype }, { shape: y.shape, dtype: y.dtype }];
    const train = async (mode: 'off' | 'tune') => {
      sf.autotune(mode);
      const params = shapes.map((s, k) => sf.tensor(initial[k], s));
      const optimizer = sf.optimizers.adam({ learningRate: 0.01 });
      const step = cnnStep(params, optimizer);
      const timedBefore = runtime().tuning.timed;
      await step.compile(specs);
      const timed = runtime().tuning.timed - timedBefore;
      // Tuning ran the plan, but no update: the parameters and the optimizer are as they were.
      expectAllClose(await params[0].data(), initial[0], { atol: 0 });
      expect(optimizer.iterations).toBe(0);
      const losses: number[] = [];
      for (let s = 0; s < 3; s++) {
        const planned = step.run([x, y]);
        optimizer.iterations++;
        losses.push((await planned.read(0))[0]);
      }
      const values = await Promise.all(params.map((p) => p.data()));
      step.dispose();
      optimizer.dispose();
      for (const p of params) p.dispose();
      return { timed, losses, values };
    };
    const builtIn = await train('off');
    expect(builtIn.timed).toBe(0);
    const tuned = await train('tune');
    expect(tuned.timed).toBeGreaterThanOrEqual(6); // several variants of several shapes
    const choices = sf.autotune().choices;
    const keys = Object.keys(choices);
    expect(keys.some((k) => k.startsWith('conv2d_forward '))).toBe(true);
    expect(keys.some((k) => k.startsWith('conv2d_backward_input '))).toBe(true);
    expect(keys.some((k) => k.startsWith('matmul '))).toBe(true);
    for (const { variant, timings } of Object.values(choices)) {
      expect(timings[0].variant).toEqual({});
      for (const t of timings) expect(t.ms).toBeGreaterThanOrEqual(0);
      const kept = timings.find((t) => JSON.stringify(t.variant) === JSON.stringify(variant))!;
      expect(kept.ms).toBeLessThanOrEqual(timings[0].ms); // the built-in unless something beat it
    }
    expectAllClose(tuned.losses, builtIn.losses, { rtol: 1e-4, atol: 1e-5 });
    tuned.values.forEach((v, k) => expectAllClose(v, builtIn.values[k], { rtol: 1e-3, atol: 1e-5 }));

    // The same shapes again: the choices are made, nothing is timed.
    const again = await train('tune');
    expect(again.timed).toBe(0);
    // And they persist under this adapter: a new process would read them back.
    const reread = await Tuning.load(runtime().tuning.adapter, 'cached');
    for (const [key, { variant }] of Object.entries(choices)) expect(reread.chosen(key)).toEqual(variant);
    x.dispose();
    y.dispose();
  });

  test('a broken or foreign store costs only the choices', async () => {
    const previous = process.env.SHADERFLOW_CACHE_DIR;
    process.env.SHADERFLOW_CACHE_DIR = await mkdtemp(join(tmpdir(), 'shaderflow-tuning-'));
    try {
      const path = join(process.env.SHADERFLOW_CACHE_DIR, 'tuning.json');
      await writeFile(path, '{ not json');
      const broken = await Tuning.load('some adapter', 'tune');
      expect(broken.choices).toEqual({});
      broken.record('matmul {"m":1}', [{ variant: {}, ms: [2, 2] }, { variant: { tileRows: 4 }, ms: [1, 1] }]);
      await broken.save();
      const saved = JSON.parse(await readFile(path, 'utf8')) as Record<string, Record<string, { variant: Variant }>>;
      expect(saved['some adapter']['matmul {"m":1}'].variant).toEqual({ tileRows: 4 });
      // Another adapter's choices are not this one's.
      expect((await Tuning.load('another adapter', 'cached')).choices).toEqual({});
      expect(defaultStore().where).toBe(path);
    } finally {
      process.env.SHADERFLOW_CACHE_DIR = previous;
    }
  });

  test('keeps the built-in kernel unless a variant beats it clearly', () => {
    const tuning = new Tuning('test', 'tune', {}, { where: 'memory', load: async () => ({}), save: async () => undefined });
    expect(tuning.record('a', [{ variant: {}, ms: [1, 1.1] }, { variant: { tileRows: 4 }, ms: [0.95, 0.96] }])).toEqual({}); // too small a win
    expect(tuning.record('b', [{ variant: {}, ms: [1, 1] }, { variant: { tileRows: 4 }, ms: [0.5, 1.2] }])).toEqual({}); // not in every trial
    expect(tuning.record('c', [{ variant: {}, ms: [1, 2] }, { variant: { tileRows: 4 }, ms: [0.5, 0.6] }, { variant: { tileRows: 8 }, ms: [0.4, 0.9] }])).toEqual({ tileRows: 8 });
    expect(tuning.choices.c.timings.map((t) => t.ms)).toEqual([1, 0.5, 0.4]);
    expect(tuning.chosen('c')).toEqual({ tileRows: 8 });
    tuning.mode = 'off';
    expect(tuning.chosen('c')).toBeUndefined();
  });

  test('refuses an unknown mode, naming the known ones', () => {
    expect(() => sf.autotune('fast' as never)).toThrow(/sf.autotune: expected one of tune, cached, off, got "fast"/);
  });
});
