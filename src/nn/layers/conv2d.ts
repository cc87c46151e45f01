// Conv2D: a 2-D convolution over NHWC inputs, one fused conv + bias + activation kernel; only
// channels_last, as the kernels lay data out.

import type { Activation } from '../../shaders/activation.js';
import { type Padding, windowAxis } from '../../shaders/window.js';
import { getInitializer, type Initializer } from '../initializers.js';
import * as ops from '../ops.js';
import type { Tensor } from '../tensor.js';
import {
  activate, activationFromConfig, baseArgsFromConfig, type CallContext, checkActivation, fmt, initConfig, initializerFromConfig,
  type InitSpec, Layer, type LayerActivation, type LayerArgs, paddingOf, pairOf, positiveInt,
} from './layer.js';

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
  static readonly className = 'Conv2D';
  readonly className = Conv2D.className;
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

  /** A Conv2D layer from its Keras config (snake_case, as model.json stores it). */
  static fromConfig(c: Record<string, unknown>): Conv2D {
    if (c.data_format && c.data_format !== 'channels_last') throw new Error(`layer '${String(c.name)}': only channels_last Conv2D is supported, got ${String(c.data_format)}`);
    return new Conv2D({
      ...baseArgsFromConfig(c), filters: c.filters as number, kernelSize: c.kernel_size as [number, number], strides: c.strides as [number, number],
      padding: c.padding as Padding, activation: activationFromConfig(c), useBias: c.use_bias as boolean,
      kernelInitializer: initializerFromConfig(c, 'kernel_initializer'), biasInitializer: initializerFromConfig(c, 'bias_initializer'),
    });
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
    const y = ops.fusedConv2d({ x, filter: ctx.weight?.(filter) ?? filter, strides: this.strides, pad: this.padding, bias, activation: fusable ? (this.activation as Activation) : 'linear' });
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
