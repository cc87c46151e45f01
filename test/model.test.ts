// The Keras-style model API as a user meets it: summary, compile, fit with its History and
// callbacks, evaluate, predict, configuration errors, and models moving to and from TF.js.

import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sf from 'shaderflow';
import { beforeAll, describe, expect, test } from 'vitest';
import { irisMlp, seedCnn } from '../scripts/seed-models.js';
import { runtime } from '../src/gpu/device.js';
import { updateGroupSize } from '../src/shaders/optimizer.js';
import { expectAllClose, freshSeed, randomUniform } from './expect-all-close.js';

beforeAll(async () => {
  await sf.ready();
  await tf.setBackend('cpu');
});

/** Three separable blobs in 4 dimensions: a problem a small MLP learns in a few epochs. */
function blobs(n: number, seed: number): { x: sf.Tensor; y: sf.Tensor } {
  const noise = randomUniform(n * 4, seed, -0.4, 0.4);
  const x = new Float32Array(n * 4);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = (i * 7 + seed) % 3;
    y[i] = c;
    for (let j = 0; j < 4; j++) x[i * 4 + j] = (j === c ? 1.5 : 0) + noise[i * 4 + j];
  }
  return { x: sf.tensor(x, [n, 4]), y: sf.tensor(y, [n], 'int32') };
}

describe('summary', () => {
  test("prints the seed CNN with Keras's parameter counts", () => {
    const model = seedCnn();
    const lines: string[] = [];
    model.summary(undefined, undefined, (l) => lines.push(l));
    const text = lines.join('\n');
    expect(text).toContain('Total params: 336,394');
    expect(text).toContain('Trainable params: 336,394');
    expect(text).toMatch(/conv2d\S* \(Conv2D\) +\[None, 28, 28, 16\] +416/);
    expect(text).toMatch(/max_pooling2d\S* \(MaxPooling2D\) +\[None, 2, 2, 128\] +0/);
    expect(text).toMatch(/flatten\S* \(Flatten\) +\[None, 512\] +0/);
    expect(text).toMatch(/dense\S* \(Dense\) +\[None, 128\] +65,664/);
    expect(model.countParams()).toBe(336394);
    model.dispose();
  });
});

describe('fit, evaluate, predict', () => {
  test('an MLP learns separable data; History, callbacks and the last partial batch behave as in Keras', async () => {
    const seed = freshSeed();
    const { x, y } = blobs(250, seed); // 200 for training (6 batches of 32 and one of 8), 50 for validation
    const model = irisMlp(seed);
    model.compile({ optimizer: sf.optimizers.adam({ learningRate: 0.02 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const seen = { epochBegin: 0, epochEnd: [] as sf.Logs[], batches: 0, batchLogs: [] as sf.Logs[] };
    const history = await model.fit(x, y, {
      epochs: 8, batchSize: 32, validationSplit: 0.2, verbose: 0, seed,
      callbacks: {
        onEpochBegin: () => void seen.epochBegin++,
        onEpochEnd: (_, logs) => void seen.epochEnd.push(logs!),
        onBatchEnd: (_, logs) => {
          seen.batches++;
          seen.batchLogs.push(logs!);
        },
      },
    });
    expect(history.epoch).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Object.keys(history.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    expect(history.history.accuracy.at(-1)).toBeGreaterThan(0.9);
    expect(history.history.val_accuracy.at(-1)).toBeGreaterThan(0.9);
    expect(history.history.loss.at(-1)).toBeLessThan(history.history.loss[0]);
    expect(seen.epochBegin).toBe(8);
    expect(seen.epochEnd).toEqual(history.epoch.map((e) => Object.fromEntries(Object.entries(history.history).map(([k, v]) => [k, v[e]]))));
    expect(seen.batches).toBe(8 * 7);
    expect(seen.batchLogs.every((l) => l.size === 32 || (l.size === 8 && l.batch === 6))).toBe(true);
    expect(seen.batchLogs.some((l) => Number.isFinite(l.loss))).toBe(true); // the ring delivered values while training ran

    const [loss, accuracy] = (await model.evaluate(x, y, { batchSize: 64 })) as sf.Tensor[];
    expect((await accuracy.data())[0]).toBeGreaterThan(0.9);
    expect((await loss.data())[0]).toBeGreaterThan(0);
    const profile = await model.profile(x, y);
    expect(profile.rows.some((r) => /^matmul(_sg)?_bias_relu(_dropout)?$/.test(r.kernel) && r.dispatches === 1)).toBe(true);
    // All four parameters in as few Adam dispatches as the device's storage bindings allow: one on lavapipe's 16.
    const updates = Math.ceil(4 / updateGroupSize(2, runtime().limits.maxStorageBuffersPerShaderStage));
    expect(profile.rows.filter((r) => r.kernel === 'adam').map((r) => r.dispatches)).toEqual([updates]);
    // The loss kernel's gradient comes already scaled by the mean's 1/batch: no dispatch scales it.
    expect(profile.rows.some((r) => r.kernel.startsWith('mul_scalar'))).toBe(false);
    // Dropout's backward and the Dense layer's relu's are the epilogue of the product dz·Wᵀ that
    // brings the gradient back from the next layer.
    expect(profile.rows.some((r) => /^matmul(_sg)?_tb_dropout_relu_grad$/.test(r.kernel))).toBe(true);
    expect(profile.rows.some((r) => r.kernel.startsWith('dropout_backward'))).toBe(false);
    // The loss kernel adds the batch to the metrics accumulator itself (evaluate's step too: its
    // accuracy above comes from the same fused kernel, kept although no output of it is read).
    expect(profile.rows.some((r) => r.kernel === 'softmax_cross_entropy_sparse_metrics')).toBe(true);
    expect(profile.rows.some((r) => r.kernel.startsWith('training_metrics'))).toBe(false);
    // The Dense relu's kernel applies the Dropout after it: no dropout dispatch of its own.
    expect(profile.rows.some((r) => r.kernel === 'matmul_bias_relu_dropout')).toBe(true);
    expect(profile.rows.some((r) => r.kernel === 'dropout_forward')).toBe(false);
    // Each Dense layer's weight and bias gradients come from one dispatch.
    expect(profile.rows.find((r) => r.kernel === 'matmul_ta_bias_gradient')?.dispatches).toBe(2);
    expect(profile.rows.some((r) => r.kernel.startsWith('bias_gradient'))).toBe(false);
    expect(profile.rows.some((r) => r.kernel.startsWith('activation_backward'))).toBe(false);
    expect(String(profile)).toMatch(/total +\d+ +[\d.]+\nmemory: /);
    const probs = model.predict(x, { batchSize: 48 });
    expect(probs.shape).toEqual([250, 3]);
    const p = await probs.data();
    for (let i = 0; i < 250; i++) expect(p[3 * i] + p[3 * i + 1] + p[3 * i + 2]).toBeCloseTo(1, 5);
    // Predicting on new tensors of a known shape reuses the plans: nothing grows.
    const again = async () => {
      const fresh = sf.tensor(await x.data(), x.shape);
      const out = model.predict(fresh, { batchSize: 48 });
      expectAllClose(await out.data(), p, { atol: 1e-6 });
      fresh.dispose();
      out.dispose();
    };
    await again();
    const held = sf.memory().numBytesHeld;
    for (let k = 0; k < 3; k++) await again();
    expect(sf.memory().numBytesHeld).toBe(held);
    for (const t of [x, y, loss, accuracy, probs]) t.dispose();
    model.dispose();
  });

  test('trains from a dataset of [x, y] batches too, inferring the input shape from the first batch', async () => {
    const { x, y } = blobs(96, freshSeed());
    const xs = await x.data();
    const ys = await y.data();
    const batches = function* () {
      for (let b = 0; b < 3; b++) {
        yield [sf.tensor(xs.slice(b * 32 * 4, (b + 1) * 32 * 4), [32, 4]), sf.tensor(ys.slice(b * 32, (b + 1) * 32), [32], 'int32')];
      }
    };
    const model = sf.sequential([sf.layers.dense({ units: 8, activation: 'tanh' }), sf.layers.dense({ units: 3, activation: 'softmax' })]);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['acc'] });
    await model.fit({ [Symbol.iterator]: batches }, { epochs: 1, verbose: 0 });
    expect(model.inputShape).toEqual([4]);
    const before = sf.memory(); // the weights, the optimizer's state and the metrics accumulator exist now
    const history = await model.fit({ [Symbol.iterator]: batches }, { epochs: 2, verbose: 0 });
    expect(Object.keys(history.history).sort()).toEqual(['acc', 'loss']);
    expect(sf.memory().numTensors).toBe(before.numTensors); // fit disposed every batch it consumed
    expect(sf.memory().numBytesHeld).toBe(before.numBytesHeld);
    x.dispose();
    y.dispose();
    model.dispose();
  });

  test('a tf.data pipeline over tensors trains GPU-resident, exactly as iterating it would', async () => {
    const seed = freshSeed();
    const { x, y } = blobs(100, seed);
    const pipeline = () => sf.data.fromTensorSlices([x, y]).shuffle(50, seed).batch(16).map(([a, b]) => [sf.mul(a as sf.Tensor, 2), b]);
    const resident = irisMlp(seed);
    const streamed = irisMlp(seed);
    for (const model of [resident, streamed]) model.compile({ optimizer: sf.optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => void lines.push(line);
    try {
      await resident.fit(pipeline(), { epochs: 2, verbose: 2 });
    } finally {
      console.log = log;
    }
    expect(lines.join('\n')).toMatch(/the dataset is GPU-resident \(100 rows, [\d.]+ MiB uploaded once\)/);
    // Hiding residentSource makes fit iterate the Dataset and copy each batch in.
    const dataset = pipeline();
    await streamed.fit({ [Symbol.asyncIterator]: () => dataset[Symbol.asyncIterator]() }, { epochs: 2, verbose: 0 });
    for (const [k, w] of resident.weights.entries()) expectAllClose(await w.tensor.data(), await streamed.weights[k].tensor.data(), { atol: 1e-6, rtol: 1e-5 });
    x.dispose();
    y.dispose();
    resident.dispose();
    streamed.dispose();
  });

  test('categorical, binary cross-entropy and mean squared error train too', async () => {
    const { x, y } = blobs(120, freshSeed());
    const labels = await y.data();
    const onehot = sf.tensor(Array.from(labels, (c) => [0, 1, 2].map((k) => Number(k === c))));
    const binary = sf.tensor(Float32Array.from(labels, (c) => Number(c === 1)), [120, 1]);
    const target = sf.tensor(Float32Array.from(labels, (c) => c / 2), [120, 1]);
    const cases: [string, sf.Layer, sf.Tensor, string][] = [
      ['categoricalCrossentropy', sf.layers.dense({ units: 3, activation: 'softmax' }), onehot, 'accuracy'],
      ['binaryCrossentropy', sf.layers.dense({ units: 1, activation: 'sigmoid' }), binary, 'accuracy'],
      ['meanSquaredError', sf.layers.dense({ units: 1 }), target, 'loss'],
    ];
    for (const [loss, last, labelsOf, watch] of cases) {
      const model = sf.sequential([sf.layers.dense({ units: 16, activation: 'relu', inputShape: [4] }), last]);
      model.compile({ optimizer: sf.optimizers.adam({ learningRate: 0.05 }), loss, metrics: ['accuracy'] });
      const history = await model.fit(x, labelsOf, { epochs: 12, batchSize: 16, verbose: 0 });
      if (watch === 'accuracy') expect(history.history.accuracy.at(-1), loss).toBeGreaterThan(0.9);
      else expect(history.history.loss.at(-1), loss).toBeLessThan(0.05);
      model.dispose();
    }
    for (const t of [x, y, onehot, binary, target]) t.dispose();
  }, 180_000);

  test('a model whose output is its input (one Dropout, the identity in inference) predicts the input', async () => {
    const model = sf.sequential([sf.layers.dropout({ rate: 0.3, inputShape: [3] })]);
    const x = sf.tensor([[1, 2, 3], [4, 5, 6]]);
    const y = model.predict(x);
    expect(Array.from(await y.data())).toEqual([1, 2, 3, 4, 5, 6]);
    for (const t of [x, y, model]) t.dispose();
  });

  test('early stopping ends training when the monitored value stops improving', async () => {
    const { x, y } = blobs(64, freshSeed());
    const model = irisMlp();
    model.compile({ optimizer: sf.optimizers.sgd({ learningRate: 0 }), loss: 'sparseCategoricalCrossentropy' });
    const stopper = sf.callbacks.earlyStopping({ monitor: 'loss', patience: 1 });
    const history = await model.fit(x, y, { epochs: 20, verbose: 0, shuffle: false, callbacks: [stopper] });
    expect(history.epoch.length).toBeLessThan(20);
    x.dispose();
    y.dispose();
    model.dispose();
  });

  test('a diverging loss stops training with an Error naming the epoch and batch', async () => {
    const { x, y } = blobs(64, freshSeed());
    const model = irisMlp();
    model.compile({ optimizer: sf.optimizers.sgd({ learningRate: 1e38 }), loss: 'sparseCategoricalCrossentropy' });
    await expect(model.fit(x, y, { epochs: 5, verbose: 0 })).rejects.toThrow(/the loss became NaN in epoch 1(, by batch \d+)?: .*terminateOnNaN/);
    expect(model.fitting).toBe(false);
    x.dispose();
    y.dispose();
    model.dispose();
  });
});

describe("forwardWeights: 'float16'", () => {
  test('the forward products read half copies of the weights; predictions and training stay within half rounding of float32', async () => {
    const model = sf.sequential({
      layers: [
        sf.layers.conv2d({ inputShape: [8, 8, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
        sf.layers.maxPooling2d({ poolSize: 2 }),
        sf.layers.flatten(),
        sf.layers.dense({ units: 12, activation: 'relu' }),
        sf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    const n = 24;
    const seed = freshSeed();
    const x = sf.tensor(randomUniform(n * 64, seed, 0, 1), [n, 8, 8, 1]);
    const y = sf.tensor(Int32Array.from({ length: n }, (_, i) => i % 3), [n], 'int32');
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const full = model.predict(x) as sf.Tensor;
    const expected = await full.data();
    expect(() => model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', forwardWeights: 'half' as 'float16' })).toThrow(
      "forwardWeights must be 'float32' or 'float16', got \"half\"",
    );
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', forwardWeights: 'float16' });
    const half = model.predict(x) as sf.Tensor;
    const got = await half.data();
    // Each weight moves by at most 2^-11 of itself; the softmax outputs by far less than 1e-2.
    expectAllClose(got, expected, { rtol: 0, atol: 1e-2 });
    expect(got.some((v, i) => v !== expected[i])).toBe(true);
    const profile = await model.profile(x, y);
    const kernels = profile.rows.map((r) => r.kernel);
    expect(profile.rows.find((r) => r.kernel === 'to_half')?.dispatches).toBe(3);
    expect(kernels.some((k) => /^conv2d_hf_bias_relu$/.test(k))).toBe(true);
    expect(kernels.some((k) => /^matmul(_sg)?_hb_bias(_relu)?$/.test(k))).toBe(true);
    // The backward products read the float32 weights.
    expect(kernels.filter((k) => k.includes('backward') || k.includes('_tb')).some((k) => /_h[bf]/.test(k))).toBe(false);
    const history = await model.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0 });
    expect(history.history.loss.every((l) => Number.isFinite(l))).toBe(true);
    expect(model.layers.flatMap((l) => l.weights).every((w) => w.tensor.dtype === 'float32')).toBe(true);
    for (const t of [x, y, full, half]) t.dispose();
    model.dispose();
  });
});

describe('step state', () => {
  test('no shader or pipeline is built after the first step; a new learning rate is one write', async () => {
    const { x, y } = blobs(64, freshSeed());
    const model = irisMlp(); // with dropout, so every step draws new masks
    const optimizer = sf.optimizers.adam({ learningRate: 0.01 });
    model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const pipelines = runtime().pipelines;
    const seen: number[] = [];
    let frozen: Float32Array | null = null;
    await model.fit(x, y, {
      epochs: 3, batchSize: 8, verbose: 0,
      callbacks: [{
        onBatchEnd: () => void seen.push(pipelines.compiled),
        onEpochEnd: async (epoch) => {
          if (epoch !== 1) return;
          optimizer.learningRate = 0;
          frozen = await model.layers[0].weights[0].tensor.data() as Float32Array;
        },
      }],
    });
    expect(seen.length).toBe(24);
    expect(new Set(seen.slice(1)).size).toBe(1);
    expect(pipelines.compiled).toBe(seen[0]);
    // With learning rate 0 the last epoch leaves the weights as they were (Adam's moments still move).
    expect(await model.layers[0].weights[0].tensor.data()).toEqual(frozen);
    expect(optimizer.iterations).toBe(24);
    expect(model.trainSteps).toBe(24);
    expect(() => sf.optimizers.adam({ learningRate: -1 })).toThrow('adam: learningRate must be a finite number ≥ 0, got -1');
    expect(() => { optimizer.learningRate = Number.NaN; }).toThrow('adam: learningRate must be a finite number ≥ 0, got NaN');
    expect(() => { optimizer.iterations = -1; }).toThrow('adam: iterations must be an integer ≥ 0, got -1');
    x.dispose();
    y.dispose();
    model.dispose();
  });
});

describe('configuration errors are caught early with clear messages', () => {
  test('compile and fit', async () => {
    const { x, y } = blobs(40, 3);
    const model = irisMlp();
    await expect(model.fit(x, y)).rejects.toThrow('the model must be compiled first: call model.compile({ optimizer, loss, metrics })');
    expect(() => model.compile({ loss: 'hinge' })).toThrow(
      "unknown loss 'hinge'; expected one of 'sparseCategoricalCrossentropy', 'categoricalCrossentropy', 'binaryCrossentropy', 'meanSquaredError'",
    );
    expect(() => model.compile({ loss: 'meanSquaredError', optimizer: 'adagrad' })).toThrow("unknown optimizer 'adagrad'; expected an optimizer object or one of 'sgd', 'rmsprop', 'adam'");
    expect(() => model.compile({ loss: 'meanSquaredError', metrics: ['auc'] })).toThrow("unknown metric 'auc'");
    expect(() => sf.layers.dense({ units: 3, activation: 'swish' as never })).toThrow(
      "unknown activation 'swish'; expected one of 'linear', 'relu', 'sigmoid', 'tanh', 'softmax'",
    );
    model.compile({ loss: 'sparseCategoricalCrossentropy' });
    const bad = sf.tensor(new Int32Array(40).fill(3), [40], 'int32');
    await expect(model.fit(x, bad, { verbose: 0 })).rejects.toThrow("label 0 is 3, but 'sparseCategoricalCrossentropy' needs class indices in [0, 3) for the model's 3 output units");
    const first = model.fit(x, y, { epochs: 2, verbose: 0 });
    await expect(model.fit(x, y, { verbose: 0 })).rejects.toThrow('another fit of this model is still running');
    await first;
    const wide = sf.zeros([40, 5]);
    await expect(model.fit(wide, y, { verbose: 0 })).rejects.toThrow("model 'sequential'.fit: expected x of shape [null, 4], got [40, 5]");
    for (const t of [x, y, bad, wide]) t.dispose();
    model.dispose();
  });

  test("a layer whose input does not fit names the layer and both shapes", () => {
    const model = sf.sequential([sf.layers.dense({ units: 4, inputShape: [6] }), sf.layers.conv2d({ filters: 2, kernelSize: 3, name: 'conv_a' })]);
    expect(() => model.build([6])).toThrow("layer 'conv_a' (Conv2D): expected inputs of shape [batch, height, width, channels], got [None, 4]");
    const softmaxless = sf.sequential([sf.layers.dense({ units: 3, inputShape: [2] })]);
    expect(() => softmaxless.compile({ loss: 'categoricalCrossentropy' })).toThrow("expects the last layer to end in a softmax activation");
  });
});

describe('models move between shaderflow and TensorFlow.js', () => {
  test('a model saved by shaderflow loads with tf.loadLayersModel and predicts the same', async () => {
    const model = sf.sequential([
      sf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [8, 8, 1] }),
      sf.layers.averagePooling2d({ poolSize: 2 }),
      sf.layers.conv2d({ filters: 3, kernelSize: 2, strides: 2, activation: 'tanh' }),
      sf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
      sf.layers.flatten(),
      sf.layers.dropout({ rate: 0.3 }),
      sf.layers.dense({ units: 5, activation: 'sigmoid' }),
      sf.layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    const input = randomUniform(6 * 64, freshSeed(), 0, 1);
    const ours = model.predict(sf.tensor(input, [6, 8, 8, 1]));
    const dir = await mkdtemp(join(tmpdir(), 'shaderflow-'));
    await model.save(`file://${dir}`);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    const bin = await readFile(join(dir, json.weightsManifest[0].paths[0]));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
    }));
    const theirs = loaded.predict(tf.tensor(input, [6, 8, 8, 1])) as tf.Tensor;
    expectAllClose(await ours.data(), await theirs.data(), { atol: 1e-4, rtol: 0 });
    // And back: the same files load into shaderflow.
    const again = await sf.loadModel(`file://${dir}`);
    expectAllClose(await again.predict(sf.tensor(input, [6, 8, 8, 1])).data(), await ours.data(), { atol: 1e-6, rtol: 0 });
    model.dispose();
    again.dispose();
  });

  test('a model built and saved by TF.js loads into shaderflow, predicts the same, and keeps training', async () => {
    const tfModel = tf.sequential({
      layers: [
        tf.layers.dense({ units: 12, activation: 'relu', inputShape: [4] }),
        tf.layers.dropout({ rate: 0.1 }),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await tfModel.save(tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const model = await sf.loadModel({ load: async () => artifacts as never });
    const { x, y } = blobs(120, freshSeed());
    const xs = await x.data();
    expectAllClose(await model.predict(x).data(), await (tfModel.predict(tf.tensor(xs, [120, 4])) as tf.Tensor).data(), { atol: 1e-4, rtol: 0 });
    model.compile({ optimizer: sf.optimizers.adam({ learningRate: 0.03 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const history = await model.fit(x, y, { epochs: 10, verbose: 0 });
    expect(history.history.accuracy.at(-1)).toBeGreaterThan(0.9);
    x.dispose();
    y.dispose();
    model.dispose();
  });

  test('loading bad input fails with a clear Error', async () => {
    await expect(sf.loadModel('file:///nonexistent/model.json')).rejects.toThrow("sf.loadModel('file:///nonexistent/model.json'): cannot read /nonexistent/model.json");
    await expect(sf.loadModel('ftp://x')).rejects.toThrow("unknown scheme in 'ftp://x'");
    await expect(sf.loadModel({ load: async () => ({ modelTopology: { class_name: 'Model' }, weightSpecs: [], weightData: new ArrayBuffer(0) }) })).rejects.toThrow(
      "only Sequential models can be loaded, got a 'Model' topology",
    );
  });
});
