// The training benchmark's measurements, run unchanged in Node (Dawn) and in a browser page:
// shaderflow and TF.js (tfjs-layers on its WebGPU backend) train the seed MLP and the seed CNN
// on the same data, each through its own model.fit / model.predict, on the same adapter.

import * as sf from '../src/index.js';
import { runtime } from '../src/gpu/device.js';
import { irisMlp, seedCnn } from '../scripts/seed-models.js';
import { measurePeak } from './peak.js';

/** @tensorflow/tfjs (layers included) with its WebGPU backend set. */
export type Tfjs = typeof import('@tensorflow/tfjs');

/** How much to run of one model; a "measured epoch" is stepsPerEpoch training steps. */
export interface ModelSize {
  batchSize: number;
  stepsPerEpoch: number;
  /** Epochs timed after one warm-up epoch (whose plans and pipelines are then built). */
  measuredEpochs: number;
}

export interface BenchConfig {
  setting: string;
  mlp: ModelSize;
  cnn: ModelSize;
  /** Run the per-kernel profile of shaderflow's CNN training step (needs timestamp-query). */
  profile: boolean;
  /** Which models to run (both by default). */
  models?: ('mlp' | 'cnn')[];
  /**
   * Train shaderflow twice: with the built-in kernel choices, then with the adapter's choices
   * tuned afresh (sf.autotune('tune'), from an empty store), and report both and the choices.
   */
  autotune?: boolean;
}

/** shaderflow with kernels tuned on this adapter, next to its built-in choices (BenchConfig.autotune). */
export interface AutotuneResult {
  /** Training samples/s with the tuned kernels, and its ratio to the built-in choices'. */
  trainSamplesPerSecond: number;
  ratio: number;
  /** The first step with tuning included: build, compile, time the variants, one step. */
  firstStepMs: number;
  /** Each kernel shape tuned, the variant kept and every variant's milliseconds in place. */
  choices: { key: string; variant: object; timings: readonly { variant: object; ms: number }[] }[];
}

/** Host data both libraries train on: features row-major, labels as class indices. */
export interface HostData {
  x: Float32Array;
  y: Int32Array;
  shape: number[];
  classes: number;
  source: string;
}

/** One library's numbers for one model. */
export interface LibraryResult {
  /** Training samples per second over the measured epochs (fit over GPU-resident tensors). */
  trainSamplesPerSecond: number;
  /** A fresh model: build, compile, first fit of one batch, until its loss was read back. */
  firstStepMs: number;
  /** predict over the training rows, batch as in training, after one warm-up predict. */
  inferenceSamplesPerSecond: number;
  /** Bytes the library's GPU buffer pool held at most during this model's run (data included). */
  peakGpuBytes: number;
  /** Training loss of the last measured epoch, to show both trained. */
  loss: number;
}

export interface KernelTime {
  kernel: string;
  dispatches: number;
  milliseconds: number;
}

export interface ModelResult {
  model: 'mlp' | 'cnn';
  description: string;
  data: string;
  batchSize: number;
  stepsPerEpoch: number;
  measuredEpochs: number;
  /** FLOPs per sample: forward 2·K per output element of each conv / dense layer, training 3× forward. */
  forwardFlopsPerSample: number;
  trainFlopsPerSample: number;
  shaderflow: LibraryResult;
  tfjs: LibraryResult;
  /** shaderflow / TF.js for each number (above 1 is better for samples/s, below 1 for ms and bytes). */
  ratio: { trainSamplesPerSecond: number; firstStepMs: number; inferenceSamplesPerSecond: number; peakGpuBytes: number };
  /** Training FLOP/s as a fraction of the adapter's measured FMA peak. */
  fractionOfPeak: { shaderflow: number; tfjs: number };
  /** With BenchConfig.autotune: shaderflow again, with tuned kernels (`shaderflow` then has the built-in ones). */
  autotune?: AutotuneResult;
  /** shaderflow's training step, kernel by kernel (one profiled run), when asked for and supported. */
  profile?: { milliseconds: number; dispatches: number; rows: KernelTime[] };
}

export interface SettingResult {
  setting: string;
  adapter: string;
  peakGflops: number;
  models: ModelResult[];
}

type Log = (line: string) => void;

const prod = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

/** The Iris features and labels tiled to `rows` rows (the notebook's data, repeated as its repeat(20) does). */
export async function irisRows(rows: number): Promise<HostData> {
  const { x, y } = await sf.datasets.iris();
  const xs = (await x.data()) as Float32Array;
  const ys = (await y.data()) as Int32Array;
  x.dispose();
  y.dispose();
  const n = ys.length;
  return {
    x: Float32Array.from({ length: rows * 4 }, (_, i) => xs[(Math.floor(i / 4) % n) * 4 + (i % 4)]),
    y: Int32Array.from({ length: rows }, (_, i) => ys[i % n]),
    shape: [rows, 4],
    classes: 3,
    source: `Iris, 150 rows tiled to ${rows}`,
  };
}

/** MNIST bytes (0..255, [n, 28, 28, 1]) and labels as float32 pixels in [0, 1]. */
export function mnistRows(pixels: Uint8Array, labels: Int32Array, rows: number): HostData {
  if (labels.length < rows) throw new Error(`bench: need ${rows} MNIST digits, got ${labels.length}`);
  return {
    x: Float32Array.from(pixels.subarray(0, rows * 784), (v) => v / 255),
    y: labels.slice(0, rows),
    shape: [rows, 28, 28, 1],
    classes: 10,
    source: `MNIST digits, first ${rows} of the training split`,
  };
}

// The TF.js twins of scripts/seed-models.ts's irisMlp and seedCnn, layer for layer.
function tfMlp(tf: Tfjs) {
  return tf.sequential({
    layers: [
      tf.layers.dense({ units: 10, activation: 'relu', inputShape: [4] }),
      tf.layers.dropout({ rate: 0.2 }),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

function tfCnn(tf: Tfjs) {
  const model = tf.sequential();
  for (const [k, filters] of [16, 32, 64, 128].entries()) {
    model.add(tf.layers.conv2d({ filters, kernelSize: 5, padding: 'same', activation: 'relu', ...(k === 0 ? { inputShape: [28, 28, 1] } : {}) }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }));
  }
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 128, activation: 'relu' }));
  model.add(tf.layers.dropout({ rate: 0.4 }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  return model;
}

/**
 * Forward FLOPs per sample from the layer shapes: each output element of a conv or dense layer
 * costs K multiply-adds (K = kh·kw·cin, or the dense input width), 2 FLOPs each. Pooling,
 * activations, biases and the optimizer are left out (under 1% for the seed CNN).
 */
export function forwardFlops(model: sf.Sequential): number {
  let shape = model.inputShape!;
  let flops = 0;
  for (const layer of model.layers) {
    const out = layer.outputShape(shape);
    const kernel = layer.weights.find((w) => w.tensor.rank >= 2);
    if (kernel) flops += 2 * prod(kernel.tensor.shape.slice(0, -1)) * prod(out);
    shape = out;
  }
  return flops;
}

/** Destroys the buffers TF.js's WebGPU buffer manager keeps for reuse, so each model's peak starts from its own data. */
function trimTfjs(tf: Tfjs): void {
  const manager = (tf.backend() as unknown as { bufferManager?: { freeBuffers: Map<string, GPUBuffer[]>; numBytesAllocated: number; numFreeBuffers: number } }).bufferManager;
  if (!manager) return;
  for (const list of manager.freeBuffers.values()) {
    for (const buffer of list) {
      manager.numBytesAllocated -= buffer.size;
      buffer.destroy();
    }
    list.length = 0; // keep the keys: releaseBuffer stops pooling once the map is empty
  }
  manager.numFreeBuffers = 0;
}

const tfjsBytes = (tf: Tfjs): number => (tf.memory() as unknown as { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU ?? tf.memory().numBytes;

/** Inference samples/s of `predictAll` (one pass over `rows` samples), timed after a warm-up pass. */
async function inferenceRate(predictAll: () => Promise<void>, rows: number): Promise<number> {
  await predictAll();
  const start = performance.now();
  await predictAll();
  return rows / ((performance.now() - start) / 1000);
}

/** Times fit over `epochs` = 1 warm-up + measured epochs with an epoch-end callback; returns samples/s and the last loss. */
async function timedFit(fit: (epochs: number, onEpochEnd: (epoch: number, logs?: Record<string, unknown>) => void, onBatchEnd: () => void) => Promise<unknown>, size: ModelSize, sample: () => void): Promise<{ samplesPerSecond: number; loss: number }> {
  let start = 0;
  let loss = NaN;
  await fit(1 + size.measuredEpochs, (epoch, logs) => {
    if (epoch === 0) start = performance.now();
    loss = Number(logs?.loss);
  }, sample);
  const seconds = (performance.now() - start) / 1000;
  return { samplesPerSecond: (size.batchSize * size.stepsPerEpoch * size.measuredEpochs) / seconds, loss };
}

async function runShaderflow(kind: 'mlp' | 'cnn', data: HostData, size: ModelSize, config: BenchConfig, log: Log): Promise<{ result: LibraryResult; flops: number; profile?: ModelResult['profile'] }> {
  const rt = runtime();
  await rt.device.queue.onSubmittedWorkDone();
  rt.pool.trim();
  let peak = 0;
  const sample = (): void => {
    peak = Math.max(peak, sf.memory().numBytesHeld);
  };
  const x = sf.tensor(data.x, data.shape);
  const y = sf.tensor(data.y, [data.y.length], 'int32');
  const firstRows = sf.tensor(Int32Array.from({ length: size.batchSize }, (_, i) => i), [size.batchSize], 'int32');
  const first = sf.gather(x, firstRows);
  firstRows.dispose();
  const firstY = sf.tensor(data.y.slice(0, size.batchSize), [size.batchSize], 'int32');

  const started = performance.now();
  const model = kind === 'mlp' ? irisMlp() : seedCnn();
  model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  await model.fit(first, firstY, { epochs: 1, batchSize: size.batchSize, verbose: 0 });
  const firstStepMs = performance.now() - started;
  log(`  shaderflow ${kind}: first step ${firstStepMs.toFixed(0)} ms`);

  const train = await timedFit((epochs, onEpochEnd, onBatchEnd) => model.fit(x, y, { epochs, batchSize: size.batchSize, verbose: 0, callbacks: { onEpochEnd, onBatchEnd } }), size, sample);
  log(`  shaderflow ${kind}: ${train.samplesPerSecond.toFixed(1)} training samples/s`);

  const inferenceSamplesPerSecond = await inferenceRate(async () => {
    const out = model.predict(x, { batchSize: size.batchSize });
    await out.data();
    sample(); // peak memory, with the predictions still held
    out.dispose();
  }, data.y.length);
  sample();

  let profile: ModelResult['profile'];
  if (config.profile && rt.device.features.has('timestamp-query')) {
    // The first profiled run also pays for work the driver defers to a pipeline's first use
    // with timestamps (lavapipe: up to 10× on some kernels); the second is the steady state.
    await model.profile(first, firstY);
    const p = await model.profile(first, firstY);
    log(String(p));
    profile = { milliseconds: p.milliseconds, dispatches: p.dispatches, rows: p.rows.map((r) => ({ ...r })).sort((a, b) => b.milliseconds - a.milliseconds) };
  }
  const flops = forwardFlops(model);
  model.dispose();
  for (const t of [x, y, first, firstY]) t.dispose();
  return { result: { trainSamplesPerSecond: train.samplesPerSecond, firstStepMs, inferenceSamplesPerSecond, peakGpuBytes: peak, loss: train.loss }, flops, profile };
}

async function runTfjs(tf: Tfjs, kind: 'mlp' | 'cnn', data: HostData, size: ModelSize, log: Log): Promise<LibraryResult> {
  trimTfjs(tf);
  let peak = 0;
  const sample = (): void => {
    peak = Math.max(peak, tfjsBytes(tf));
  };
  const x = tf.tensor(data.x, data.shape);
  // tfjs-layers' sparse categorical cross-entropy takes float class indices.
  const y = tf.tensor1d(Float32Array.from(data.y));
  const first = tf.slice(x, 0, size.batchSize);
  const firstY = tf.slice(y, 0, size.batchSize);

  const started = performance.now();
  const model = kind === 'mlp' ? tfMlp(tf) : tfCnn(tf);
  model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  await model.fit(first, firstY, { epochs: 1, batchSize: size.batchSize, verbose: 0 });
  const firstStepMs = performance.now() - started;
  log(`  TF.js ${kind}: first step ${firstStepMs.toFixed(0)} ms`);

  const train = await timedFit((epochs, onEpochEnd, onBatchEnd) => model.fit(x, y, { epochs, batchSize: size.batchSize, verbose: 0, callbacks: { onEpochEnd: async (e, l) => onEpochEnd(e, l), onBatchEnd: async () => onBatchEnd() } }), size, sample);
  log(`  TF.js ${kind}: ${train.samplesPerSecond.toFixed(1)} training samples/s`);

  const inferenceSamplesPerSecond = await inferenceRate(async () => {
    const out = model.predict(x, { batchSize: size.batchSize }) as import('@tensorflow/tfjs').Tensor;
    await out.data();
    sample(); // peak memory, with the predictions still held
    out.dispose();
  }, data.y.length);
  sample();
  model.dispose();
  for (const t of [x, y, first, firstY]) t.dispose();
  return { trainSamplesPerSecond: train.samplesPerSecond, firstStepMs, inferenceSamplesPerSecond, peakGpuBytes: peak, loss: train.loss };
}

/** Both libraries on one model; shaderflow first, each from an emptied buffer pool. */
async function runModel(tf: Tfjs, kind: 'mlp' | 'cnn', data: HostData, config: BenchConfig, peakGflops: number, log: Log): Promise<ModelResult> {
  const size = config[kind];
  log(`${kind === 'mlp' ? 'seed MLP' : 'seed CNN'}, batch ${size.batchSize}: ${data.source}`);
  if (config.autotune) sf.autotune('off');
  const ours = await runShaderflow(kind, data, size, config, log);
  let autotune: AutotuneResult | undefined;
  if (config.autotune) {
    const before = new Set(Object.keys(sf.autotune('tune').choices));
    log(`  shaderflow ${kind}: again, tuning the kernels of each new shape`);
    const tuned = await runShaderflow(kind, data, size, config, log);
    const choices = Object.entries(sf.autotune('cached').choices)
      .filter(([key]) => !before.has(key))
      .map(([key, c]) => ({ key, variant: c.variant, timings: c.timings }));
    const { trainSamplesPerSecond, firstStepMs } = tuned.result;
    autotune = { trainSamplesPerSecond, ratio: trainSamplesPerSecond / ours.result.trainSamplesPerSecond, firstStepMs, choices };
  }
  const peer = await runTfjs(tf, kind, data, size, log);
  const trainFlops = 3 * ours.flops;
  const s = ours.result;
  return {
    model: kind,
    description: kind === 'mlp' ? 'Dense 10 relu, Dropout 0.2, Dense 3 softmax; rmsprop' : 'Conv2D 16/32/64/128 5x5 same relu + MaxPool 2x2 same each, Flatten, Dense 128 relu, Dropout 0.4, Dense 10 softmax; rmsprop',
    data: data.source,
    ...size,
    forwardFlopsPerSample: ours.flops,
    trainFlopsPerSample: trainFlops,
    shaderflow: s,
    tfjs: peer,
    ratio: {
      trainSamplesPerSecond: s.trainSamplesPerSecond / peer.trainSamplesPerSecond,
      firstStepMs: s.firstStepMs / peer.firstStepMs,
      inferenceSamplesPerSecond: s.inferenceSamplesPerSecond / peer.inferenceSamplesPerSecond,
      peakGpuBytes: s.peakGpuBytes / peer.peakGpuBytes,
    },
    fractionOfPeak: {
      shaderflow: (s.trainSamplesPerSecond * trainFlops) / (peakGflops * 1e9),
      tfjs: (peer.trainSamplesPerSecond * trainFlops) / (peakGflops * 1e9),
    },
    ...(ours.profile ? { profile: ours.profile } : {}),
    ...(autotune ? { autotune } : {}),
  };
}

/**
 * The whole benchmark on this setting's adapter: the FMA peak, then the MLP on Iris and the CNN
 * on `cnnData` (its rows must be batchSize · stepsPerEpoch of the CNN).
 */
export async function runTrainingBench(tf: Tfjs, config: BenchConfig, cnnData: HostData, log: Log = console.log): Promise<SettingResult> {
  const info = await sf.ready();
  const adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ') || 'unknown adapter';
  const peakGflops = await measurePeak(runtime());
  log(`${config.setting}: ${adapter}; FMA peak ${peakGflops.toFixed(1)} GFLOP/s`);
  const models: ModelResult[] = [];
  for (const kind of config.models ?? ['mlp', 'cnn']) {
    const data = kind === 'mlp' ? await irisRows(config.mlp.batchSize * config.mlp.stepsPerEpoch) : cnnData;
    models.push(await runModel(tf, kind, data, config, peakGflops, log));
  }
  return { setting: config.setting, adapter, peakGflops, models };
}
