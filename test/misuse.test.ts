// Mistakes a careless user makes and inputs a hostile one gives, through the public API only:
// each ends in an Error naming what was expected and what was given (or in the right result),
// nothing corrupts a model, and no tensor or GPU buffer is left behind.

import * as sf from 'shaderflow';
import { beforeAll, describe, expect, test } from 'vitest';

beforeAll(async () => {
  await sf.ready();
});

function mlp(inputShape?: number[]): sf.Sequential {
  const model = sf.sequential([
    sf.layers.dense({ units: 5, activation: 'relu', ...(inputShape ? { inputShape } : {}) }),
    sf.layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

function data(n: number, features = 4): { x: sf.Tensor; y: sf.Tensor } {
  const x = sf.tensor(Float32Array.from({ length: n * features }, (_, i) => Math.sin(i)), [n, features]);
  const y = sf.tensor(Int32Array.from({ length: n }, (_, i) => i % 3), [n], 'int32');
  return { x, y };
}

/** Runs `body` and checks it leaves no tensor and no GPU buffer behind. */
async function leaksNothing(body: () => Promise<void>): Promise<void> {
  const before = sf.memory();
  await body();
  // A read submits the open work, so buffers freed after their submit (uniforms) are back.
  const flush = sf.scalar(0);
  await flush.data();
  flush.dispose();
  const after = sf.memory();
  expect(after.numTensors).toBe(before.numTensors);
  expect(after.numBytesInUse).toBeLessThanOrEqual(before.numBytesInUse);
}

const fitArgs = { epochs: 1, batchSize: 4, verbose: 0 as const };

describe('a built model refuses inputs of another shape', () => {
  test('declared by inputShape: fit, evaluate and predict name the expected and the given shape', async () => {
    const model = mlp([4]);
    const { x, y } = data(10, 5);
    await leaksNothing(async () => {
      await expect(model.fit(x, y, fitArgs)).rejects.toThrow("model 'sequential'.fit: expected x of shape [null, 4], got [10, 5]");
      await expect(model.evaluate(x, y)).rejects.toThrow('.evaluate: expected x of shape [null, 4], got [10, 5]');
      expect(() => model.predict(x)).toThrow('.predict: expected x of shape [null, 4], got [10, 5]');
      const flat = sf.tensor([1, 2, 3, 4]);
      expect(() => model.predict(flat)).toThrow('expected x of shape [null, 4], got [4]');
      flat.dispose();
    });
    expect(model.inputShape).toEqual([4]);
    model.dispose();
    x.dispose();
    y.dispose();
  });

  test('taken from the first data: a later fit or dataset batch of another shape is refused', async () => {
    const model = mlp();
    const a = data(8, 4);
    await model.fit(a.x, a.y, fitArgs);
    const b = data(8, 6);
    await leaksNothing(async () => {
      await expect(model.fit(b.x, b.y, fitArgs)).rejects.toThrow('expected x of shape [null, 4], got [8, 6]');
      const batches = sf.data.fromTensorSlices({ xs: b.x, ys: b.y }).batch(4);
      await expect(model.fit(batches, { verbose: 0 })).rejects.toThrow(/expected .*x of shape \[null, 4\], got \[4, 6\]/);
    });
    for (const t of [a.x, a.y, b.x, b.y]) t.dispose();
    model.dispose();
  });
});

describe('empty data is refused, saying where it came from', () => {
  test('x of no examples, a dataset of no batches, an empty batched dataset', async () => {
    const model = mlp([4]);
    const { x, y } = data(0);
    const some = data(8);
    // The weights, the optimizer's slots and the metrics accumulators exist before counting.
    await model.fit(some.x, some.y, { ...fitArgs, validationData: [some.x, some.y] });
    await leaksNothing(async () => {
      await expect(model.fit(x, y, fitArgs)).rejects.toThrow('.fit: x is empty (shape [0, 4]); expected at least one example');
      await expect(model.evaluate(x, y)).rejects.toThrow('.evaluate: x is empty (shape [0, 4])');
      const none = sf.data.fromTensorSlices({ xs: some.x, ys: some.y }).batch(4).take(0);
      await expect(model.fit(none, { verbose: 0 })).rejects.toThrow(/the dataset, in epoch 1, yielded no batches; expected at least one \[x, y\] batch/);
      await expect(model.evaluate(none)).rejects.toThrow(/the dataset yielded no batches/);
      await expect(model.fit(some.x, some.y, { ...fitArgs, validationData: none })).rejects.toThrow(/validationData yielded no batches/);
      const empty = sf.data.fromTensorSlices({ xs: x, ys: y }).batch(4);
      await expect(model.fit(empty, { verbose: 0 })).rejects.toThrow(/yielded no batches/);
    });
    // predict of no examples is no error: it returns no predictions, as TF.js.
    const p = model.predict(x);
    expect(p.shape).toEqual([0, 3]);
    p.dispose();
    for (const t of [x, y, some.x, some.y]) t.dispose();
    model.dispose();
  });
});

describe('use after dispose', () => {
  test('every public method of a disposed model says it was disposed', async () => {
    const model = mlp([4]);
    const { x, y } = data(8);
    model.dispose();
    const said = /the model was disposed and can no longer be used/;
    expect(() => model.predict(x)).toThrow(said);
    await expect(model.fit(x, y, fitArgs)).rejects.toThrow(said);
    await expect(model.evaluate(x, y)).rejects.toThrow(said);
    await expect(model.save({ save: async () => ({}) } as unknown as sf.IOHandler)).rejects.toThrow(said);
    expect(() => model.summary(undefined, undefined, () => undefined)).toThrow(said);
    expect(() => model.compile({ loss: 'meanSquaredError' })).toThrow(said);
    expect(() => model.add(sf.layers.dense({ units: 1 }))).toThrow(said);
    expect(model.isDisposed).toBe(true);
    model.dispose(); // twice is fine
    x.dispose();
    y.dispose();
  });

  test('model.dispose() during fit stops it at the next batch with that message, and frees the model then', async () => {
    const before = sf.memory();
    const model = mlp([4]);
    const { x, y } = data(64);
    const history = model.fit(x, y, { epochs: 20, batchSize: 4, verbose: 0, callbacks: { onBatchEnd: (b) => void (b === 3 && model.dispose()) } });
    await expect(history).rejects.toThrow("model 'sequential'.fit: the model was disposed during fit");
    x.dispose();
    y.dispose();
    expect(sf.memory().numTensors).toBe(before.numTensors);
  });

  test('disposing x during fit stops it and leaves the weights as the finished steps made them', async () => {
    const model = mlp([4]);
    const { x, y } = data(64);
    const history = model.fit(x, y, { epochs: 20, batchSize: 4, verbose: 0, callbacks: { onBatchEnd: (b) => void (b === 2 && x.dispose()) } });
    await expect(history).rejects.toThrow("model 'sequential'.fit: x was disposed during fit");
    expect(x.isDisposed).toBe(true);
    await expect(x.data()).rejects.toThrow(/was disposed/);
    for (const w of model.weights) expect((await w.tensor.data()).every(Number.isFinite)).toBe(true);
    y.dispose();
    model.dispose();
  });

  test('a disposed tensor is named by the op or method that gets it', async () => {
    const t = sf.tensor([1, 2, 3]);
    t.dispose();
    expect(() => sf.relu(t)).toThrow(/sf\.relu: .*disposed/);
    await expect(t.data()).rejects.toThrow(/disposed/);
    await expect(t.array()).rejects.toThrow(/disposed/);
  });
});

describe('non-finite data is refused, naming the tensor, the sample and the value', () => {
  const poisoned = (n: number, at: number, value: number): { x: sf.Tensor; y: sf.Tensor } => {
    const values = Float32Array.from({ length: n * 4 }, (_, i) => Math.sin(i));
    values[at] = value;
    return { x: sf.tensor(values, [n, 4]), y: sf.tensor(Int32Array.from({ length: n }, (_, i) => i % 3), [n], 'int32') };
  };

  test('tensors given to fit are checked once, before any step, and the weights stay as they were', async () => {
    const model = mlp([4]);
    model.build([4]);
    const before = await Promise.all(model.weights.map((w) => w.tensor.data()));
    for (const [value, at, index] of [[NaN, 4 * 7 + 2, '[7, 2]'], [Infinity, 0, '[0, 0]'], [-Infinity, 4 * 19 + 3, '[19, 3]']] as const) {
      const { x, y } = poisoned(20, at, value);
      await leaksNothing(async () => {
        await expect(model.fit(x, y, fitArgs)).rejects.toThrow(`.fit: x holds ${value} at index ${index} (sample ${index.slice(1).split(',')[0]}); expected finite values only`);
      });
      x.dispose();
      y.dispose();
    }
    const after = await Promise.all(model.weights.map((w) => w.tensor.data()));
    after.forEach((w, k) => expect(Array.from(w)).toEqual(Array.from(before[k])));
    // Float labels and validation data too; checkInputs: false trains on them as they are.
    const regression = sf.sequential([sf.layers.dense({ units: 1, inputShape: [4] })]);
    regression.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const { x } = poisoned(8, 0, 1);
    const y = sf.tensor([0, 1, 2, NaN, 4, 5, 6, 7], [8, 1]);
    await expect(regression.fit(x, y, fitArgs)).rejects.toThrow('.fit: y holds NaN at index [3, 0] (sample 3)');
    const bad = poisoned(4, 5, NaN);
    const classes = sf.tensor(new Int32Array(8), [8], 'int32');
    await expect(model.fit(x, classes, { ...fitArgs, validationData: [bad.x, bad.y] })).rejects.toThrow('validationData[0] holds NaN at index [1, 1]');
    classes.dispose();
    const history = await regression.fit(x, y, { ...fitArgs, checkInputs: false, terminateOnNaN: false });
    expect(Number.isNaN(history.history.loss[0])).toBe(true);
    for (const t of [x, y, bad.x, bad.y]) t.dispose();
    regression.dispose();
    model.dispose();
  });

  test('a GPU-resident dataset is checked once; a streamed one by the step, which stops at the batch', async () => {
    const model = mlp([4]);
    const { x, y } = poisoned(40, 4 * 13 + 1, Infinity);
    const resident = sf.data.fromTensorSlices({ xs: x, ys: y }).batch(4);
    await expect(model.fit(resident, { verbose: 0 })).rejects.toThrow(/the dataset's component \S*xs holds Infinity at index \[13, 1\] \(sample 13\)/);
    // A generator's batches reach the step one by one: the step records the find.
    let made = 0;
    const streamed = sf.data.generator(function* () {
      for (let b = 0; b < 40; b++) {
        made++;
        const values = Float32Array.from({ length: 16 }, (_, i) => i / 16);
        if (b === 2) values[4 * 3 + 2] = NaN;
        yield { xs: sf.tensor(values, [4, 4]), ys: sf.tensor(new Int32Array([0, 1, 2, 0]), [4], 'int32') };
      }
    });
    await expect(model.fit(streamed, { verbose: 0, epochs: 3 })).rejects.toThrow(/a batch of x from the dataset holds NaN at sample 3 \(element 2 of it\) of batch 3 in epoch 1; expected finite values only/);
    expect(made).toBeLessThan(40); // stopped within the epoch, a few batches after the bad one
    x.dispose();
    y.dispose();
    model.dispose();
  });

  test('the loss guard catches an infinite loss as well as NaN, and stops at the batch', async () => {
    const model = sf.sequential([sf.layers.dense({ units: 1, inputShape: [1], kernelInitializer: 'ones' })]);
    model.compile({ optimizer: sf.optimizers.sgd({ learningRate: 0 }), loss: 'meanSquaredError' });
    // (1 + 2e19)² overflows float32 while the gradient, 2·(1 + 2e19)·1, does not.
    const x = sf.tensor(new Float32Array(64).fill(1), [64, 1]);
    const y = sf.tensor(new Float32Array(64).fill(-2e19), [64, 1]);
    let batches = 0;
    await expect(model.fit(x, y, { batchSize: 1, verbose: 0, callbacks: { onBatchEnd: () => void batches++ } })).rejects.toThrow(/the loss became Infinity in epoch 1, by batch \d+/);
    expect(batches).toBeLessThan(64);
    for (const t of [x, y]) t.dispose();
    model.dispose();
  });
});

describe('model files are checked exactly', () => {
  test('a weights binary longer or shorter than the manifest, a wrong dtype or shape: each refused, nothing leaked', async () => {
    const model = mlp([4]);
    model.build([4]);
    let saved: sf.ModelArtifacts | null = null;
    await model.save({ save: async (a: sf.ModelArtifacts) => ((saved = a), { modelArtifactsInfo: {} }) } as unknown as sf.IOHandler);
    const artifacts = saved! as sf.ModelArtifacts;
    const bytes = new Uint8Array(artifacts.weightData as ArrayBuffer);
    const load = (changes: Partial<sf.ModelArtifacts>) => sf.loadModel({ load: async () => ({ ...artifacts, ...changes }) } as unknown as sf.IOHandler);
    const longer = new Uint8Array(bytes.length + 64);
    longer.set(bytes);
    await leaksNothing(async () => {
      await expect(load({ weightData: longer.buffer })).rejects.toThrow(`the weight data holds ${bytes.length + 64} bytes, but the manifest lists ${bytes.length} (64 bytes too many)`);
      await expect(load({ weightData: bytes.slice(0, bytes.length - 4).buffer })).rejects.toThrow('the weight data ends before weight');
      const specs = artifacts.weightSpecs.map((w) => ({ ...w }));
      specs[0] = { ...specs[0], dtype: 'int32' as 'float32' };
      await expect(load({ weightSpecs: specs })).rejects.toThrow(/weight '\S+' is int32; only float32 weights are supported/);
      // The same bytes, the kernel's shape transposed: the count agrees, the shape does not.
      const transposed = artifacts.weightSpecs.map((w, k) => (k === 0 ? { ...w, shape: [...w.shape].reverse() } : w));
      await expect(load({ weightSpecs: transposed })).rejects.toThrow(/has shape \[5, 4\] in the manifest, but the topology's layer needs \[4, 5\]/);
    });
    const back = await load({});
    expect(back.countParams()).toBe(model.countParams());
    back.dispose();
    model.dispose();
  });
});

describe('ops at the door', () => {
  test('an op whose result has no elements returns it empty, as TF.js, instead of an internal message', async () => {
    const empty = sf.zeros([0, 3]);
    for (const y of [sf.softmax(empty), sf.relu(empty), sf.add(empty, empty), sf.mul(empty, 2)]) {
      expect(y.shape).toEqual([0, 3]);
      expect(Array.from(await y.data())).toEqual([]);
      y.dispose();
    }
    empty.dispose();
  });

  test('empty reductions and an empty inner dimension give what the arithmetic says, not a compile error', async () => {
    await leaksNothing(async () => {
      const x = sf.zeros([0, 2, 3]);
      const [summed, averaged] = [sf.sum(x, 0), sf.mean(x, [0])];
      expect(summed.shape).toEqual([2, 3]);
      expect(Array.from(await summed.data())).toEqual([0, 0, 0, 0, 0, 0]);
      // 0 / 0, as TensorFlow and NumPy (TF.js says 0).
      expect(Array.from(await averaged.data()).every(Number.isNaN)).toBe(true);
      const [a, b, bias] = [sf.zeros([3, 0]), sf.zeros([0, 2]), sf.tensor([1, -2])];
      const product = sf.fused.matMul({ a, b, bias, activation: 'relu' });
      expect(product.shape).toEqual([3, 2]);
      expect(Array.from(await product.data())).toEqual([1, 0, 1, 0, 1, 0]);
      const ints = sf.tensor(new Int32Array([7, -7, 3]), [3], 'int32');
      const sums = sf.sum(ints);
      expect(Array.from(await sums.data())).toEqual([3]);
      const quotients = sf.div(ints, 0);
      expect(Array.from(await quotients.data())).toEqual([0, 0, 0]);
      for (const t of [x, summed, averaged, a, b, bias, product, ints, sums, quotients]) t.dispose();
    });
  });

  test('every op refuses bad arguments as sf.<op>, in the terms the user gave them', async () => {
    await leaksNothing(async () => {
      const [a, b, ints, empty] = [sf.zeros([2, 3]), sf.zeros([4, 5]), sf.tensor(new Int32Array([1, 2]), [2], 'int32'), sf.zeros([0, 3])];
      const indices = sf.tensor(new Int32Array([0]), [1], 'int32');
      expect(() => sf.matMul(a, b)).toThrow('sf.matMul: inner dimensions must agree: [2, 3] · [4, 5] has 3 and 4');
      expect(() => sf.add(a, b)).toThrow(/^sf\.add: Shapes \[2,3\] and \[4,5\] cannot be broadcast/);
      expect(() => sf.sum(a, 2)).toThrow('sf.sum: expected axes in [-2, 2) for shape [2,3], got 2');
      expect(() => sf.conv2d(a, b, 1, 'same')).toThrow('sf.conv2d: expected x of rank 4');
      const [flat, image] = [sf.zeros([1, 1, 4, 1]), sf.zeros([1, 4, 4, 1])];
      expect(() => sf.maxPool(flat, 2, 1, 'valid')).toThrow("sf.maxPool: along the height, a window of 2 does not fit in an input of 1 with 'valid' padding");
      expect(() => sf.avgPool(image, null as never, 1, 'same')).toThrow('sf.avgPool: filterSize must be a positive integer or a pair of them, got null');
      expect(() => sf.add(ints, 0.5)).toThrow('sf.add: an int32 tensor takes integer numbers only, got 0.5');
      expect(() => sf.reshape(empty, [0, -1])).toThrow('sf.reshape: cannot infer the −1 in [0, -1] when the other dimensions hold 0 elements');
      expect(() => sf.gather(empty, indices)).toThrow('sf.gather: x has no rows (shape [0, 3]), so none of the 1 indices can pick one');
      expect(() => sf.zeros([2], 'bool' as never)).toThrow(`sf.zeros: dtype must be 'float32' or 'int32', got "bool"`);
      expect(() => sf.losses.meanSquaredError(a, b)).toThrow('sf.losses.meanSquaredError: labels [2, 3] must have the predictions');
      for (const t of [a, b, ints, empty, indices, flat, image]) t.dispose();
    });
    // sf.dropout keeps nothing of its own: the result is the one new tensor.
    const x = sf.ones([4]);
    const before = sf.memory().numTensors;
    const y = sf.dropout(x, 0.5);
    expect(sf.memory().numTensors).toBe(before + 1);
    y.dispose();
    x.dispose();
  });
});
