// The Sequential model: a stack of layers with Keras's compile / fit / evaluate / predict /
// summary. Training, evaluation and prediction each run as compiled steps (one plan per batch
// shape), so a whole epoch stays on the GPU; fit's loop lives in fit.ts.

import { runtime } from '../gpu/device.js';
import type { Profile } from '../gpu/scheduler.js';
import { metricsAccumulatorSize } from '../shaders/metrics.js';
import { gradients } from './autodiff.js';
import { activeTrace } from './graph.js';
import { lossPerExample } from './losses.js';
import { Layer, type LayerActivation } from './layers/index.js';
import { accumulateMetrics, mean, recordNonFinite, reshape, toHalf } from './ops.js';
import { Optimizer, optimizerFrom } from './optimizers.js';
import { type IOHandler, saveModel } from './io/save.js';
import { CompiledStep } from './step.js';
import { emptyTensor, tensor, Tensor } from './tensor.js';
import type { History } from './training/callbacks.js';
import { checkBatchSize, checkTensor, type Feed } from './training/feed.js';
import { type BatchSource, evaluate, fit, type FitArgs } from './training/fit.js';
import { type LossPlan, lossPlan, metricName } from './training/objectives.js';
import type { CompiledLoss, TrainableModel } from './training/trainable.js';

export interface CompileArgs {
  /** An optimizer object or 'sgd' | 'rmsprop' | 'adam'; rmsprop when omitted, as in Keras. */
  optimizer?: Optimizer | string;
  loss: string;
  metrics?: string[];
  /**
   * 'float16': the forward products (Dense, Conv2D) read half-precision copies of their weights,
   * made at the start of each step, and accumulate in float32; the weights, their gradients,
   * the optimizer and the backward products stay float32. Needs an adapter with 'shader-f16'.
   * Default 'float32'.
   */
  forwardWeights?: 'float32' | 'float16';
}

const fmt = (shape: readonly (number | null)[]): string => `[${shape.map((d) => d ?? 'None').join(', ')}]`;
/** A shape in messages, the batch as null (as TF.js writes it). */
const shapeText = (shape: readonly (number | null)[]): string => `[${shape.map((d) => d ?? 'null').join(', ')}]`;

export class Sequential implements TrainableModel {
  readonly layers: Layer[] = [];
  readonly name: string;
  optimizer: Optimizer | null = null;
  private compiled: CompiledLoss | null = null;
  /** What the forward products read the weights as (compile's forwardWeights). */
  private forwardWeights: 'float32' | 'float16' = 'float32';
  private stepsRun = 0;
  /** Set by a callback (early stopping) to end fit after the current epoch. */
  stopTraining = false;
  /** @internal Guards against two fits at once. */
  fitting = false;
  private disposed = false;
  /** fit and evaluate running: a dispose meanwhile waits for them to stop. */
  private holds = 0;
  /** @internal Plans by purpose; made on first use. */
  readonly steps = new Map<string, CompiledStep>();
  /** @internal [loss sum, correct, count, and a non-finite input found] of the running epoch, and of evaluation. */
  readonly accumulators: { train: Tensor | null; eval: Tensor | null } = { train: null, eval: null };

  constructor({ layers = [], name = 'sequential' }: { layers?: Layer[]; name?: string } = {}) {
    this.name = name;
    for (const layer of layers) this.add(layer);
  }

  /** Training steps run so far: seeds dropout (through the optimizer's step state). */
  get trainSteps(): number {
    return this.stepsRun;
  }

  set trainSteps(value: number) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`model '${this.name}': trainSteps must be an integer ≥ 0, got ${value}`);
    this.stepsRun = value;
    this.optimizer?.state.set({ step: value });
  }

  /**
   * @internal After a training step was submitted: the step counter and the optimizer's
   * iteration move on in one 16-byte write, ordered before the next step.
   */
  advanceStep(): void {
    this.stepsRun++;
    this.optimizer!.state.advance();
  }

  add(layer: Layer): void {
    this.checkUsable('Sequential.add');
    if (!(layer instanceof Layer)) throw new Error(`Sequential.add: expected a layer (sf.layers.dense(...) and friends), got ${layer === null ? 'null' : typeof layer}`);
    if (this.layers.some((l) => l.name === layer.name)) throw new Error(`Sequential.add: the model already has a layer named '${layer.name}'`);
    this.layers.push(layer);
    this.invalidate();
  }

  /** Plans depend on the layers and the loss: a change throws them away. */
  private invalidate(): void {
    for (const step of this.steps.values()) step.dispose();
    this.steps.clear();
  }

  get isBuilt(): boolean {
    return this.layers.length > 0 && this.layers.every((l) => l.inputShape !== null) && this.layers.every((l) => l.built);
  }

  /** The input shape without the batch, once known. */
  get inputShape(): number[] | null {
    return this.layers[0]?.inputShape ?? null;
  }

  /** Creates every layer's weights for inputs of `inputShape` (without the batch), checking each layer's fit. */
  build(inputShape: readonly number[]): void {
    this.checkUsable(`model '${this.name}'.build`);
    if (this.layers.length === 0) throw new Error(`model '${this.name}' has no layers: add some before using it`);
    let shape = [...inputShape];
    for (const layer of this.layers) {
      layer.build(shape);
      shape = layer.outputShape(shape);
    }
  }

  /** Builds from the first layer's inputShape when it was given. */
  private ensureBuilt(): void {
    this.checkUsable(`model '${this.name}'`);
    const shape = this.inputShape;
    if (!shape) throw new Error(`model '${this.name}' is not built yet: give the first layer an inputShape, or call fit or predict with data first`);
    if (!this.isBuilt) this.build(shape);
  }

  /**
   * @internal Checks the shape of a batch of inputs (`name`, batch first) against the model's
   * input shape, declared by the first layer or taken from the first data it saw, and builds
   * the model on first use. A model never rebuilds for data of another shape.
   */
  checkInput(shape: readonly number[], where: string, name = 'x'): void {
    this.checkUsable(where);
    if (this.layers.length === 0) throw new Error(`${where}: the model has no layers: add some before using it`);
    const expected = this.inputShape;
    if (expected ? !(shape.length === expected.length + 1 && sameShape(shape.slice(1), expected)) : shape.length < 2) {
      const want = expected ? `of shape ${shapeText([null, ...expected])}` : 'with a batch dimension first and at least one feature dimension';
      throw new Error(`${where}: expected ${name} ${want}, got ${shapeText(shape)}`);
    }
    if (!this.isBuilt) this.build(shape.slice(1));
  }

  /** @internal Throws once the model was disposed. */
  checkUsable(where: string): void {
    if (this.disposed) throw new Error(`${where}: the model was disposed and can no longer be used; build or load it again`);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** @internal fit and evaluate hold the model while they run, so dispose() waits for them. */
  hold(): void {
    this.holds++;
  }

  /** @internal The end of a hold; frees the model if it was disposed meanwhile. */
  release(): void {
    if (--this.holds === 0 && this.disposed) this.free();
  }

  get outputShape(): number[] {
    this.ensureBuilt();
    let shape = this.inputShape!;
    for (const layer of this.layers) shape = layer.outputShape(shape);
    return shape;
  }

  /** Every weight, in layer order (kernel, then bias), as model.json lists them. */
  get weights(): { name: string; tensor: Tensor }[] {
    return this.layers.flatMap((l) => l.weights);
  }

  get trainableWeights(): Tensor[] {
    return this.layers.filter((l) => l.trainable).flatMap((l) => l.weights.map((w) => w.tensor));
  }

  countParams(): number {
    return this.layers.reduce((n, l) => n + l.countParams(), 0);
  }

  compile({ optimizer = 'rmsprop', loss, metrics = [], forwardWeights = 'float32' }: CompileArgs): void {
    const where = `model '${this.name}'.compile`;
    this.checkUsable(where);
    if (this.fitting) throw new Error(`${where}: fit is running; compile after it ends (await model.fit(...))`);
    if (forwardWeights !== 'float32' && forwardWeights !== 'float16') throw new Error(`${where}: forwardWeights must be 'float32' or 'float16', got ${JSON.stringify(forwardWeights)}`);
    const info = runtime().info;
    if (forwardWeights === 'float16' && !info.features.includes('shader-f16')) {
      throw new Error(
        `${where}: forwardWeights 'float16' needs a device with the 'shader-f16' feature, which this one (${info.description || info.device || 'the adapter'}) was not given: ` +
          `it has ${info.features.join(', ') || 'no optional features'}. On a CPU adapter, ask for it before anything else with sf.ready({ halfPrecision: true }) (or SHADERFLOW_F16=1 in Node); ` +
          'an adapter without it cannot read halves',
      );
    }
    this.forwardWeights = forwardWeights;
    this.optimizer?.dispose();
    this.optimizer = optimizerFrom(optimizer, where);
    this.optimizer.state.set({ step: this.stepsRun });
    const metric = metricName(metrics, where);
    this.compiled = { loss: this.lossPlan(loss, where), metricName: metric };
    this.invalidate();
  }

  private lossPlan(loss: unknown, where: string): LossPlan {
    const last = this.layers[this.layers.length - 1];
    if (!last) return lossPlan(loss, null, where);
    const activation = ('activation' in last ? last.activation : 'linear') as LayerActivation;
    const units = 'units' in last ? (last.units as number) : undefined;
    return lossPlan(loss, { activation, units, description: last.describe() }, where);
  }

  /** @internal The compiled loss and metric; throws before compile. */
  compiledLoss(where: string): CompiledLoss {
    this.checkUsable(where);
    if (!this.compiled) throw new Error(`${where}: the model must be compiled first: call model.compile({ optimizer, loss, metrics })`);
    return this.compiled;
  }

  /** Runs the layers: training enables dropout; `logits` stops before a softmax/sigmoid the loss fuses. */
  apply(x: Tensor, { training = false, logits = false } = {}): Tensor {
    let y = x;
    const state = training ? this.optimizer?.state.tensor : undefined;
    const weight = this.forwardWeights === 'float16' ? toHalf : undefined;
    for (const layer of this.layers) y = layer.call(y, { training, logits, state, weight });
    return y;
  }

  /**
   * @internal The per-example loss and the predictions the metrics compare (logits where the
   * loss fuses the output activation), with labels shaped as the loss kernel wants them.
   */
  lossAndPredictions(x: Tensor, y: Tensor, training: boolean): { perExample: Tensor; predictions: Tensor; labels: Tensor } {
    const { loss } = this.compiledLoss('model.fit');
    const predictions = this.apply(x, { training, logits: loss.fromLogits });
    const labels = loss.kind === 'sparse' && y.rank === 2 && y.shape[1] === 1 ? reshape(y, [y.shape[0]]) : y;
    let perExample = lossPerExample(loss.kind, labels, predictions);
    if (perExample.size !== predictions.shape[0]) perExample = mean(reshape(perExample, [predictions.shape[0], -1]), 1);
    return { perExample, predictions, labels };
  }

  /**
   * @internal A compiled step for `purpose`: 'train' (forward, loss, gradients, optimizer
   * update, metrics), 'eval' (forward, loss, metrics) or 'predict'. With a feed, the step's
   * one input is a list of row indices from which the feed builds the batch on the GPU. A
   * `checked` training step also records its batch's first non-finite input in the accumulator.
   */
  step(purpose: 'train' | 'eval' | 'predict', feed?: Feed, checked = false): CompiledStep {
    const key = `${purpose}${checked ? '+check' : ''}${feed ? ` ${feed.key}` : ''}`;
    let step = this.steps.get(key);
    if (step) return step;
    // One fed step per purpose: a fit on new tensors frees the plans made for the old ones.
    for (const [k, old] of this.steps) {
      if (feed && k.startsWith(`${purpose} `)) {
        old.dispose();
        this.steps.delete(k);
      }
    }
    const inputs = (args: Tensor[]): Tensor[] => (feed ? feed.inputs(args[0]) : args);
    if (purpose === 'predict') {
      step = new CompiledStep(`${this.name} predict`, (...args) => {
        const [x] = inputs(args);
        this.checkInput(x.shape, `model '${this.name}'.predict`);
        return [this.apply(x)];
      });
    } else {
      const accumulator = this.accumulator(purpose);
      step = new CompiledStep(`${this.name} ${purpose}`, (...args) => {
        const [x, y] = inputs(args);
        this.checkInput(x.shape, `model '${this.name}'.${purpose === 'train' ? 'fit' : 'evaluate'}`); // weights are made for real even while tracing
        const { loss } = this.compiledLoss(`model.${purpose === 'train' ? 'fit' : 'evaluate'}`);
        if (purpose === 'train') {
          if (checked) {
            const state = this.optimizer!.state.tensor;
            recordNonFinite(x, state, accumulator, 0);
            if (y.dtype === 'float32') recordNonFinite(y, state, accumulator, 1);
          }
          const params = this.trainableWeights;
          let record: { perExample: Tensor; predictions: Tensor; labels: Tensor } | null = null;
          const { grads } = lossGradients(params, () => {
            record = this.lossAndPredictions(x, y, true);
            return mean(record.perExample);
          });
          this.optimizer!.applyGradients(params.map((p, k) => [p, grads[k]] as const));
          const r = record!;
          accumulateMetrics(r.predictions, r.labels, r.perExample, accumulator, loss.metric, loss.threshold);
        } else {
          const r = this.lossAndPredictions(x, y, false);
          accumulateMetrics(r.predictions, r.labels, r.perExample, accumulator, loss.metric, loss.threshold);
        }
        return [];
      });
    }
    this.steps.set(key, step);
    return step;
  }

  /** @internal The metrics accumulator of training or evaluation. */
  accumulator(which: 'train' | 'eval'): Tensor {
    this.accumulators[which] ??= tensor(new Float32Array(metricsAccumulatorSize));
    return this.accumulators[which]!;
  }

  /** @internal Zeroes an accumulator before an epoch or an evaluation (ordered after submitted steps). */
  resetAccumulator(which: 'train' | 'eval'): void {
    const acc = this.accumulator(which);
    acc.runtime.write(acc.buffer, new Float32Array(metricsAccumulatorSize));
  }

  /**
   * Predictions for `x` in batches of `batchSize`, as one tensor; x stays on the GPU and each
   * batch is gathered there by a compiled step.
   */
  predict(x: Tensor, { batchSize = 32 }: { batchSize?: number } = {}): Tensor {
    const where = `model '${this.name}'.predict`;
    checkTensor(x, where, 'x');
    checkBatchSize(batchSize, where);
    this.checkInput(x.shape, where);
    const outShape = [x.shape[0], ...this.outputShape];
    const out = emptyTensor(outShape, 'float32', 'predict');
    const outRow = (out.size / Math.max(1, x.shape[0])) * 4;
    const inRow = (x.size / Math.max(1, x.shape[0])) * 4;
    // Planned per batch shape, not per tensor: each batch's rows are copied into the plan's input.
    const step = this.step('predict');
    const rt = runtime();
    for (let start = 0; start < x.shape[0]; start += batchSize) {
      const n = Math.min(batchSize, x.shape[0] - start);
      const planned = step.planFor([{ shape: [n, ...x.shape.slice(1)], dtype: x.dtype }]);
      const input = planned.inputBuffer(0);
      rt.copy(x.buffer, start * inRow, input, 0, n * inRow, 'predict input');
      planned.plan.run();
      const result = planned.outputBuffer(0);
      rt.copy(result, 0, out.buffer, start * outRow, n * outRow, 'predict output');
    }
    return out;
  }

  /**
   * Trains on tensors (`fit(x, y, args)`, kept on the GPU and gathered by batch) or on a dataset
   * of [x, y] batches (`fit(dataset, args)`); resolves to a Keras-shaped History.
   */
  fit(x: Tensor | BatchSource, y?: Tensor | FitArgs, args?: FitArgs): Promise<History> {
    return fit(this, x, y, args);
  }

  /** Loss and metric over `x`, `y` (or a dataset), as scalars, as TF.js's model.evaluate. */
  evaluate(x: Tensor | BatchSource, y?: Tensor | { batchSize?: number }, args?: { batchSize?: number }): Promise<Tensor | Tensor[]> {
    return evaluate(this, x, y, args);
  }

  /**
   * Runs one training step on the batch `x`, `y` (it updates the weights, as fit would) with a
   * GPU timestamp around every kernel, and returns the step's profile: per kernel its dispatch
   * count and GPU time, and the plan's memory. `console.log(String(await model.profile(x, y)))`.
   */
  async profile(x: Tensor, y: Tensor): Promise<Profile> {
    const where = `model '${this.name}'.profile`;
    checkTensor(x, where, 'x');
    checkTensor(y, where, 'y');
    this.compiledLoss(where);
    this.checkInput(x.shape, where);
    const planned = await this.step('train').compile([x, y].map((t) => ({ shape: t.shape, dtype: t.dtype })));
    const profile = await planned.profile([x, y]);
    this.advanceStep();
    return profile;
  }

  /**
   * Saves the model in TF.js's Layers format: 'file://DIR' (Node), 'downloads://NAME' or
   * 'indexeddb://NAME' (browser), or any TF.js IOHandler.
   */
  save(target: string | IOHandler): Promise<unknown> {
    try {
      this.checkUsable(`model '${this.name}'.save`);
    } catch (e) {
      return Promise.reject(e);
    }
    return saveModel(this, target);
  }

  /** Prints a Keras-style table of the layers, their output shapes and parameter counts. */
  summary(lineLength = 65, _positions?: number[], printFn: (line: string) => void = console.log): void {
    this.ensureBuilt();
    const rows: string[][] = [];
    let shape = this.inputShape!;
    for (const layer of this.layers) {
      shape = layer.outputShape(shape);
      rows.push([`${layer.name} (${layer.className})`, fmt([null, ...shape]), layer.countParams().toLocaleString('en-US')]);
    }
    const widths = [Math.max(28, ...rows.map((r) => r[0].length + 2)), Math.max(26, ...rows.map((r) => r[1].length + 2))];
    const width = Math.max(lineLength, widths[0] + widths[1] + 12);
    const line = (cells: string[]) => cells[0].padEnd(widths[0]) + cells[1].padEnd(widths[1]) + cells[2].padStart(width - widths[0] - widths[1]);
    const total = this.countParams();
    const trainable = this.layers.filter((l) => l.trainable).reduce((n, l) => n + l.countParams(), 0);
    printFn(`Model: "${this.name}"`);
    printFn('_'.repeat(width));
    printFn(line(['Layer (type)', 'Output Shape', 'Param #']));
    printFn('='.repeat(width));
    rows.forEach((r, k) => {
      printFn(line(r));
      if (k < rows.length - 1) printFn('_'.repeat(width));
    });
    printFn('='.repeat(width));
    printFn(`Total params: ${total.toLocaleString('en-US')}`);
    printFn(`Trainable params: ${trainable.toLocaleString('en-US')}`);
    printFn(`Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`);
    printFn('_'.repeat(width));
  }

  /**
   * Frees the weights, the optimizer's state and every plan. During fit or evaluate the model
   * is freed when they stop, which they do at the next batch with an Error saying so.
   */
  dispose(): void {
    this.disposed = true;
    if (this.holds === 0) this.free();
  }

  private free(): void {
    this.invalidate();
    for (const layer of this.layers) layer.dispose();
    this.optimizer?.dispose();
    this.accumulators.train?.dispose();
    this.accumulators.eval?.dispose();
  }
}

/** Gradients of `loss()` with respect to `params`, recorded into the active trace. */
function lossGradients(params: readonly Tensor[], loss: () => Tensor): { value: Tensor; grads: Tensor[] } {
  const trace = activeTrace();
  if (!trace) throw new Error('model training step: gradients are only taken inside a compiled step');
  const value = loss();
  const grads = gradients(trace, value, params);
  const missing = grads.findIndex((g) => g === null);
  if (missing >= 0) throw new Error(`model training step: the loss does not depend on the weight ${params[missing].describe()}`);
  return { value, grads: grads as Tensor[] };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}

/** sf.sequential: a model from a list of layers, as tf.sequential. */
export function sequential(config: Layer[] | { layers?: Layer[]; name?: string } = {}): Sequential {
  return new Sequential(Array.isArray(config) ? { layers: config } : config);
}

