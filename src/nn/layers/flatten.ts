// Flatten: every axis but the batch into one, a reshape (no copy).

import * as ops from '../ops.js';
import type { Tensor } from '../tensor.js';
import { baseArgsFromConfig, Layer, type LayerArgs } from './layer.js';

export class Flatten extends Layer {
  static readonly className = 'Flatten';
  readonly className = Flatten.className;
  constructor(args: LayerArgs = {}) {
    super('flatten', args);
  }
  static fromConfig(c: Record<string, unknown>): Flatten {
    return new Flatten(baseArgsFromConfig(c));
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
