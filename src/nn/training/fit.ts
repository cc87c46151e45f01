// model.fit and model.evaluate: the training loop around compiled steps. Metrics accumulate on
// the GPU; batch callbacks and the progress bar read them through a ring of staging buffers a
// few steps late, and each epoch's values are read exactly at its end.

import { runtime } from '../../gpu/device.js';
import type { RingReader } from '../../gpu/scheduler.js';
import { Random } from '../random.js';
import type { PlannedStep } from '../step.js';
import { scalar, type Tensor } from '../tensor.js';
import { type Callback, History, type Logs } from './callbacks.js';
import { checkBatchSize, checkTensor } from './feed.js';
import { checkFinite, nonFiniteIn, skipHint } from './finite.js';
import { Progress } from './progress.js';
import { residentDatasetSource } from './resident.js';
import { type BatchSource, datasetSource, isTensorPair, prepareLabels, rows, type Source, tensorSource } from './sources.js';
import type { TrainableModel } from './trainable.js';

export type { BatchSource };

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
  /** Stop with an Error naming the epoch and batch once the loss is NaN or infinite (default true). */
  terminateOnNaN?: boolean;
  /**
   * Refuse non-finite inputs (default true): tensors are checked once before training, one GPU
   * pass each; dataset batches by the training step, which records the first bad value it meets.
   */
  checkInputs?: boolean;
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

/**
 * What fit and evaluate read: the model and the tensors they were given, held while they run so
 * that a dispose() meanwhile cannot free memory queued steps still use; check() throws, naming
 * what was disposed, at the next batch.
 */
class Holds {
  private readonly tensors: [string, Tensor][] = [];
  constructor(private readonly model: TrainableModel, readonly where: string, private readonly during: string) {
    model.hold();
  }

  /**
   * Checks a pair of tensors given as examples and labels (tensors, neither disposed; x float32
   * of the model's input shape, not empty; as many labels as examples) and holds both.
   */
  pair(x: unknown, y: unknown, [xName, yName]: readonly [string, string]): [Tensor, Tensor] {
    checkTensor(x, this.where, xName);
    if (x.dtype !== 'float32') throw new Error(`${this.where}: ${xName} must be float32, got ${x.describe()}`);
    checkTensor(y, this.where, yName);
    this.model.checkInput(x.shape, this.where, xName);
    if (x.shape[0] === 0) throw new Error(`${this.where}: ${xName} is empty (shape [${x.shape.join(', ')}]); expected at least one example`);
    if (x.shape[0] !== y.shape[0]) throw new Error(`${this.where}: ${xName} has ${x.shape[0]} examples but ${yName} has ${y.shape[0]}`);
    for (const [t, name] of [[x, xName], [y, yName]] as const) {
      t.hold();
      this.tensors.push([name, t]);
    }
    return [x, y];
  }

  check(): void {
    if (this.model.isDisposed) throw new Error(`${this.where}: the model was disposed during ${this.during}`);
    for (const [name, t] of this.tensors) if (t.isDisposed) throw new Error(`${this.where}: ${name} was disposed during ${this.during}`);
  }

  release(): void {
    for (const [, t] of this.tensors) t.release();
    this.model.release();
  }
}

/** The error for a dataset that yielded no batch in a pass. */
function noBatches(where: string, what: string): Error {
  return new Error(`${where}: ${what} yielded no batches; expected at least one [x, y] batch (is it empty, or cut to nothing by take(), skip() or filter()?)`);
}

/** Evaluates on `source`, returning the logs (loss and metric) of all its batches. */
async function evaluateSource(model: TrainableModel, source: Source, metricName: string | null, holds: Holds, what: string, prefix = ''): Promise<Logs> {
  await source.prepare();
  model.resetAccumulator('eval');
  const pressure = new Backpressure();
  const batches = await source.epoch(async () => {
    await pressure.step();
    holds.check();
    return true;
  });
  holds.check();
  if (batches === 0) throw noBatches(holds.where, what);
  const values = new Float32Array(await runtime().read(model.accumulator('eval').buffer, 16));
  return logsFrom(values, metricName, prefix);
}

export async function fit(model: TrainableModel, xOrData: Tensor | BatchSource, yOrArgs?: Tensor | FitArgs, maybeArgs?: FitArgs): Promise<History> {
  const where = `model '${model.name}'.fit`;
  const isTensorInput = !!xOrData && typeof xOrData === 'object' && 'shape' in xOrData && 'dtype' in xOrData;
  const args: FitArgs = (isTensorInput ? maybeArgs : (yOrArgs as FitArgs)) ?? {};
  const { epochs = 1, batchSize = 32, shuffle = true, verbose = 1, initialEpoch = 0, terminateOnNaN = true, checkInputs = true } = args;
  const { metricName } = model.compiledLoss(where);
  if (model.fitting) throw new Error(`${where}: another fit of this model is still running; wait for it (await model.fit(...)) before starting a new one`);
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`${where}: epochs must be a positive integer, got ${JSON.stringify(epochs)}`);
  checkBatchSize(batchSize, where);
  model.fitting = true;
  model.stopTraining = false;
  const holds = new Holds(model, where, 'fit');
  const owned: Tensor[] = [];
  const callbacks = args.callbacks === undefined ? [] : Array.isArray(args.callbacks) ? args.callbacks : [args.callbacks];
  let train: Source | null = null;
  let validation: Source | null = null;
  try {
    const random = args.seed === undefined ? null : new Random(args.seed);
    if (isTensorInput) {
      const [x, y0] = holds.pair(xOrData, yOrArgs, ['x', 'y']);
      if (checkInputs) await Promise.all([checkFinite(x, where, 'x'), checkFinite(y0, where, 'y')]);
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
      train = (args.stepsPerEpoch === undefined ? await residentDatasetSource(model, 'train', data, where, verbose, checkInputs) : null)
        ?? datasetSource(model, 'train', data, args.stepsPerEpoch, where, checkInputs);
    }
    if (args.validationData !== undefined) {
      const v = args.validationData;
      if (isTensorPair(v)) {
        holds.pair(v[0], v[1], ['validationData[0]', 'validationData[1]']);
        if (checkInputs) await Promise.all([checkFinite(v[0], where, 'validationData[0]'), checkFinite(v[1], where, 'validationData[1]')]);
        const vy = await prepareLabels(model, v[1], `${where} (validationData)`);
        if (vy !== v[1]) owned.push(vy);
        validation = tensorSource(model, 'eval', v[0], vy, batchSize, false, random);
      } else {
        validation = (await residentDatasetSource(model, 'eval', v as BatchSource, `${where} (validationData)`, verbose, checkInputs))
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
      const firstStep = model.trainSteps;
      const batches = await train.epoch(async (planned, size) => {
        metrics.track(planned);
        model.advanceStep();
        const latest = metrics.latest();
        const logs: Logs = { batch, size, ...(latest ? logsFrom(latest, metricName) : {}) };
        if (latest && nanAt === null && (nonFiniteIn(latest) || (terminateOnNaN && !Number.isFinite(latest[0])))) nanAt = batch;
        batch++;
        for (const cb of callbacks) await cb.onBatchEnd?.(batch - 1, logs);
        progress?.batch(batch, performance.now() - started, latest ? logsFrom(latest, metricName) : null);
        if (nanAt !== null) return false;
        await pressure.step();
        await yieldToEventLoop();
        holds.check();
        return !model.stopTraining;
      });
      holds.check();
      if (batches === 0) throw noBatches(where, `the dataset, in epoch ${epoch + 1},`);
      const exact = new Float32Array(await runtime().read(accumulator.buffer, accumulator.size * 4));
      const bad = nonFiniteIn(exact);
      if (bad) {
        throw new Error(
          `${where}: a batch of ${bad.which === 0 ? 'x' : 'y'} from the dataset holds ${bad.value} at sample ${bad.sample} (element ${bad.element} of it) ` +
            `of batch ${bad.step - firstStep + 1} in epoch ${epoch + 1}; expected finite values only. Training stopped there, after that batch's step ` +
            `had updated the weights. Clean the data, or ${skipHint}`,
        );
      }
      const logs = logsFrom(exact, metricName);
      if (terminateOnNaN && !Number.isFinite(logs.loss)) {
        throw new Error(
          `${where}: the loss became ${logs.loss} in epoch ${epoch + 1}${nanAt !== null ? `, by batch ${nanAt + 1}` : ''}: ` +
            'the learning rate may be too high, or a label lies outside the range of the output units. Training stopped (terminateOnNaN).',
        );
      }
      if (validation) Object.assign(logs, await evaluateSource(model, validation, metricName, holds, 'validationData', 'val_'));
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
    holds.release();
  }
}

/** model.evaluate: [loss, metric] as scalars (the loss alone without a metric), as TF.js. */
export async function evaluate(model: TrainableModel, xOrData: Tensor | BatchSource, yOrArgs?: Tensor | { batchSize?: number }, maybeArgs?: { batchSize?: number }): Promise<Tensor | Tensor[]> {
  const where = `model '${model.name}'.evaluate`;
  const { metricName } = model.compiledLoss(where);
  const isTensorInput = !!xOrData && typeof xOrData === 'object' && 'shape' in xOrData;
  let logs: Logs;
  if (isTensorInput) {
    const { batchSize = 32 } = maybeArgs ?? {};
    checkBatchSize(batchSize, where);
    const holds = new Holds(model, where, 'evaluate');
    let converted: Tensor | null = null; // labels prepareLabels made
    try {
      const [x, given] = holds.pair(xOrData, yOrArgs, ['x', 'y']);
      const y = await prepareLabels(model, given, where);
      if (y !== given) converted = y;
      logs = await evaluateSource(model, tensorSource(model, 'eval', x, y, batchSize, false, null), metricName, holds, 'x');
    } finally {
      converted?.dispose();
      holds.release();
    }
  } else {
    if (!xOrData || typeof xOrData !== 'object' || !(Symbol.asyncIterator in xOrData || Symbol.iterator in xOrData)) {
      throw new Error(`${where}: expected x and y tensors, or a dataset of [x, y] batches, got ${xOrData === null ? 'null' : typeof xOrData}`);
    }
    const holds = new Holds(model, where, 'evaluate');
    let source: Source | null = null;
    try {
      const data = xOrData as BatchSource;
      source = (await residentDatasetSource(model, 'eval', data, where, 0)) ?? datasetSource(model, 'eval', data, undefined, where);
      logs = await evaluateSource(model, source, metricName, holds, 'the dataset');
    } finally {
      source?.dispose();
      holds.release();
    }
  }
  const loss = scalar(logs.loss);
  return metricName ? [loss, scalar(logs[metricName])] : loss;
}

