// shaderflow's main job (`npm start`): the notebook behind the project, run headless in Node.
// 1. Iris: an MLP, then one prediction per class. 2. MNIST: the seed CNN, its test accuracy, and
// predictions on the sample images in samples/. 3. Augmentation: inverted copies added to the
// data, training continued, the samples predicted again. 4. A summary.
// Flags: --train N --test N (MNIST digits), --epochs N, --aug-epochs N, --fashion (Fashion-MNIST
// from Debian's dataset-fashion-mnist), --save DIR (the trained CNN, TF.js Layers format), --quiet,
// --quick (a smoke run of about a minute: 500 training and 300 test digits; the flags above still apply).

import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as sf from '../src/index.js';
import { irisMlp, seedCnn } from './seed-models.js';

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
function number(name: string, fallback: number): number {
  if (!flag(name)) return fallback;
  const v = Number(argv[argv.indexOf(name) + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} expects a positive integer, got ${argv[argv.indexOf(name) + 1]}`);
  return v;
}
const known = ['--train', '--test', '--epochs', '--aug-epochs', '--fashion', '--save', '--quiet', '--samples', '--quick'];
for (const a of argv) if (a.startsWith('--') && !known.includes(a)) throw new Error(`unknown flag ${a}; known: ${known.join(' ')}`);
const quick = flag('--quick');
const options = {
  train: number('--train', quick ? 500 : 4000),
  test: number('--test', quick ? 300 : 1000),
  epochs: number('--epochs', 1),
  augEpochs: number('--aug-epochs', 1),
  fashion: flag('--fashion'),
  save: flag('--save') ? argv[argv.indexOf('--save') + 1] : undefined,
  verbose: flag('--quiet') ? 0 : 1,
  samples: flag('--samples') ? argv[argv.indexOf('--samples') + 1] : 'samples',
} as const;

const percent = (p: number): string => `${(100 * p).toFixed(1)}%`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
let peakBytes = 0;
const notePeak = (): void => void (peakBytes = Math.max(peakBytes, sf.memory().numBytesHeld));
const phases: { name: string; ms: number; samples: number; accuracy?: number }[] = [];

async function phase<T>(name: string, run: () => Promise<{ samples: number; accuracy?: number; result: T }>): Promise<T> {
  console.log(`\n=== ${name} ===`);
  const started = performance.now();
  const { samples, accuracy, result } = await run();
  phases.push({ name, ms: performance.now() - started, samples, accuracy });
  notePeak();
  return result;
}

async function scalarOf(t: sf.Tensor): Promise<number> {
  const v = (await t.data())[0];
  t.dispose();
  return v;
}

async function iris(): Promise<{ samples: number; accuracy: number; result: void }> {
  const { x, y, classNames } = await sf.datasets.iris();
  const [xTrain, xTest, yTrain, yTest] = await sf.data.trainTestSplit(x, y, { testSize: 0.2, seed: 42 });
  const train = sf.data.fromTensorSlices([xTrain, yTrain]).repeat(20).shuffle(1000).batch(32);
  const test = sf.data.fromTensorSlices([xTest, yTest]).batch(32);
  const model = irisMlp();
  model.summary();
  model.compile({ loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  await model.fit(train, { epochs: 10, validationData: test, verbose: options.verbose });
  const [, acc] = (await model.evaluate(xTest, yTest)) as sf.Tensor[];
  const accuracy = await scalarOf(acc);
  console.log(`Iris test accuracy: ${percent(accuracy)}`);
  // One prediction per class, from the test split, as the notebook does.
  const labels = await yTest.data();
  const probabilities = (await model.predict(xTest).array()) as number[][];
  for (const [c, name] of classNames.entries()) {
    const i = labels.indexOf(c);
    if (i < 0) continue;
    const p = probabilities[i];
    const best = p.indexOf(Math.max(...p));
    console.log(`${best === c ? '✓' : '✗'} Prediction is '${classNames[best]}' (${percent(p[best])}), expected '${name}'`);
  }
  const samples = xTrain.shape[0] * 20 * 10;
  for (const t of [x, y, xTrain, xTest, yTrain, yTest]) t.dispose();
  model.dispose();
  return { samples, accuracy, result: undefined };
}

/** The first `n` rows of bytes [rows, 28, 28, 1], inverted or not. */
function imageRows(images: { data: Uint8Array; shape: number[] }, n: number, inverted = false): { data: Uint8Array; shape: number[]; dtype: 'float32' } {
  const count = Math.min(n, images.shape[0]);
  const data = images.data.slice(0, count * 784);
  if (inverted) for (let k = 0; k < data.length; k++) data[k] = 255 - data[k];
  return { data, shape: [count, 28, 28, 1], dtype: 'float32' };
}

async function firstLabels(y: sf.Tensor, n: number): Promise<Int32Array> {
  return (await y.data()).slice(0, n) as Int32Array;
}

/** The sample images as one batch [n, 28, 28, 1] in [0, 1], and the digit each file name says. */
async function loadSamples(): Promise<{ x: sf.Tensor; names: string[]; expected: number[] }> {
  const dir = resolve(options.samples);
  const files = readdirSync(dir).filter((f) => f.endsWith('.png')).sort();
  const pixels = new Float32Array(files.length * 784);
  for (const [k, file] of files.entries()) {
    const image = await sf.data.decodePng(new Uint8Array(readFileSync(join(dir, file))));
    if (image.width !== 28 || image.height !== 28) throw new Error(`${file}: expected a 28x28 image, got ${image.width}x${image.height}`);
    for (let i = 0; i < 784; i++) {
      // Greyscale from whatever channels the PNG has (alpha ignored).
      const px = image.data.slice(i * image.channels, i * image.channels + Math.min(3, image.channels));
      pixels[k * 784 + i] = px.reduce((a, b) => a + b, 0) / px.length / 255;
    }
  }
  const expected = files.map((f) => Number(/(\d)/.exec(f)?.[1] ?? -1));
  return { x: sf.tensor(pixels, [files.length, 28, 28, 1]), names: files, expected };
}

async function predictSamples(model: sf.Sequential, classNames: string[]): Promise<number> {
  const { x, names, expected } = await loadSamples();
  const probabilities = (await model.predict(x).array()) as number[][];
  let right = 0;
  for (const [k, p] of probabilities.entries()) {
    const best = p.indexOf(Math.max(...p));
    const e = expected[k];
    right += Number(best === e);
    console.log(`${best === e ? '✓' : '✗'} ${names[k].padEnd(22)} ${classNames[e]} at ${percent(p[e])}. CNN thinks it's a ${classNames[best]} (${percent(p[best])})`);
  }
  x.dispose();
  return right / probabilities.length;
}

async function main(): Promise<void> {
  const info = await sf.ready();
  const adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ');
  console.log(`shaderflow on ${adapter} (${info.platform})`);

  await phase('Iris: Dense 10 relu, Dropout 0.2, Dense 3 softmax', iris);

  const data = options.fashion ? await sf.datasets.fashionMnist({ pixels: 'uint8' }) : await sf.datasets.mnist({ pixels: 'uint8' });
  const { classNames } = data;
  const nTrain = Math.min(options.train, data.train.x.shape[0]);
  const nTest = Math.min(options.test, data.test.x.shape[0]);
  const yTrain = await firstLabels(data.train.y, nTrain);
  const yTest = await firstLabels(data.test.y, nTest);
  // Pixels stay bytes until a batch is made; the map after batch normalizes it on the GPU.
  const normalize = ([x, y]: [sf.Tensor, sf.Tensor]) => [sf.div(x, 255), y];
  const pipeline = (parts: { data: Uint8Array; shape: number[]; dtype: 'float32' }[], labels: Int32Array, shuffle: boolean) => {
    let ds = sf.data.fromTensorSlices([parts[0], labels]);
    for (const part of parts.slice(1)) ds = ds.concatenate(sf.data.fromTensorSlices([part, labels]));
    return (shuffle ? ds.shuffle(10_000) : ds).batch(128).map(normalize as never);
  };
  const model = seedCnn({ classes: classNames.length });
  const name = options.fashion ? 'Fashion-MNIST' : 'MNIST';

  await phase(`${name}: the seed CNN on ${nTrain} training and ${nTest} test images`, async () => {
    model.summary();
    model.compile({ loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const train = pipeline([imageRows(data.train.x, nTrain)], yTrain, true);
    const test = pipeline([imageRows(data.test.x, nTest)], yTest, false);
    await model.fit(train, { epochs: options.epochs, validationData: test, verbose: options.verbose });
    const [, acc] = (await model.evaluate(test)) as sf.Tensor[];
    const accuracy = await scalarOf(acc);
    console.log(`${name} test accuracy: ${percent(accuracy)}`);
    console.log('\nThe sample images (samples/*.png; the inverted ones are dark on light):');
    await predictSamples(model, classNames);
    return { samples: nTrain * options.epochs, accuracy, result: undefined };
  });

  await phase('Augmentation: the training and test sets plus their inverted copies', async () => {
    const train = pipeline([imageRows(data.train.x, nTrain), imageRows(data.train.x, nTrain, true)], yTrain, true);
    const test = pipeline([imageRows(data.test.x, nTest), imageRows(data.test.x, nTest, true)], yTest, false);
    await model.fit(train, { epochs: options.augEpochs, validationData: test, verbose: options.verbose });
    const [, acc] = (await model.evaluate(test)) as sf.Tensor[];
    const accuracy = await scalarOf(acc);
    console.log(`${name} test accuracy, plain and inverted: ${percent(accuracy)}`);
    console.log('\nThe sample images again, after augmentation:');
    await predictSamples(model, classNames);
    return { samples: 2 * nTrain * options.augEpochs, accuracy, result: undefined };
  });

  if (options.save) {
    await model.save(`file://${resolve(options.save)}`);
    console.log(`\nSaved the CNN to ${resolve(options.save)} (model.json + weights.bin, TF.js Layers format)`);
  }
  notePeak();
  console.log('\n=== Summary ===');
  console.log(`adapter: ${adapter}`);
  for (const p of phases) {
    const rate = p.samples ? `, ${(p.samples / (p.ms / 1000)).toFixed(0)} samples/s` : '';
    const acc = p.accuracy !== undefined ? `, test accuracy ${percent(p.accuracy)}` : '';
    console.log(`${p.name}: ${seconds(p.ms)}${rate}${acc}`);
  }
  console.log(`peak GPU memory held: ${(peakBytes / 2 ** 20).toFixed(1)} MiB`);
  model.dispose();
  data.train.y.dispose();
  data.test.y.dispose();
}

await main();
