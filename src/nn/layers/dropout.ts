// Dropout: zeroes a random `rate` of its inputs while training (scaling the rest up), with masks
// drawn on the GPU from the step state, so each step gets new ones without a new upload.

import * as ops from '../ops.js';
import type { Tensor } from '../tensor.js';
import { baseArgsFromConfig, type CallContext, Layer, type LayerArgs } from './layer.js';

export interface DropoutArgs extends LayerArgs {
  rate: number;
  /** Seeds the masks (one stream per layer); random when not given. */
  seed?: number;
}

export class Dropout extends Layer {
  static readonly className = 'Dropout';
  readonly className = Dropout.className;
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
  static fromConfig(c: Record<string, unknown>): Dropout {
    return new Dropout({ ...baseArgsFromConfig(c), rate: c.rate as number, seed: (c.seed as number | null) ?? undefined });
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
