// Keras layers with TF.js-style camelCase options and Keras defaults. A layer knows its output
// shape, creates its weights when it first sees an input shape, and computes its output with
// the ops, so the same code runs eagerly (predict) and traced (a compiled training step).

import type { Activation } from '../shaders/activation.js';
import { activationNames } from '../shaders/activation.js';
import type { Padding } from '../shaders/window.js';
import { windowAxis } from '../shaders/window.js';
import { getInitializer, type Initializer, type InitializerName } from './initializers.js';
import * as ops from './ops.js';
import type { Tensor } from './tensor.js';

/** Activations a layer accepts: the kernels' table plus softmax. */
export type LayerActivation = Activation | 'softmax';
export const layerActivations: readonly LayerActivation[] = [...activationNames, 'softmax'];

export interface CallContext {
  /** Dropout is active only while training. */
  training: boolean;
  /**
   * The step state (int32 [4], src/nn/step-state.ts) whose step counter and run seed draw
   * dropout masks; read on the GPU as each step executes. Needed when training.
   */
  state?: Tensor;
  /** Return the pre-activation of a softmax or sigmoid output (the loss fuses them with cross-entropy). */
  logits?: boolean;
}

export interface LayerArgs {
  name?: string;
  /** The input shape without the batch dimension; optional, inferred from the first batch otherwise. */
  inputShape?: number[];
  /** The input shape with the batch dimension (null for any), as TF.js's batchInputShape. */
  batchInputShape?: (number | null)[];
  trainable?: boolean;
}

export interface LayerWeight {
  /** `layerName/kernel`, as Keras and TF.js name weights. */
  readonly name: string;
  tensor: Tensor;
}

const counts = new Map<string, number>();

/** Keras's naming: dense, dense_1, dense_2, ... per layer kind. */
function uniqueName(base: string): string {
  const n = counts.get(base) ?? 0;
  counts.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

const fmt = (shape: readonly (number | null)[]): string => `[${shape.map((d) => d ?? 'None').join(', ')}]`;

function checkActivation(a: unknown, where: string): LayerActivation {
  const name = a ?? 'linear';
  if (!layerActivations.includes(name as LayerActivation)) {
    throw new Error(`${where}: unknown activation '${String(a)}'; expected one of ${layerActivations.map((n) => `'${n}'`).join(', ')}`);
  }
  return name as LayerActivation;
}

function positiveInt(v: unknown, where: string, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${where}: ${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function pairOf(v: number | readonly number[] | undefined, fallback: readonly [number, number], where: string, what: string): [number, number] {
  if (v === undefined) return [fallback[0], fallback[1]];
  const p = typeof v === 'number' ? [v, v] : [...v];
  if (p.length !== 2) throw new Error(`${where}: ${what} must be a number or a pair of numbers, got ${JSON.stringify(v)}`);
  return [positiveInt(p[0], where, what), positiveInt(p[1], where, what)];
}

function paddingOf(p: unknown, where: string): Padding {
  const v = p ?? 'valid';
  if (v !== 'same' && v !== 'valid') throw new Error(`${where}: padding must be 'same' or 'valid', got ${JSON.stringify(p)}`);
  return v;
}

export abstract class Layer {
  readonly name: string;
  abstract readonly className: string;
  readonly trainable: boolean;
  /** The input shape without the batch, once known. */
  inputShape: number[] | null;
  readonly weights: LayerWeight[] = [];

  constructor(kind: string, args: LayerArgs) {
    this.name = args.name ?? uniqueName(kind);
    this.trainable = args.trainable ?? true;
    const shape = args.inputShape ?? args.batchInputShape?.slice(1);
    if (shape !== undefined && (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || (d as number) < 1))) {
      throw new Error(`layer '${this.name}': inputShape must be an array of positive integers (without the batch dimension), got ${JSON.stringify(shape)}`);
    }
    this.inputShape = shape ? (shape as number[]) : null;
  }

  get built(): boolean {
    return this.inputShape !== null && (this.weights.length > 0 || this.countParams() === 0);
  }

  /** "layer 'dense_1' (Dense)", for messages. */
  describe(): string {
    return `layer '${this.name}' (${this.className})`;
  }

  /** The output shape (without the batch) for an input of `inputShape`; throws when it does not fit. */
  abstract outputShape(inputShape: readonly number[]): number[];

  /** Creates the weights for inputs of `inputShape` (once) and checks that shape. */
  build(inputShape: readonly number[]): void {
    if (this.inputShape && this.weights.length && !sameShape(this.inputShape, inputShape)) {
      throw new Error(`${this.describe()} was built for inputs of shape ${fmt([null, ...this.inputShape])}, got ${fmt([null, ...inputShape])}`);
    }
    this.outputShape(inputShape);
    this.inputShape = [...inputShape];
    if (this.weights.length === 0) this.createWeights(inputShape);
  }

  protected createWeights(_inputShape: readonly number[]): void {}

  abstract call(x: Tensor, ctx: CallContext): Tensor;

  /** Keras's config of this layer (snake_case keys), as the TF.js Layers format stores it. */
  getConfig(): Record<string, unknown> {
    return { name: this.name, trainable: this.trainable, dtype: 'float32' };
  }

  countParams(): number {
    return this.weights.reduce((n, w) => n + w.tensor.size, 0);
  }

  dispose(): void {
    for (const w of this.weights) w.tensor.dispose();
    this.weights.length = 0;
  }

  protected addWeight(name: string, shape: readonly number[], init: Initializer): void {
    this.weights.push({ name: `${this.name}/${name}`, tensor: init.create(shape) });
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}

function activate(x: Tensor, activation: LayerActivation, ctx: CallContext): Tensor {
  if (activation === 'linear' || ((activation === 'softmax' || activation === 'sigmoid') && ctx.logits)) return x;
  if (activation === 'softmax') return ops.softmax(x);
  return ops.activation(x, activation);
}

type InitSpec = InitializerName | string | Initializer;

function initConfig(init: Initializer): Record<string, unknown> {
  return { class_name: init.className, config: init.config };
}

export interface DenseArgs extends LayerArgs {
  units: number;
  activation?: LayerActivation;
  useBias?: boolean;
  kernelInitializer?: InitSpec;
  biasInitializer?: InitSpec;
}

export class Dense extends Layer {
  readonly className = 'Dense';
  readonly units: number;
  readonly activation: LayerActivation;
  readonly useBias: boolean;
  private readonly kernelInitializer: Initializer;
  private readonly biasInitializer: Initializer;

  constructor(args: DenseArgs) {
    super('dense', args);
    if (typeof args !== 'object' || args === null) throw new Error(`sf.layers.dense: expected options such as { units: 10 }, got ${JSON.stringify(args)}`);
    this.units = positiveInt(args.units, this.describe(), 'units');
    this.activation = checkActivation(args.activation, this.describe());
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = getInitializer(args.kernelInitializer ?? 'glorotUniform', this.describe());
    this.biasInitializer = getInitializer(args.biasInitializer ?? 'zeros', this.describe());
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length < 1) throw new Error(`${this.describe()}: expected inputs of rank ≥ 2 (with the batch), got ${fmt([null, ...inputShape])}`);
    if (this.inputShape && this.weights.length && inputShape[inputShape.length - 1] !== this.inputShape[this.inputShape.length - 1]) {
      throw new Error(`${this.describe()}: expected inputs with ${this.inputShape[this.inputShape.length - 1]} features on the last axis, got shape ${fmt([null, ...inputShape])}`);
    }
    return [...inputShape.slice(0, -1), this.units];
  }

  protected override createWeights(inputShape: readonly number[]): void {
    this.addWeight('kernel', [inputShape[inputShape.length - 1], this.units], this.kernelInitializer);
    if (this.useBias) this.addWeight('bias', [this.units], this.biasInitializer);
  }

  call(x: Tensor, ctx: CallContext): Tensor {
    const [kernel, bias] = this.weights.map((w) => w.tensor);
    const fusable = this.activation !== 'softmax' && !(this.activation === 'sigmoid' && ctx.logits);
    // Dense acts on the last axis: higher-rank inputs go through as rows.
    const rows = x.rank === 2 ? x : ops.reshape(x, [-1, x.shape[x.rank - 1]]);
    const z = ops.fusedMatMul({ a: rows, b: kernel, bias, activation: fusable ? (this.activation as Activation) : 'linear' });
    const y = x.rank === 2 ? z : ops.reshape(z, [...x.shape.slice(0, -1), this.units]);
    return fusable ? y : activate(y, this.activation, ctx);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(), units: this.units, activation: this.activation, use_bias: this.useBias,
      kernel_initializer: initConfig(this.kernelInitializer), bias_initializer: initConfig(this.biasInitializer),
      kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
    };
  }
}

export interface Conv2dArgs extends LayerArgs {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
  activation?: LayerActivation;
  useBias?: boolean;
  kernelInitializer?: InitSpec;
  biasInitializer?: InitSpec;
  dataFormat?: 'channelsLast';
}

export class Conv2D extends Layer {
  readonly className = 'Conv2D';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;
  readonly activation: LayerActivation;
  readonly useBias: boolean;
  private readonly kernelInitializer: Initializer;
  private readonly biasInitializer: Initializer;

  constructor(args: Conv2dArgs) {
    super('conv2d', args);
    if (typeof args !== 'object' || args === null) throw new Error(`sf.layers.conv2d: expected options such as { filters: 16, kernelSize: 5 }, got ${JSON.stringify(args)}`);
    this.filters = positiveInt(args.filters, this.describe(), 'filters');
    if (args.kernelSize === undefined) throw new Error(`${this.describe()}: kernelSize is required`);
    this.kernelSize = pairOf(args.kernelSize, [1, 1], this.describe(), 'kernelSize');
    this.strides = pairOf(args.strides, [1, 1], this.describe(), 'strides');
    this.padding = paddingOf(args.padding, this.describe());
    this.activation = checkActivation(args.activation, this.describe());
    this.useBias = args.useBias ?? true;
    if (args.dataFormat !== undefined && args.dataFormat !== 'channelsLast') {
      throw new Error(`${this.describe()}: only dataFormat 'channelsLast' (NHWC) is supported, got '${args.dataFormat}'`);
    }
    this.kernelInitializer = getInitializer(args.kernelInitializer ?? 'glorotUniform', this.describe());
    this.biasInitializer = getInitializer(args.biasInitializer ?? 'zeros', this.describe());
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3) {
      throw new Error(`${this.describe()}: expected inputs of shape [batch, height, width, channels], got ${fmt([null, ...inputShape])}`);
    }
    const [h, w, c] = inputShape;
    if (this.inputShape && this.weights.length && c !== this.inputShape[2]) {
      throw new Error(`${this.describe()}: expected inputs with ${this.inputShape[2]} channels, got shape ${fmt([null, ...inputShape])}`);
    }
    const oh = windowAxis(h, this.kernelSize[0], this.strides[0], this.padding).out;
    const ow = windowAxis(w, this.kernelSize[1], this.strides[1], this.padding).out;
    if (oh < 1 || ow < 1) {
      throw new Error(`${this.describe()}: a ${this.kernelSize.join('x')} 'valid' window does not fit inputs of shape ${fmt([null, ...inputShape])}`);
    }
    return [oh, ow, this.filters];
  }

  protected override createWeights(inputShape: readonly number[]): void {
    this.addWeight('kernel', [...this.kernelSize, inputShape[2], this.filters], this.kernelInitializer);
    if (this.useBias) this.addWeight('bias', [this.filters], this.biasInitializer);
  }

  call(x: Tensor, ctx: CallContext): Tensor {
    const [filter, bias] = this.weights.map((w) => w.tensor);
    const fusable = this.activation !== 'softmax' && !(this.activation === 'sigmoid' && ctx.logits);
    const y = ops.fusedConv2d({ x, filter, strides: this.strides, pad: this.padding, bias, activation: fusable ? (this.activation as Activation) : 'linear' });
    return fusable ? y : activate(y, this.activation, ctx);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(), filters: this.filters, kernel_size: this.kernelSize, strides: this.strides, padding: this.padding,
      data_format: 'channels_last', dilation_rate: [1, 1], activation: this.activation, use_bias: this.useBias,
      kernel_initializer: initConfig(this.kernelInitializer), bias_initializer: initConfig(this.biasInitializer),
      kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
    };
  }
}

export interface Pooling2dArgs extends LayerArgs {
  poolSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
}

abstract class Pooling2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;

  constructor(kind: string, args: Pooling2dArgs = {}) {
    super(kind, args);
    this.poolSize = pairOf(args.poolSize, [2, 2], this.describe(), 'poolSize');
    this.strides = pairOf(args.strides ?? undefined, this.poolSize, this.describe(), 'strides');
    this.padding = paddingOf(args.padding, this.describe());
  }

  outputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3) {
      throw new Error(`${this.describe()}: expected inputs of shape [batch, height, width, channels], got ${fmt([null, ...inputShape])}`);
    }
    const [h, w, c] = inputShape;
    const oh = windowAxis(h, this.poolSize[0], this.strides[0], this.padding).out;
    const ow = windowAxis(w, this.poolSize[1], this.strides[1], this.padding).out;
    if (oh < 1 || ow < 1) throw new Error(`${this.describe()}: a ${this.poolSize.join('x')} 'valid' window does not fit inputs of shape ${fmt([null, ...inputShape])}`);
    return [oh, ow, c];
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), pool_size: this.poolSize, strides: this.strides, padding: this.padding, data_format: 'channels_last' };
  }
}

export class MaxPooling2D extends Pooling2D {
  readonly className = 'MaxPooling2D';
  constructor(args: Pooling2dArgs = {}) {
    super('max_pooling2d', args);
  }
  call(x: Tensor): Tensor {
    return ops.maxPool(x, this.poolSize, this.strides, this.padding);
  }
}

export class AveragePooling2D extends Pooling2D {
  readonly className = 'AveragePooling2D';
  constructor(args: Pooling2dArgs = {}) {
    super('average_pooling2d', args);
  }
  call(x: Tensor): Tensor {
    return ops.avgPool(x, this.poolSize, this.strides, this.padding);
  }
}

export class Flatten extends Layer {
  readonly className = 'Flatten';
  constructor(args: LayerArgs = {}) {
    super('flatten', args);
  }
  outputShape(inputShape: readonly number[]): number[] {
    return [inputShape.reduce((n, d) => n * d, 1)];
  }
  call(x: Tensor): Tensor {
    return ops.reshape(x, [x.shape[0], -1]);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), data_format: 'channels_last' };
  }
}

export interface DropoutArgs extends LayerArgs {
  rate: number;
  /** Seeds the masks (one stream per layer); random when not given. */
  seed?: number;
}

export class Dropout extends Layer {
  readonly className = 'Dropout';
  readonly rate: number;
  readonly seed: number;
  private readonly seeded: boolean;

  constructor(args: DropoutArgs) {
    super('dropout', args);
    if (typeof args !== 'object' || args === null || typeof args.rate !== 'number' || !(args.rate >= 0 && args.rate < 1)) {
      throw new Error(`${this.describe()}: rate must be a number in [0, 1), got ${JSON.stringify(args?.rate)}`);
    }
    this.rate = args.rate;
    this.seeded = args.seed !== undefined;
    this.seed = args.seed ?? Math.floor(Math.random() * 2 ** 32);
  }
  outputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }
  call(x: Tensor, ctx: CallContext): Tensor {
    if (!ctx.training || this.rate === 0) return x;
    if (!ctx.state) throw new Error(`${this.describe()}: training needs a step state to draw its masks from`);
    return ops.dropoutWith(x, { rate: this.rate, seed: this.seed }, ctx.state);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), rate: this.rate, noise_shape: null, seed: this.seeded ? this.seed : null };
  }
}

export interface ActivationArgs extends LayerArgs {
  activation: LayerActivation;
}

export class ActivationLayer extends Layer {
  readonly className = 'Activation';
  readonly activation: LayerActivation;
  constructor(args: ActivationArgs) {
    super('activation', args);
    this.activation = checkActivation(args?.activation, this.describe());
  }
  outputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }
  call(x: Tensor, ctx: CallContext): Tensor {
    return activate(x, this.activation, ctx);
  }
  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), activation: this.activation };
  }
}

/** sf.layers: factories named as in TF.js. */
export const layers = {
  dense: (args: DenseArgs): Dense => new Dense(args),
  conv2d: (args: Conv2dArgs): Conv2D => new Conv2D(args),
  maxPooling2d: (args?: Pooling2dArgs): MaxPooling2D => new MaxPooling2D(args),
  averagePooling2d: (args?: Pooling2dArgs): AveragePooling2D => new AveragePooling2D(args),
  flatten: (args?: LayerArgs): Flatten => new Flatten(args),
  dropout: (args: DropoutArgs): Dropout => new Dropout(args),
  activation: (args: ActivationArgs): ActivationLayer => new ActivationLayer(args),
};

/** A layer from its Keras class name and config (snake_case, as model.json stores it). */
export function layerFromConfig(className: string, config: Record<string, unknown>): Layer {
  const c = config;
  const shape = (c.batch_input_shape as (number | null)[] | undefined) ?? undefined;
  const base = { name: c.name as string | undefined, batchInputShape: shape, trainable: c.trainable as boolean | undefined };
  const init = (v: unknown): InitSpec | undefined => {
    if (!v || typeof v !== 'object') return undefined;
    const { class_name, config: cfg } = v as { class_name: string; config?: Record<string, unknown> };
    return getInitializer(class_name, `layer '${String(c.name)}'`, Object.fromEntries(Object.entries(cfg ?? {}).filter(([, x]) => x !== null)));
  };
  const activation = (c.activation as LayerActivation | undefined) ?? 'linear';
  switch (className) {
    case 'Dense':
      return new Dense({ ...base, units: c.units as number, activation, useBias: c.use_bias as boolean, kernelInitializer: init(c.kernel_initializer), biasInitializer: init(c.bias_initializer) });
    case 'Conv2D':
      if (c.data_format && c.data_format !== 'channels_last') throw new Error(`layer '${String(c.name)}': only channels_last Conv2D is supported, got ${String(c.data_format)}`);
      return new Conv2D({
        ...base, filters: c.filters as number, kernelSize: c.kernel_size as [number, number], strides: c.strides as [number, number],
        padding: c.padding as Padding, activation, useBias: c.use_bias as boolean, kernelInitializer: init(c.kernel_initializer), biasInitializer: init(c.bias_initializer),
      });
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const args = { ...base, poolSize: c.pool_size as [number, number], strides: (c.strides as [number, number] | null) ?? undefined, padding: c.padding as Padding };
      return className === 'MaxPooling2D' ? new MaxPooling2D(args) : new AveragePooling2D(args);
    }
    case 'Flatten':
      return new Flatten(base);
    case 'Dropout':
      return new Dropout({ ...base, rate: c.rate as number, seed: (c.seed as number | null) ?? undefined });
    case 'Activation':
      return new ActivationLayer({ ...base, activation });
    default:
      throw new Error(`Unknown layer class '${className}'; shaderflow knows ${['Dense', 'Conv2D', 'MaxPooling2D', 'AveragePooling2D', 'Flatten', 'Dropout', 'Activation', 'InputLayer'].join(', ')}`);
  }
}
