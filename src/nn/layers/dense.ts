// Dense: a fully connected layer, one fused matMul + bias + activation kernel over the last axis
// (higher-rank inputs go through as rows).

import type { Activation } from '../../shaders/activation.js';
import { getInitializer, type Initializer } from '../initializers.js';
import * as ops from '../ops.js';
import type { Tensor } from '../tensor.js';
import {
  activate, activationFromConfig, baseArgsFromConfig, type CallContext, checkActivation, fmt, initConfig, initializerFromConfig,
  type InitSpec, Layer, type LayerActivation, type LayerArgs, positiveInt,
} from './layer.js';

export interface DenseArgs extends LayerArgs {
  units: number;
  activation?: LayerActivation;
  useBias?: boolean;
  kernelInitializer?: InitSpec;
  biasInitializer?: InitSpec;
}

export class Dense extends Layer {
  static readonly className = 'Dense';
  readonly className = Dense.className;
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

  /** A Dense layer from its Keras config (snake_case, as model.json stores it). */
  static fromConfig(c: Record<string, unknown>): Dense {
    return new Dense({
      ...baseArgsFromConfig(c), units: c.units as number, activation: activationFromConfig(c), useBias: c.use_bias as boolean,
      kernelInitializer: initializerFromConfig(c, 'kernel_initializer'), biasInitializer: initializerFromConfig(c, 'bias_initializer'),
    });
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
    const z = ops.fusedMatMul({ a: rows, b: ctx.weight?.(kernel) ?? kernel, bias, activation: fusable ? (this.activation as Activation) : 'linear' });
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
