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
