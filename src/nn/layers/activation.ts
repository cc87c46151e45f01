// Activation: an activation function as a layer of its own (Keras's Activation); named
// ActivationLayer here, as the kernels' Activation type already names the functions.

import type { Tensor } from '../tensor.js';
import { activate, activationFromConfig, baseArgsFromConfig, type CallContext, checkActivation, Layer, type LayerActivation, type LayerArgs } from './layer.js';

export interface ActivationArgs extends LayerArgs {
  activation: LayerActivation;
}

export class ActivationLayer extends Layer {
  static readonly className = 'Activation';
  readonly className = ActivationLayer.className;
  readonly activation: LayerActivation;
  constructor(args: ActivationArgs) {
    super('activation', args);
    this.activation = checkActivation(args?.activation, this.describe());
  }
  static fromConfig(c: Record<string, unknown>): ActivationLayer {
    return new ActivationLayer({ ...baseArgsFromConfig(c), activation: activationFromConfig(c) });
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
