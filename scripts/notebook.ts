// shaderflow's main job (`npm start`): the notebook behind the project, run headless in Node.
// 1. Iris: an MLP, then one prediction per class. 2. MNIST: the seed CNN, its test accuracy, and
// predictions on the sample images in samples/. 3. Augmentation: inverted copies added to the
// data, training continued, the samples predicted again. 4. A summary.
//
// The notebook trains on MNIST's 60,000 digits; the `mnist` package holds 10,000, split 8,000 for
// training and 2,000 for testing. The defaults (6 epochs, then 4 with the inverted copies; batch
// 80, which divides every set so no second step shape compiles; Adam at 0.002 falling by 0.8 a
// epoch; every training digit moved by up to 2 pixels, drawn anew each epoch) were chosen with
// --validation 1520, which trains on the other 6,480 training digits and tests on those 1,520: the
// test digits played no part. Every draw is seeded, so two runs print the same figures.
//
// Flags: --train N --test N (MNIST digits), --epochs N, --aug-epochs N, --batch N, --lr X,
// --decay X (the rate's factor per epoch), --shift N (pixels; 0: none), --validation N (hold out
// the last N training digits instead of using the test set), --fashion (Fashion-MNIST from
// Debian's dataset-fashion-mnist), --save DIR (the trained CNN, TF.js Layers format), --quiet,
// --f16 (the CNN's forward products read half-precision copies of its weights: compile's
// forwardWeights 'float16'; needs an adapter with 'shader-f16'), --quick (a smoke run of about a
// minute: 480 training and 320 test digits, one epoch each; the flags above still apply).

import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as sf from '../src/index.js';
import { Random } from '../src/nn/random.js';
import { irisMlp, seedCnn } from './seed-models.js';

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
function number(name: string, fallback: number): number {
  if (!flag(name)) return fallback;
  const v = Number(argv[argv.indexOf(name) + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} expects a positive integer, got ${argv[argv.indexOf(name) + 1]}`);
  return v;
}
function real(name: string, fallback: number, ok: (v: number) => boolean, expected: string): number {
  if (!flag(name)) return fallback;
  const v = Number(argv[argv.indexOf(name) + 1]);
  if (!ok(v)) throw new Error(`${name} expects ${expected}, got ${argv[argv.indexOf(name) + 1]}`);
  return v;
}
const known = ['--train', '--test', '--epochs', '--aug-epochs', '--fashion', '--save', '--quiet', '--samples', '--quick', '--validation', '--lr', '--decay', '--batch', '--shift', '--f16'];
for (const a of argv) if (a.startsWith('--') && !known.includes(a)) throw new Error(`unknown flag ${a}; known: ${known.join(' ')}`);
const quick = flag('--quick');
const options = {
  train: number('--train', quick ? 480 : 8000),
  test: number('--test', quick ? 320 : 2000),
  epochs: number('--epochs', quick ? 1 : 6),
  augEpochs: number('--aug-epochs', quick ? 1 : 4),
  fashion: flag('--fashion'),
  save: flag('--save') ? argv[argv.indexOf('--save') + 1] : undefined,
  verbose: flag('--quiet') ? 0 : 1,
  samples: flag('--samples') ? argv[argv.indexOf('--samples') + 1] : 'samples',
  validation: flag('--validation') ? number('--validation', 1500) : 0,
  lr: real('--lr', 0.002, (v) => v > 0 && Number.isFinite(v), 'a positive number'),
  batch: number('--batch', 80),
  shift: real('--shift', 2, (v) => Number.isInteger(v) && v >= 0 && v < 14, 'a whole number of pixels from 0 to 13'),
  forwardWeights: flag('--f16') ? ('float16' as const) : ('float32' as const),
  decay: real('--decay', 0.8, (v) => v > 0 && v <= 1, 'a factor in (0, 1]'),
} as const;

/** Seeds the weights, dropout, shuffles and shifts. */
const seed = 1;
const percent = (p: number): string => `${(100 * p).toFixed(1)}%`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
let peakBytes = 0;
const notePeak = (): void => void (peakBytes = Math.max(peakBytes, sf.memory().numBytesHeld));
const phases: { name: string; ms: number; samples: number; accuracy?: string; epochs?: [number, number] }[] = [];

/**
 * The CNN's training time, epoch by epoch: each epoch is one fit, timed from its call to its end
 * (fit ends by reading its metrics back, so the GPU has finished). The job's first epoch also
 * compiles the shaders, which lavapipe does at each pipeline's first dispatch; the other epochs
 * give the steady rate, and the first epoch's excess over that rate is the compile time.
 */
class Timing {
  readonly epochs: { samples: number; ms: number }[] = [];
  async time(samples: number, run: () => Promise<unknown>): Promise<void> {
    const started = performance.now();
    await run();
    this.epochs.push({ samples, ms: performance.now() - started });
  }
  /** Samples per second over epochs [from, to), the job's first epoch left out where others are in the range. */
  rate(from = 0, to = this.epochs.length): number {
    const steady = this.epochs.slice(to - Math.max(1, from) > 0 ? Math.max(1, from) : from, to);
    return steady.reduce((n, e) => n + e.samples, 0) / (steady.reduce((n, e) => n + e.ms, 0) / 1000);
  }
  /** The first epoch's time beyond what its samples take at the steady rate. */
  get compileMs(): number {
    const first = this.epochs[0];
    return first && this.epochs.length > 1 ? Math.max(0, first.ms - (first.samples / this.rate()) * 1000) : NaN;
  }
}
const timing = new Timing();

async function phase<T>(name: string, run: () => Promise<{ samples: number; accuracy?: string; result: T }>): Promise<T> {
  console.log(`\n=== ${name} ===`);
  const started = performance.now();
  const firstEpoch = timing.epochs.length;
  const { samples, accuracy, result } = await run();
  const epochs: [number, number] | undefined = timing.epochs.length > firstEpoch ? [firstEpoch, timing.epochs.length] : undefined;
  phases.push({ name, ms: performance.now() - started, samples, accuracy, epochs });
  notePeak();
  return result;
}

async function scalarOf(t: sf.Tensor): Promise<number> {
  const v = (await t.data())[0];
  t.dispose();
  return v;
}

async function iris(): Promise<{ samples: number; accuracy: string; result: void }> {
  const { x, y, classNames } = await sf.datasets.iris();
  const [xTrain, xTest, yTrain, yTest] = await sf.data.trainTestSplit(x, y, { testSize: 0.2, seed: 42 });
  const train = sf.data.fromTensorSlices([xTrain, yTrain]).repeat(20).shuffle(1000, seed).batch(32);
  const test = sf.data.fromTensorSlices([xTest, yTest]).batch(32);
  const model = irisMlp(seed);
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
  return { samples, accuracy: `test accuracy ${percent(accuracy)}`, result: undefined };
}

type ImageRows = { data: Uint8Array; shape: number[]; dtype: 'float32' };

/** Rows [from, from + n) of bytes [rows, 28, 28, 1]. */
function imageRows(images: { data: Uint8Array; shape: number[] }, from: number, n: number): ImageRows {
  const count = Math.max(0, Math.min(n, images.shape[0] - from));
  return { data: images.data.slice(from * 784, (from + count) * 784), shape: [count, 28, 28, 1], dtype: 'float32' };
}

/**
 * The same rows each moved by a whole number of pixels, up to `most` in each direction (a new
 * draw per image; uncovered pixels are 0, the background): the 8,000 digits at hand then stand
 * in for more.
 */
function shifted(rows: ImageRows, most: number, random: Random): ImageRows {
  const out = new Uint8Array(rows.data.length);
  for (let n = 0; n < rows.shape[0]; n++) {
    const dy = random.int(2 * most + 1) - most;
    const dx = random.int(2 * most + 1) - most;
    const base = n * 784;
    for (let y = Math.max(0, dy); y < Math.min(28, 28 + dy); y++) {
      const from = base + (y - dy) * 28;
      out.set(rows.data.subarray(from + Math.max(0, -dx), from + Math.min(28, 28 - dx)), base + y * 28 + Math.max(0, dx));
    }
  }
  return { ...rows, data: out };
}

/** The same rows dark on light. */
function inverted(rows: ImageRows): ImageRows {
  return { ...rows, data: rows.data.map((v) => 255 - v) };
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

const runStarted = performance.now();

async function main(): Promise<void> {
  const info = await sf.ready({ halfPrecision: options.forwardWeights === 'float16' ? true : undefined });
  const adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ');
  console.log(`shaderflow on ${adapter} (${info.platform})`);

  await phase('Iris: Dense 10 relu, Dropout 0.2, Dense 3 softmax', iris);

  const data = options.fashion ? await sf.datasets.fashionMnist({ pixels: 'uint8' }) : await sf.datasets.mnist({ pixels: 'uint8' });
  const { classNames } = data;
  // --validation V: the last V training digits stand in for the test set, which stays unseen.
  const held = options.validation;
  const nTrain = Math.min(options.train, data.train.x.shape[0] - held);
  const nTest = held ? held : Math.min(options.test, data.test.x.shape[0]);
  const trainLabels = await firstLabels(data.train.y, nTrain);
  const trainImages = imageRows(data.train.x, 0, nTrain);
  const [testImages, testLabels] = held
    ? [imageRows(data.train.x, data.train.x.shape[0] - held, held), (await data.train.y.data()).slice(-held) as Int32Array]
    : [imageRows(data.test.x, 0, nTest), await firstLabels(data.test.y, nTest)];
  // Pixels stay bytes until a batch is made; the map after batch normalizes it on the GPU.
  const normalize = ([x, y]: [sf.Tensor, sf.Tensor]) => [sf.div(x, 255), y];
  const pipeline = (parts: ImageRows[], labels: Int32Array, shuffle?: number) => {
    let ds = sf.data.fromTensorSlices([parts[0], labels]);
    for (const part of parts.slice(1)) ds = ds.concatenate(sf.data.fromTensorSlices([part, labels]));
    return (shuffle !== undefined ? ds.shuffle(20_000, shuffle) : ds).batch(options.batch).map(normalize as never);
  };
  const model = seedCnn({ classes: classNames.length, seed });
  const name = options.fashion ? 'Fashion-MNIST' : 'MNIST';
  const testName = held ? 'validation' : 'test';
  const optimizer = sf.optimizers.adam({ learningRate: options.lr });
  let epochsRun = 0;
  const schedule = { onEpochBegin: () => void (optimizer.learningRate = options.lr * options.decay ** epochsRun++) };

  // One fit per epoch, each on freshly shifted copies of the training digits. The choosing run
  // (--validation) evaluates after every epoch; the main run only at the end of each phase.
  const random = new Random(seed);
  const train = async (parts: (x: ImageRows) => ImageRows[], epochs: number, test: ReturnType<typeof pipeline>): Promise<void> => {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const x = options.shift > 0 ? shifted(trainImages, options.shift, random) : trainImages;
      const rows = parts(x);
      const data = pipeline(rows, trainLabels, seed + epochsRun);
      await timing.time(rows.length * nTrain, () => model.fit(data, { epochs: epoch + 1, initialEpoch: epoch, verbose: options.verbose, callbacks: [schedule] }));
      if (held) {
        const [loss, acc] = (await model.evaluate(test)) as sf.Tensor[];
        console.log(`  validation: loss ${(await scalarOf(loss)).toFixed(4)}, accuracy ${percent(await scalarOf(acc))}`);
      }
    }
  };

  let plainTest: ReturnType<typeof pipeline> | undefined;
  await phase(`${name}: the seed CNN on ${nTrain} training and ${nTest} ${testName} images`, async () => {
    model.summary();
    console.log(
      `${options.epochs} epochs, then ${options.augEpochs} with the inverted copies; batch ${options.batch}; Adam at ${options.lr}, ` +
        `times ${options.decay} each epoch; each epoch the training digits moved by up to ${options.shift} pixels; seed ${seed}` +
        (options.forwardWeights === 'float16' ? '; forward weights in float16' : ''),
    );
    model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], forwardWeights: options.forwardWeights });
    const test = pipeline([testImages], testLabels);
    await train((x) => [x], options.epochs, test);
    const [, acc] = (await model.evaluate(test)) as sf.Tensor[];
    const accuracy = await scalarOf(acc);
    console.log(`${name} ${testName} accuracy: ${percent(accuracy)}`);
    plainTest = test;
    console.log('\nThe sample images (samples/*.png; the inverted ones are dark on light):');
    await predictSamples(model, classNames);
    return { samples: nTrain * options.epochs, accuracy: `${testName} accuracy ${percent(accuracy)}`, result: undefined };
  });

  await phase('Augmentation: the training and test sets plus their inverted copies', async () => {
    const test = pipeline([testImages, inverted(testImages)], testLabels);
    await train((x) => [x, inverted(x)], options.augEpochs, test);
    const [, acc] = (await model.evaluate(test)) as sf.Tensor[];
    const accuracy = await scalarOf(acc);
    const [, accPlain] = (await model.evaluate(plainTest!)) as sf.Tensor[];
    const plain = await scalarOf(accPlain);
    console.log(`${name} ${testName} accuracy, plain and inverted: ${percent(accuracy)} (plain alone: ${percent(plain)})`);
    console.log('\nThe sample images again, after augmentation:');
    await predictSamples(model, classNames);
    return { samples: 2 * nTrain * options.augEpochs, accuracy: `${testName} accuracy, plain and inverted, ${percent(accuracy)} (plain alone ${percent(plain)})`, result: undefined };
  });

  if (options.save) {
    await model.save(`file://${resolve(options.save)}`);
    console.log(`\nSaved the CNN to ${resolve(options.save)} (model.json + weights.bin, TF.js Layers format)`);
  }
  notePeak();
  console.log('\n=== Summary ===');
  console.log(`adapter: ${adapter}`);
  for (const p of phases) {
    const rate = p.epochs
      ? `; training ${timing.rate(...p.epochs).toFixed(0)} samples/s (${p.epochs[0] === 0 && p.epochs[1] === 1 ? 'its one epoch, compiling included' : 'steady state, evaluation apart'})`
      : p.samples
        ? `, ${(p.samples / (p.ms / 1000)).toFixed(0)} samples/s`
        : '';
    const acc = p.accuracy !== undefined ? `; ${p.accuracy}` : '';
    console.log(`${p.name}: ${seconds(p.ms)}${rate}${acc}`);
  }
  console.log(`compiling the CNN's shaders: ${seconds(timing.compileMs)}, in its first epoch (the first dispatch of each pipeline compiles it; a warm Mesa shader cache skips most of it)`);
  const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;
  const now = process.memoryUsage();
  console.log(
    `whole run: ${seconds(performance.now() - runStarted)}; peak RSS ${mb(process.resourceUsage().maxRSS * 1024)} (now ${mb(now.rss)}: JavaScript heap ${mb(now.heapUsed)}, ` +
      `array buffers ${mb(now.arrayBuffers)}, the rest Dawn, the driver and its compiled shaders); peak GPU memory held ${(peakBytes / 2 ** 20).toFixed(1)} MiB`,
  );
  model.dispose();
  data.train.y.dispose();
  data.test.y.dispose();
}

await main();
