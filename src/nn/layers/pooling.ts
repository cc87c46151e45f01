// MaxPooling2D and AveragePooling2D: a window over NHWC inputs, per channel; they share their
// options, output shape and config, and differ only in the op.

import { type Padding, windowAxis } from '../../shaders/window.js';
import * as ops from '../ops.js';
import type { Tensor } from '../tensor.js';
import { baseArgsFromConfig, fmt, Layer, type LayerArgs, paddingOf, pairOf } from './layer.js';

export interface Pooling2dArgs extends LayerArgs {
  poolSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: Padding;
}

/** Pooling args from a Keras config (snake_case, as model.json stores it); null strides mean the pool size. */
function poolingArgsFromConfig(c: Record<string, unknown>): Pooling2dArgs {
  return { ...baseArgsFromConfig(c), poolSize: c.pool_size as [number, number], strides: (c.strides as [number, number] | null) ?? undefined, padding: c.padding as Padding };
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
  static readonly className = 'MaxPooling2D';
  readonly className = MaxPooling2D.className;
  constructor(args: Pooling2dArgs = {}) {
    super('max_pooling2d', args);
  }
  static fromConfig(c: Record<string, unknown>): MaxPooling2D {
    return new MaxPooling2D(poolingArgsFromConfig(c));
  }
  call(x: Tensor): Tensor {
    return ops.maxPool(x, this.poolSize, this.strides, this.padding);
  }
}

export class AveragePooling2D extends Pooling2D {
  static readonly className = 'AveragePooling2D';
  readonly className = AveragePooling2D.className;
  constructor(args: Pooling2dArgs = {}) {
    super('average_pooling2d', args);
  }
  static fromConfig(c: Record<string, unknown>): AveragePooling2D {
    return new AveragePooling2D(poolingArgsFromConfig(c));
  }
  call(x: Tensor): Tensor {
    return ops.avgPool(x, this.poolSize, this.strides, this.padding);
  }
}
