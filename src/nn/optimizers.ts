// Optimizers with Keras's formulas and defaults. Each parameter's update is one kernel over its
// gradient, its values and its state (moments), recorded as an op so a compiled training step
// updates every parameter without leaving the GPU.

import * as kernels from '../shaders/optimizer.js';
import type { Kernel, KernelLimits } from '../shaders/kernel.js';
import { apply } from './graph.js';
import { check } from './ops.js';
import { tensor, type Tensor } from './tensor.js';

export abstract class Optimizer {
  /** Updates applied so far (Keras's `optimizer.iterations`); Adam's bias correction reads it. */
  iterations = 0;
  private readonly slots = new Map<Tensor, Tensor[]>();

  constructor(readonly name: string) {}

  /** How many state tensors of the parameter's shape each parameter needs. */
  protected abstract stateCount(): number;

  /** The update kernel for a parameter of `size` elements, with the current hyperparameters. */
  protected abstract kernel(size: number, limits: KernelLimits): Kernel;

  /**
   * Updates each parameter in place by its gradient. Eagerly the updates run at once and
   * `iterations` advances; inside a compiled step they are recorded, and the training loop
   * advances `iterations` after each run (hyperparameters are read when each run is submitted).
   */
  applyGradients(pairs: readonly (readonly [param: Tensor, grad: Tensor])[]): void {
    let eager = true;
    for (const [param, grad] of pairs) {
      check(param, `${this.name}.applyGradients`, 'param');
      check(grad, `${this.name}.applyGradients`, 'grad');
      if (param.isSymbolic) throw new Error(`${this.name}.applyGradients: parameters must be tensors with values, got the symbolic ${param.describe()}`);
      if (param.size !== grad.size || param.dtype !== 'float32') {
        throw new Error(`${this.name}.applyGradients: the gradient ${grad.describe()} does not match the parameter ${param.describe()}`);
      }
      eager &&= !grad.isSymbolic;
      apply('update', [grad, param, ...this.stateOf(param)], {
        name: this.name,
        kernel: (size, limits) => this.kernel(size, limits),
        uniformsAt: (size, limits) => this.kernel(size, limits).uniforms!,
      });
    }
    if (eager) this.iterations++;
  }

  /** The optimizer's state for `param`, zeros at first, kept for the optimizer's lifetime. */
  stateOf(param: Tensor): Tensor[] {
    let state = this.slots.get(param);
    if (!state) {
      state = Array.from({ length: this.stateCount() }, () => tensor(new Float32Array(param.size), param.shape));
      this.slots.set(param, state);
    }
    return state;
  }

  /** Frees the state of every parameter. */
  dispose(): void {
    for (const state of this.slots.values()) for (const t of state) t.dispose();
    this.slots.clear();
  }
}

export interface SgdConfig {
  learningRate?: number;
  momentum?: number;
  nesterov?: boolean;
}

export class SGD extends Optimizer {
  learningRate: number;
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor({ learningRate = 0.01, momentum = 0, nesterov = false }: SgdConfig = {}) {
    super('sgd');
    this.learningRate = learningRate;
    this.momentum = momentum;
    this.nesterov = nesterov;
    kernels.sgd({ size: 1, learningRate, momentum, nesterov }); // checks the settings now
  }

  protected stateCount(): number {
    return this.momentum > 0 ? 1 : 0;
  }

  protected kernel(size: number, limits: KernelLimits): Kernel {
    return kernels.sgd({ size, learningRate: this.learningRate, momentum: this.momentum, nesterov: this.nesterov, limits });
  }
}

export interface RmspropConfig {
  learningRate?: number;
  rho?: number;
  momentum?: number;
  epsilon?: number;
  centered?: boolean;
}

export class RMSprop extends Optimizer {
  learningRate: number;
  readonly config: Required<Omit<RmspropConfig, 'learningRate'>>;

  constructor({ learningRate = 0.001, rho = 0.9, momentum = 0, epsilon = 1e-7, centered = false }: RmspropConfig = {}) {
    super('rmsprop');
    this.learningRate = learningRate;
    this.config = { rho, momentum, epsilon, centered };
    kernels.rmsprop({ size: 1, learningRate, ...this.config });
  }

  protected stateCount(): number {
    return 1 + (this.config.momentum > 0 ? 1 : 0) + (this.config.centered ? 1 : 0);
  }

  protected kernel(size: number, limits: KernelLimits): Kernel {
    return kernels.rmsprop({ size, learningRate: this.learningRate, ...this.config, limits });
  }
}

export interface AdamConfig {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  amsgrad?: boolean;
}

export class Adam extends Optimizer {
  learningRate: number;
  readonly config: Required<Omit<AdamConfig, 'learningRate'>>;

  constructor({ learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7, amsgrad = false }: AdamConfig = {}) {
    super('adam');
    this.learningRate = learningRate;
    this.config = { beta1, beta2, epsilon, amsgrad };
    kernels.adam({ size: 1, learningRate, iteration: 1, ...this.config });
  }

  protected stateCount(): number {
    return this.config.amsgrad ? 3 : 2;
  }

  protected kernel(size: number, limits: KernelLimits): Kernel {
    return kernels.adam({ size, learningRate: this.learningRate, iteration: this.iterations + 1, ...this.config, limits });
  }
}

/** sf.optimizers: factories with Keras's defaults, as tf.train and Keras name them. */
export const optimizers = {
  sgd: (config?: SgdConfig): SGD => new SGD(config),
  rmsprop: (config?: RmspropConfig): RMSprop => new RMSprop(config),
  adam: (config?: AdamConfig): Adam => new Adam(config),
};
