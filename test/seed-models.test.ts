// The notebook behind shaderflow, in test size: the Iris MLP exactly as the notebook trains it,
// and a small CNN on real MNIST digits.

import * as sf from 'shaderflow';
import { beforeAll, expect, test } from 'vitest';
import { irisMlp } from '../scripts/seed-models.js';

beforeAll(async () => {
  await sf.ready();
});

test("the seed's Iris MLP reaches ≥ 90% accuracy on the held-out 20%", async () => {
  const { x, y } = await sf.datasets.iris();
  const [xTrain, xTest, yTrain, yTest] = await sf.data.trainTestSplit(x, y, { testSize: 0.2, seed: 42 });
  const train = sf.data.fromTensorSlices([xTrain, yTrain]).repeat(20).shuffle(1000, 42).batch(32);
  const validation = sf.data.fromTensorSlices([xTest, yTest]).batch(32);
  const model = irisMlp(1);
  model.compile({ loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] }); // rmsprop, as Keras defaults
  const history = await model.fit(train, { epochs: 10, validationData: validation, verbose: 0 });
  expect(history.history.val_accuracy).toHaveLength(10);
  const [, accuracy] = (await model.evaluate(xTest, yTest)) as sf.Tensor[];
  expect((await accuracy.data())[0]).toBeGreaterThanOrEqual(0.9);
  for (const t of [x, y, xTrain, xTest, yTrain, yTest, accuracy]) t.dispose();
  model.dispose();
});

test('a small CNN learns 3,000 real MNIST digits to ≥ 85% test accuracy in two epochs', async () => {
  const { train, test: held } = await sf.datasets.mnist();
  const take = async (t: sf.Tensor, n: number): Promise<sf.Tensor> => {
    const rows = sf.tensor(Int32Array.from({ length: n }, (_, i) => i), [n], 'int32');
    const out = sf.gather(t, rows);
    rows.dispose();
    return out;
  };
  const [xTrain, yTrain, xTest, yTest] = await Promise.all([take(train.x, 3000), take(train.y, 3000), take(held.x, 500), take(held.y, 500)]);
  const model = sf.sequential([
    sf.layers.conv2d({ filters: 8, kernelSize: 5, padding: 'same', activation: 'relu', inputShape: [28, 28, 1], kernelInitializer: sf.initializers.glorotUniform({ seed: 7 }) }),
    sf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
    sf.layers.conv2d({ filters: 16, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: sf.initializers.glorotUniform({ seed: 8 }) }),
    sf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
    sf.layers.flatten(),
    sf.layers.dropout({ rate: 0.25, seed: 9 }),
    sf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: sf.initializers.glorotUniform({ seed: 10 }) }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  await model.fit(xTrain, yTrain, { epochs: 2, batchSize: 64, seed: 11, verbose: 0 });
  const [, accuracy] = (await model.evaluate(xTest, yTest, { batchSize: 100 })) as sf.Tensor[];
  expect((await accuracy.data())[0]).toBeGreaterThanOrEqual(0.85);
  for (const t of [train.x, train.y, held.x, held.y, xTrain, yTrain, xTest, yTest, accuracy]) t.dispose();
  model.dispose();
}, 180_000);
