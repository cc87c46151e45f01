// The base of every layer, and what layer kinds share: option checks, the activation step and
// reading a Keras config. A layer knows its output shape, creates its weights when it first sees
// an input shape, and computes its output with the ops, so the same code runs eagerly (predict)
// and traced (a compiled training step).

import type { Activation } from '../../shaders/activation.js';
import { activationNames } from '../../shaders/activation.js';
import type { Padding } from '../../shaders/window.js';
import { getInitializer, type Initializer, type InitializerName } from '../initializers.js';
import * as ops from '../ops.js';
import type { Tensor } from '../tensor.js';

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
  /**
   * The tensor a forward product reads for the weight w: its float16 copy in a model compiled
   * with `forwardWeights: 'float16'`, else w itself (absent).
   */
  weight?: (w: Tensor) => Tensor;
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

export const fmt = (shape: readonly (number | null)[]): string => `[${shape.map((d) => d ?? 'None').join(', ')}]`;

export function checkActivation(a: unknown, where: string): LayerActivation {
  const name = a ?? 'linear';
  if (!layerActivations.includes(name as LayerActivation)) {
    throw new Error(`${where}: unknown activation '${String(a)}'; expected one of ${layerActivations.map((n) => `'${n}'`).join(', ')}`);
  }
  return name as LayerActivation;
}

export function positiveInt(v: unknown, where: string, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${where}: ${what} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

export function pairOf(v: number | readonly number[] | undefined, fallback: readonly [number, number], where: string, what: string): [number, number] {
  if (v === undefined) return [fallback[0], fallback[1]];
  const p: unknown[] = typeof v === 'number' ? [v, v] : Array.isArray(v) ? v : [];
  if (p.length !== 2) throw new Error(`${where}: ${what} must be a number or a pair of numbers, got ${JSON.stringify(v)}`);
  return [positiveInt(p[0], where, what), positiveInt(p[1], where, what)];
}

export function paddingOf(p: unknown, where: string): Padding {
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

  /** Set by build(): a declared inputShape alone creates no weights. */
  private wasBuilt = false;

  get built(): boolean {
    return this.wasBuilt;
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
    this.wasBuilt = true;
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
    this.wasBuilt = false;
  }

  protected addWeight(name: string, shape: readonly number[], init: Initializer): void {
    this.weights.push({ name: `${this.name}/${name}`, tensor: init.create(shape) });
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}

export function activate(x: Tensor, activation: LayerActivation, ctx: CallContext): Tensor {
  if (activation === 'linear' || ((activation === 'softmax' || activation === 'sigmoid') && ctx.logits)) return x;
  if (activation === 'softmax') return ops.softmax(x);
  return ops.activation(x, activation);
}

export type InitSpec = InitializerName | string | Initializer;

export function initConfig(init: Initializer): Record<string, unknown> {
  return { class_name: init.className, config: init.config };
}

// Reading Keras configs (snake_case, as model.json stores them): what every layer's fromConfig shares.

/** The constructor args every layer takes, from its Keras config. */
export function baseArgsFromConfig(c: Record<string, unknown>): LayerArgs {
  const shape = (c.batch_input_shape as (number | null)[] | undefined) ?? undefined;
  return { name: c.name as string | undefined, batchInputShape: shape, trainable: c.trainable as boolean | undefined };
}

/** The initializer a Keras config stores under `key` ({ class_name, config }); undefined (the layer's default) when absent. */
export function initializerFromConfig(c: Record<string, unknown>, key: string): InitSpec | undefined {
  const v = c[key];
  if (!v || typeof v !== 'object') return undefined;
  const { class_name, config: cfg } = v as { class_name: string; config?: Record<string, unknown> };
  return getInitializer(class_name, `layer '${String(c.name)}'`, Object.fromEntries(Object.entries(cfg ?? {}).filter(([, x]) => x !== null)));
}

/** The activation a Keras config names; 'linear' when it names none. */
export function activationFromConfig(c: Record<string, unknown>): LayerActivation {
  return (c.activation as LayerActivation | undefined) ?? 'linear';
}
