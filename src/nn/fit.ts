// model.fit and model.evaluate: the training loop around compiled steps. Tensors already on the
// GPU are never copied: each batch is gathered there by an index list. Metrics accumulate on
// the GPU; batch callbacks and the progress bar read them through a ring of staging buffers a
// few steps late, and each epoch's values are read exactly at its end.

import { runtime } from '../gpu/device.js';
import type { RingReader } from '../gpu/scheduler.js';
import { checkBatchSize, checkTensor, type Feed, gatherFeed, type Sequential } from './model.js';
import type { Resident, ResidentSource } from './training/resident.js';
import { packBytes } from '../shaders/data.js';
import { gather, gatherBytes, type PackedBytes } from './ops.js';
import type { PlannedStep } from './step.js';
import { scalar, tensor, type Tensor } from './tensor.js';

export type Logs = Record<string, number>;

/** Callbacks as TF.js's CustomCallbackArgs; any subset. */
export interface Callback {
  onTrainBegin?(logs?: Logs): void | Promise<void>;
  onTrainEnd?(logs?: Logs): void | Promise<void>;
  onEpochBegin?(epoch: number, logs?: Logs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs?: Logs): void | Promise<void>;
  onBatchBegin?(batch: number, logs?: Logs): void | Promise<void>;
  onBatchEnd?(batch: number, logs?: Logs): void | Promise<void>;
  /** @internal Given the model when training starts (early stopping sets model.stopTraining). */
  setModel?(model: Sequential): void;
}

/** A batch source: anything async-iterable yielding [x, y] or { xs, ys } tensor pairs (sf.data's Dataset). */
export type BatchSource = AsyncIterable<unknown> | Iterable<unknown>;

export interface FitArgs {
  epochs?: number;
  /** Batch size for tensor inputs (a dataset batches itself). Keras's default 32. */
  batchSize?: number;
  validationData?: [Tensor, Tensor] | BatchSource;
  /** The fraction of the tensors' last rows held out for validation, as Keras (taken before shuffling). */
  validationSplit?: number;
  /** Reshuffle tensor inputs every epoch (default true, as Keras). */
  shuffle?: boolean;
  /** Seeds the shuffling of tensor inputs, for reproducible runs. */
  seed?: number;
  callbacks?: Callback | Callback[];
  /** 0 silent; 1 a progress bar per epoch (Node) or a line per epoch; 2 a line per epoch. Default 1. */
  verbose?: 0 | 1 | 2;
  initialEpoch?: number;
  /** Batches per epoch from a dataset (required for an endless one). */
  stepsPerEpoch?: number;
  /** Stop with an Error naming the epoch and batch once the loss is NaN (default true). */
  terminateOnNaN?: boolean;
}

/** What fit returns, shaped as Keras's and TF.js's History. */
export class History {
  readonly epoch: number[] = [];
  readonly history: Record<string, number[]> = {};
  constructor(readonly params: { epochs: number; steps: number | null; verbose: number }) {}

  /** @internal */
  record(epoch: number, logs: Logs): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }
}

/** A deterministic PRNG (mulberry32) for shuffling with a seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function permutation(n: number, random: () => number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/**
 * Lets the event loop run (mapAsync callbacks, the page) without a timer's clamped delay:
 * setImmediate in Node, a MessageChannel message in browsers (setTimeout(0) waits 4 ms there
 * once nested, longer than a small model's whole step).
 */
const yieldToEventLoop: () => Promise<void> = typeof setImmediate === 'function'
  ? () => new Promise((resolve) => setImmediate(resolve))
  : (() => {
      const channel = new MessageChannel();
      const waiting: (() => void)[] = [];
      channel.port1.onmessage = () => waiting.shift()?.();
      return () => new Promise<void>((resolve) => {
        waiting.push(resolve);
        channel.port2.postMessage(0);
      });
    })();

/** Keeps at most about 2·window steps queued on the GPU, so a stop or an error takes effect soon. */
class Backpressure {
  private previous: Promise<unknown> | null = null;
  private count = 0;
  constructor(private readonly window = 16) {}
  async step(): Promise<void> {
    if (++this.count % this.window !== 0) return;
    const rt = runtime();
    const done = rt.untilLost(rt.device.queue.onSubmittedWorkDone()); // a lost device rejects rather than hangs
    const wait = this.previous;
    this.previous = done;
    if (wait) await wait;
  }
}

/** Each plan's ring of staging buffers over the training accumulator, made once per plan. */
const rings = new WeakMap<PlannedStep, RingReader>();

/** Where one epoch's metrics come from while it runs: the rings of the plans it used. */
class EpochMetrics {
  /** Per plan, the first run of this epoch: older samples belong to an earlier epoch. */
  private readonly since = new Map<PlannedStep, number>();
  constructor(private readonly accumulator: Tensor) {}

  /** Call after each run; the first call for a plan in an epoch marks where the epoch began. */
  track(planned: PlannedStep): void {
    if (this.since.has(planned)) return;
    if (!rings.has(planned)) rings.set(planned, planned.watch(this.accumulator));
    this.since.set(planned, planned.plan.runCount - 1);
  }

  /** The newest [loss sum, correct, count] delivered this epoch, or null. */
  latest(): Float32Array | null {
    let best: Float32Array | null = null;
    for (const [planned, since] of this.since) {
      const l = rings.get(planned)!.latest;
      if (l && l.run >= since && (!best || l.values[2] > best[2])) best = l.values;
    }
    return best;
  }
}

function logsFrom(values: ArrayLike<number>, metricName: string | null, prefix = ''): Logs {
  const count = Math.max(1, values[2]);
  const logs: Logs = { [`${prefix}loss`]: values[0] / count };
  if (metricName) logs[`${prefix}${metricName}`] = values[1] / count;
  return logs;
}

function batchPair(element: unknown, where: string): [Tensor, Tensor] {
  const named = element as { xs?: unknown; ys?: unknown } | null;
  const pair = Array.isArray(element) ? element : named && typeof named === 'object' && 'xs' in named ? [named.xs, named.ys] : null;
  if (!pair || pair.length !== 2) throw new Error(`${where}: each dataset element must be an [x, y] pair or { xs, ys } of batched tensors; batch the dataset with .batch(n)`);
  checkTensor(pair[0], where, 'a batch of x');
  checkTensor(pair[1], where, 'a batch of y');
  return pair as [Tensor, Tensor];
}

/** Checks labels against the compiled loss and the model's outputs; sparse float labels become int32. */
async function prepareLabels(model: Sequential, y: Tensor, where: string): Promise<Tensor> {
  const { loss } = model.compiledLoss(where);
  const units = model.outputShape[model.outputShape.length - 1];
  if (loss.kind === 'sparse') {
    if (!(y.rank === 1 || (y.rank === 2 && y.shape[1] === 1))) throw new Error(`${where}: '${loss.name}' expects integer labels of shape [batch], got ${y.describe()}`);
    const values = await y.data();
    for (const [i, v] of values.entries()) {
      if (!Number.isInteger(v) || v < 0 || v >= units) {
        throw new Error(`${where}: label ${i} is ${v}, but '${loss.name}' needs class indices in [0, ${units}) for the model's ${units} output units`);
      }
    }
    return y.dtype === 'int32' && y.rank === 1 ? y : tensor(Int32Array.from(values), [y.shape[0]], 'int32');
  }
  const out = model.outputShape;
  if (y.dtype !== 'float32') throw new Error(`${where}: '${loss.name}' expects float32 labels, got ${y.describe()}`);
  const expected = [y.shape[0], ...out];
  if (y.rank === 1 && out.length === 1 && out[0] === 1) return y;
  if (y.rank !== expected.length || y.shape.some((d, k) => d !== expected[k])) {
    throw new Error(`${where}: '${loss.name}' expects labels of shape [${expected.join(', ')}] to match the model's output, got ${y.describe()}`);
  }
  return y;
}

/** Rows [from, to) of `t`, as a new tensor. */
function rows(t: Tensor, from: number, to: number): Tensor {
  const idx = tensor(Int32Array.from({ length: to - from }, (_, i) => from + i), [to - from], 'int32');
  try {
    return gather(t, idx);
  } finally {
    idx.dispose();
  }
}

interface Source {
  /** Runs every batch of one epoch through `run`, which gets the planned step and the batch size. */
  epoch(run: (planned: PlannedStep, size: number) => Promise<boolean>): Promise<number>;
  /** Compiles the plans of the batch shapes known in advance, in parallel. */
  prepare(): Promise<void>;
  steps: number | null;
  dispose(): void;
}

function tensorSource(model: Sequential, purpose: 'train' | 'eval', x: Tensor, y: Tensor, batchSize: number, shuffle: boolean, random: () => number): Source {
  const n = x.shape[0];
  const step = model.step(purpose, gatherFeed([x, y]));
  const spec = (size: number) => [{ shape: [size], dtype: 'int32' as const }];
  return {
    steps: Math.ceil(n / batchSize),
    async prepare() {
      const sizes = new Set([Math.min(batchSize, n), n % batchSize].filter((s) => s > 0));
      await Promise.all([...sizes].map((size) => step.compile(spec(size))));
    },
    async epoch(run) {
      const order = shuffle ? permutation(n, random) : Int32Array.from({ length: n }, (_, i) => i);
      let batches = 0;
      for (let start = 0; start < n; start += batchSize) {
        const indices = order.subarray(start, Math.min(n, start + batchSize));
        const planned = step.planFor(spec(indices.length));
        planned.run([indices]);
        batches++;
        if (!(await run(planned, indices.length))) break;
      }
      return batches;
    },
    dispose() {},
  };
}

function datasetSource(model: Sequential, purpose: 'train' | 'eval', data: BatchSource, stepsPerEpoch: number | undefined, where: string): Source {
  let iterator: AsyncIterator<unknown> | Iterator<unknown> | null = null;
  const fresh = () => (Symbol.asyncIterator in data ? (data as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (data as Iterable<unknown>)[Symbol.iterator]());
  return {
    steps: stepsPerEpoch ?? null,
    async prepare() {},
    async epoch(run) {
      // Without stepsPerEpoch an epoch is one pass over the dataset; with it, batches continue where the last epoch stopped.
      if (!iterator || stepsPerEpoch === undefined) iterator = fresh();
      let batches = 0;
      while (stepsPerEpoch === undefined || batches < stepsPerEpoch) {
        const next = await iterator.next();
        if (next.done) {
          if (stepsPerEpoch !== undefined) iterator = null;
          break;
        }
        const [x, y] = batchPair(next.value, where);
        const size = x.shape[0];
        try {
          if (y.shape[0] !== size) throw new Error(`${where}: a batch has ${size} examples of x but ${y.shape[0]} labels`);
          const { loss } = model.compiledLoss(where);
          if (loss.kind === 'sparse' && y.dtype !== 'int32') {
            throw new Error(`${where}: '${loss.name}' expects int32 class indices, got ${y.describe()}; make the labels with dtype 'int32'`);
          }
          if (!model.isBuilt) model.build(x.shape.slice(1));
          // A new batch shape compiles its pipelines in parallel before its first run.
          const planned = await model.step(purpose).compile([x, y].map((t) => ({ shape: t.shape, dtype: t.dtype })));
          planned.run([x, y]);
          batches++;
          if (!(await run(planned, size))) break;
        } finally {
          x.dispose();
          y.dispose();
        }
      }
      return batches;
    },
    dispose() {
      if (iterator && 'return' in iterator && iterator.return) void iterator.return();
    },
  };
}

/**
 * The GPU-resident path for a Dataset that only reorders and batches tensors it was made from
 * (sf.data.fromTensorSlices(...).shuffle(...).batch(...), maps after batch): its columns are
 * uploaded once (uint8 pixels as packed bytes), each batch is the Dataset's own row indices,
 * gathered inside the compiled step, and maps after batch run there too. Null when the
 * pipeline cannot be resident or does not fit in the device's buffers.
 */
async function residentDatasetSource(model: Sequential, purpose: 'train' | 'eval', data: BatchSource, where: string, verbose: number): Promise<Source | null> {
  if (typeof (data as Partial<Resident>).residentSource !== 'function') return null;
  const rs = await (data as unknown as Resident).residentSource();
  if (!rs || rs.columns.length !== 2) return null;
  const rt = runtime();
  const owned: Tensor[] = [];
  const columns: (Tensor | PackedBytes)[] = [];
  for (const column of rs.columns) {
    const bytes = column.data instanceof Uint8Array ? column.data.byteLength : column.data.length * 4;
    if (bytes > rt.pool.maxBufferSize) {
      for (const t of owned) t.dispose();
      return null;
    }
    if (column.tensor && !column.tensor.isDisposed) {
      columns.push(column.tensor);
    } else if (column.data instanceof Uint8Array) {
      const packed = packBytes(column.data);
      const words = tensor(new Int32Array(packed.buffer, 0, packed.length), [packed.length], 'int32');
      owned.push(words);
      columns.push({ words, rows: column.shape[0], rowShape: column.shape.slice(1) });
    } else {
      const t = tensor(column.data, column.shape, column.dtype);
      owned.push(t);
      columns.push(t);
    }
  }
  const id = owned.map((t) => t.id).join(',') || columns.map((c) => (c as Tensor).id).join(',');
  const feed: Feed = {
    key: `resident ${id}`,
    inputs: (indices) => {
      let element = rs.assemble(columns.map((c) => ('words' in c ? gatherBytes(c, indices) : gather(c, indices))));
      for (const map of rs.maps) element = map(element);
      return batchPair(element, where);
    },
  };
  const step = model.step(purpose, feed);
  const spec = (size: number) => [{ shape: [size], dtype: 'int32' as const }];
  if (verbose >= 2) {
    const mb = columns.reduce((n, c) => n + ('words' in c ? c.words.size * 4 : c.size * 4), 0) / 2 ** 20;
    console.log(`${where}: the dataset is GPU-resident (${rs.rows} rows, ${mb.toFixed(1)} MiB uploaded once); each batch is gathered on the GPU`);
  }
  return {
    steps: rs.size,
    async prepare() {
      await step.compile(spec(rs.batchSize));
    },
    async epoch(run) {
      let batches = 0;
      for await (const indices of rs.indexBatches()) {
        const planned = await step.compile(spec(indices.length));
        planned.run([indices]);
        batches++;
        if (!(await run(planned, indices.length))) break;
      }
      return batches;
    },
    dispose() {
      for (const t of owned) t.dispose();
    },
  };
}

/** Evaluates on `source`, returning the logs (loss and metric) of all its batches. */
async function evaluateSource(model: Sequential, source: Source, metricName: string | null, prefix = ''): Promise<Logs> {
  await source.prepare();
  model.resetAccumulator('eval');
  const pressure = new Backpressure();
  await source.epoch(async () => {
    await pressure.step();
    return true;
  });
  const values = new Float32Array(await runtime().read(model.accumulator('eval').buffer, 16));
  return logsFrom(values, metricName, prefix);
}

function isTensorPair(v: unknown): v is [Tensor, Tensor] {
  return Array.isArray(v) && v.length === 2 && v.every((t) => t && typeof t === 'object' && 'shape' in t && 'dtype' in t && 'runtime' in t);
}

export async function fit(model: Sequential, xOrData: Tensor | BatchSource, yOrArgs?: Tensor | FitArgs, maybeArgs?: FitArgs): Promise<History> {
  const where = `model '${model.name}'.fit`;
  const isTensorInput = !!xOrData && typeof xOrData === 'object' && 'shape' in xOrData && 'dtype' in xOrData;
  const args: FitArgs = (isTensorInput ? maybeArgs : (yOrArgs as FitArgs)) ?? {};
  const { epochs = 1, batchSize = 32, shuffle = true, verbose = 1, initialEpoch = 0, terminateOnNaN = true } = args;
  const { metricName } = model.compiledLoss(where);
  if (model.fitting) throw new Error(`${where}: another fit of this model is still running; wait for it (await model.fit(...)) before starting a new one`);
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`${where}: epochs must be a positive integer, got ${JSON.stringify(epochs)}`);
  checkBatchSize(batchSize, where);
  model.fitting = true;
  model.stopTraining = false;
  const owned: Tensor[] = [];
  const callbacks = args.callbacks === undefined ? [] : Array.isArray(args.callbacks) ? args.callbacks : [args.callbacks];
  let train: Source | null = null;
  let validation: Source | null = null;
  try {
    const random = args.seed === undefined ? Math.random : prng(args.seed);
    if (isTensorInput) {
      const x = xOrData as Tensor;
      const y0 = yOrArgs as Tensor;
      checkTensor(x, where, 'x');
      checkTensor(y0, where, 'y');
      if (x.rank < 2) throw new Error(`${where}: x needs a batch dimension first, got ${x.describe()}`);
      if (x.shape[0] !== y0.shape[0]) throw new Error(`${where}: x has ${x.shape[0]} examples but y has ${y0.shape[0]}`);
      if (x.dtype !== 'float32') throw new Error(`${where}: x must be float32, got ${x.describe()}`);
      model.build(x.shape.slice(1));
      let y = await prepareLabels(model, y0, where);
      if (y !== y0) owned.push(y);
      let xTrain = x;
      const split = args.validationSplit ?? 0;
      if (!(split >= 0 && split < 1)) throw new Error(`${where}: validationSplit must be in [0, 1), got ${split}`);
      if (split > 0) {
        const n = Math.floor(x.shape[0] * (1 - split));
        if (n < 1 || n >= x.shape[0]) throw new Error(`${where}: validationSplit ${split} leaves no ${n < 1 ? 'training' : 'validation'} examples of ${x.shape[0]}`);
        const parts = [rows(x, 0, n), rows(y, 0, n), rows(x, n, x.shape[0]), rows(y, n, x.shape[0])];
        owned.push(...parts);
        [xTrain, y] = parts;
        validation = tensorSource(model, 'eval', parts[2], parts[3], batchSize, false, random);
      }
      train = tensorSource(model, 'train', xTrain, y, batchSize, shuffle, random);
    } else {
      if (!xOrData || (typeof xOrData !== 'object' && typeof xOrData !== 'function') || !(Symbol.asyncIterator in (xOrData as object) || Symbol.iterator in (xOrData as object))) {
        throw new Error(`${where}: expected x and y tensors, or a dataset of [x, y] batches, got ${xOrData === null ? 'null' : typeof xOrData}`);
      }
      const data = xOrData as BatchSource;
      train = (args.stepsPerEpoch === undefined ? await residentDatasetSource(model, 'train', data, where, verbose) : null)
        ?? datasetSource(model, 'train', data, args.stepsPerEpoch, where);
    }
    if (args.validationData !== undefined) {
      const v = args.validationData;
      if (isTensorPair(v)) {
        const vy = await prepareLabels(model, v[1], `${where} (validationData)`);
        if (vy !== v[1]) owned.push(vy);
        validation = tensorSource(model, 'eval', v[0], vy, batchSize, false, random);
      } else {
        validation = (await residentDatasetSource(model, 'eval', v as BatchSource, `${where} (validationData)`, verbose))
          ?? datasetSource(model, 'eval', v as BatchSource, undefined, `${where} (validationData)`);
      }
    }

    await Promise.all([train.prepare(), validation?.prepare()]);
    const history = new History({ epochs, steps: train.steps, verbose });
    const progress = verbose > 0 ? new Progress(verbose, epochs) : null;
    for (const cb of callbacks) cb.setModel?.(model);
    for (const cb of callbacks) await cb.onTrainBegin?.();
    const accumulator = model.accumulator('train');
    for (let epoch = initialEpoch; epoch < epochs && !model.stopTraining; epoch++) {
      for (const cb of callbacks) await cb.onEpochBegin?.(epoch);
      model.resetAccumulator('train');
      const metrics = new EpochMetrics(accumulator);
      progress?.beginEpoch(epoch, train.steps);
      const pressure = new Backpressure();
      const started = performance.now();
      let batch = 0;
      let nanAt: number | null = null;
      await train.epoch(async (planned, size) => {
        metrics.track(planned);
        model.advanceStep();
        const latest = metrics.latest();
        const logs: Logs = { batch, size, ...(latest ? logsFrom(latest, metricName) : {}) };
        if (terminateOnNaN && latest && Number.isNaN(latest[0]) && nanAt === null) nanAt = batch;
        batch++;
        for (const cb of callbacks) await cb.onBatchEnd?.(batch - 1, logs);
        progress?.batch(batch, performance.now() - started, latest ? logsFrom(latest, metricName) : null);
        if (nanAt !== null) return false;
        await pressure.step();
        await yieldToEventLoop();
        return !model.stopTraining;
      });
      const exact = new Float32Array(await runtime().read(accumulator.buffer, 16));
      const logs = logsFrom(exact, metricName);
      if (terminateOnNaN && !Number.isFinite(logs.loss)) {
        throw new Error(
          `${where}: the loss became ${logs.loss} in epoch ${epoch + 1}${nanAt !== null ? `, by batch ${nanAt + 1}` : ''}: ` +
            'the learning rate may be too high, or a label lies outside the range of the output units. Training stopped (terminateOnNaN).',
        );
      }
      if (validation) Object.assign(logs, await evaluateSource(model, validation, metricName, 'val_'));
      history.record(epoch, logs);
      progress?.endEpoch(batch, performance.now() - started, logs);
      for (const cb of callbacks) await cb.onEpochEnd?.(epoch, logs);
    }
    for (const cb of callbacks) await cb.onTrainEnd?.();
    return history;
  } finally {
    train?.dispose();
    validation?.dispose();
    for (const t of owned) t.dispose();
    model.fitting = false;
  }
}

/** model.evaluate: [loss, metric] as scalars (the loss alone without a metric), as TF.js. */
export async function evaluate(model: Sequential, xOrData: Tensor | BatchSource, yOrArgs?: Tensor | { batchSize?: number }, maybeArgs?: { batchSize?: number }): Promise<Tensor | Tensor[]> {
  const where = `model '${model.name}'.evaluate`;
  const { metricName } = model.compiledLoss(where);
  const isTensorInput = !!xOrData && typeof xOrData === 'object' && 'shape' in xOrData;
  let logs: Logs;
  if (isTensorInput) {
    const x = xOrData as Tensor;
    const y0 = yOrArgs as Tensor;
    const { batchSize = 32 } = maybeArgs ?? {};
    checkBatchSize(batchSize, where);
    checkTensor(x, where, 'x');
    checkTensor(y0, where, 'y');
    if (x.shape[0] !== y0.shape[0]) throw new Error(`${where}: x has ${x.shape[0]} examples but y has ${y0.shape[0]}`);
    model.build(x.shape.slice(1));
    const y = await prepareLabels(model, y0, where);
    try {
      logs = await evaluateSource(model, tensorSource(model, 'eval', x, y, batchSize, false, Math.random), metricName);
    } finally {
      if (y !== y0) y.dispose();
    }
  } else {
    const data = xOrData as BatchSource;
    const source = (await residentDatasetSource(model, 'eval', data, where, 0)) ?? datasetSource(model, 'eval', data, undefined, where);
    try {
      logs = await evaluateSource(model, source, metricName);
    } finally {
      source.dispose();
    }
  }
  const loss = scalar(logs.loss);
  return metricName ? [loss, scalar(logs[metricName])] : loss;
}

/** Keras 3's progress line: `12/24 ━━━━━━━━━━────────── 1s 20ms/step - accuracy: 0.6625 - loss: 0.8283`. */
class Progress {
  private readonly tty: boolean;
  private readonly write: ((s: string) => void) | null;
  private steps: number | null = null;
  private lastDraw = 0;

  constructor(private readonly verbose: number, private readonly epochs: number) {
    const stdout = typeof process !== 'undefined' ? (process.stdout as { isTTY?: boolean; write?: (s: string) => void } | undefined) : undefined;
    this.write = stdout?.write ? (s) => stdout.write!(s) : null;
    this.tty = !!stdout?.isTTY && verbose === 1;
  }

  beginEpoch(epoch: number, steps: number | null): void {
    this.steps = steps;
    this.print(`Epoch ${epoch + 1}/${this.epochs}`);
  }

  batch(done: number, ms: number, logs: Logs | null): void {
    if (!this.tty || performance.now() - this.lastDraw < 100) return;
    this.lastDraw = performance.now();
    this.write!(`\r${this.line(done, ms, logs ?? {}, true)}\x1b[K`);
  }

  endEpoch(done: number, ms: number, logs: Logs): void {
    const line = this.line(done, ms, logs, false);
    if (this.tty) this.write!(`\r${line}\x1b[K\n`);
    else this.print(line);
  }

  private line(done: number, ms: number, logs: Logs, running: boolean): string {
    const total = this.steps ?? done;
    const width = 20;
    const filled = total ? Math.min(width, Math.round((width * done) / total)) : width;
    const bar = '━'.repeat(filled) + (running ? '─'.repeat(width - filled) : '━'.repeat(width - filled));
    const perStep = done ? ms / done : 0;
    const time = running && this.steps ? `${Math.ceil(((total - done) * perStep) / 1000)}s` : `${Math.round(ms / 1000)}s`;
    const stepTime = perStep >= 1 ? `${Math.round(perStep)}ms/step` : `${Math.round(perStep * 1000)}us/step`;
    const values = Object.keys(logs)
      .filter((k) => k !== 'batch' && k !== 'size')
      .sort((a, b) => Number(a.startsWith('val_')) - Number(b.startsWith('val_')) || a.localeCompare(b))
      .map((k) => `${k}: ${logs[k].toFixed(4)}`);
    return [`${String(done).padStart(String(total).length)}/${total} ${bar} ${time} ${stepTime}`, ...values].join(' - ');
  }

  private print(line: string): void {
    if (this.write) this.write(`${line}\n`);
    else console.log(line);
  }
}

export interface EarlyStoppingArgs {
  monitor?: string;
  minDelta?: number;
  patience?: number;
  mode?: 'auto' | 'min' | 'max';
  baseline?: number;
  restoreBestWeights?: boolean;
}

/** Stops fit when `monitor` stops improving for `patience` epochs, as tf.callbacks.earlyStopping. */
export class EarlyStopping implements Callback {
  private model: Sequential | null = null;
  private best = Infinity;
  private wait = 0;
  private bestWeights: Float32Array[] | null = null;
  readonly monitor: string;
  stoppedEpoch = 0;

  constructor(private readonly args: EarlyStoppingArgs = {}) {
    this.monitor = args.monitor ?? 'val_loss';
  }

  setModel(model: Sequential): void {
    this.model = model;
  }

  private sign(): number {
    const mode = this.args.mode ?? 'auto';
    if (mode === 'max' || (mode === 'auto' && /acc/.test(this.monitor))) return -1;
    return 1;
  }

  async onTrainBegin(): Promise<void> {
    this.best = this.args.baseline !== undefined ? this.sign() * this.args.baseline : Infinity;
    this.wait = 0;
    this.bestWeights = null;
  }

  async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    const value = logs[this.monitor];
    if (value === undefined) {
      throw new Error(`earlyStopping: the monitored value '${this.monitor}' is not among the epoch's logs (${Object.keys(logs).join(', ')})`);
    }
    const score = this.sign() * value;
    if (score < this.best - Math.abs(this.args.minDelta ?? 0)) {
      this.best = score;
      this.wait = 0;
      if (this.args.restoreBestWeights && this.model) this.bestWeights = await Promise.all(this.model.weights.map((w) => w.tensor.data() as Promise<Float32Array>));
      return;
    }
    if (++this.wait > (this.args.patience ?? 0) && this.model) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
    }
  }

  async onTrainEnd(): Promise<void> {
    if (!this.model || !this.bestWeights || !this.model.stopTraining) return;
    this.model.weights.forEach((w, k) => w.tensor.runtime.write(w.tensor.buffer, this.bestWeights![k]));
  }
}

export const callbacks = {
  earlyStopping: (args?: EarlyStoppingArgs): EarlyStopping => new EarlyStopping(args),
};
