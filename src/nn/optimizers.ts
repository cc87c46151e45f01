// Optimizers with Keras's formulas and defaults. One update op covers every parameter: a kernel
// over each parameter's gradient, its values and its state (moments), one dispatch for a whole
// model where the device binds enough storage buffers, recorded as an op so a compiled training
// step updates every parameter without leaving the GPU.

import * as kernels from '../shaders/optimizer.js';
import type { Kernel, KernelLimits } from '../shaders/kernel.js';
import { apply } from './graph.js';
import { check } from './ops.js';
import { Registry } from './registry.js';
import { StepState } from './step-state.js';
import { tensor, type Tensor } from './tensor.js';

/** The learning rate an optimizer accepts: a finite number ≥ 0. */
function checkedLearningRate(name: string, learningRate: unknown): number {
  if (typeof learningRate !== 'number' || !(Number.isFinite(learningRate) && learningRate >= 0)) {
    throw new Error(`${name}: learningRate must be a finite number ≥ 0, got ${String(learningRate)}`);
  }
  return learningRate;
}

export abstract class Optimizer {
  /**
   * The learning rate and the next iteration as the update kernels read them: a step state on
   * the GPU, written when either changes. A compiled training step reads its step counter (for
   * dropout) from here too.
   */
  readonly state: StepState;
  private readonly slots = new Map<Tensor, Tensor>();

  constructor(readonly name: string, learningRate: number) {
    this.state = new StepState({ learningRate: checkedLearningRate(name, learningRate) });
  }

  /** The learning rate of the next update; setting it (a schedule) is one 16-byte write, no new shader. */
  get learningRate(): number {
    return this.state.learningRate;
  }

  set learningRate(value: number) {
    this.state.set({ learningRate: checkedLearningRate(this.name, value) });
  }

  /** Updates applied so far (Keras's `optimizer.iterations`); Adam's bias correction reads it. */
  get iterations(): number {
    return this.state.iteration - 1;
  }

  set iterations(value: number) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`${this.name}: iterations must be an integer ≥ 0, got ${value}`);
    this.state.set({ iteration: value + 1 });
  }

  /** How many state tensors of the parameter's shape each parameter needs. */
  protected abstract stateCount(): number;

  /** The update kernel for a group of parameters of these sizes, with the optimizer's hyperparameters. */
  protected abstract kernel(sizes: readonly number[], limits: KernelLimits): Kernel;

  /**
   * Updates each parameter in place by its gradient. Eagerly the updates run at once and
   * `iterations` advances; inside a compiled step they are recorded, and whoever runs the step
   * advances `iterations` after each run (the learning rate and iteration are read from the
   * step state when each run executes).
   */
  applyGradients(pairs: readonly (readonly [param: Tensor, grad: Tensor])[]): void {
    let eager = true;
    const members: Tensor[] = [];
    const seen = new Set<Tensor>();
    for (const [param, grad] of pairs) {
      check(param, `${this.name}.applyGradients`, 'param');
      check(grad, `${this.name}.applyGradients`, 'grad');
      if (param.isSymbolic) throw new Error(`${this.name}.applyGradients: parameters must be tensors with values, got the symbolic ${param.describe()}`);
      if (param.size !== grad.size || param.dtype !== 'float32') {
        throw new Error(`${this.name}.applyGradients: the gradient ${grad.describe()} does not match the parameter ${param.describe()}`);
      }
      if (seen.has(param)) throw new Error(`${this.name}.applyGradients: the parameter ${param.describe()} is given twice`);
      seen.add(param);
      eager &&= !grad.isSymbolic;
      members.push(grad, param, ...(this.stateCount() > 0 ? [this.slotsOf(param)] : []));
    }
    if (members.length === 0) return;
    const kernel = (sizes: readonly number[], limits: KernelLimits): Kernel => this.kernel(sizes, limits);
    apply('update', [this.state.tensor, ...members], { name: this.name, states: this.stateCount(), kernel });
    if (eager) this.iterations++;
  }

  /**
   * The optimizer's state for `param`, zeros at first, kept for the optimizer's lifetime: one
   * tensor of shape [param.size, stateCount()], each element's values side by side (Adam's m
   * then v), so an update binds one buffer per parameter for all of them.
   */
  slotsOf(param: Tensor): Tensor {
    let slots = this.slots.get(param);
    if (!slots) {
      const count = this.stateCount();
      slots = tensor(new Float32Array(param.size * count), [param.size, count]);
      this.slots.set(param, slots);
    }
    return slots;
  }

  /** Frees the state of every parameter and the step state. */
  dispose(): void {
    for (const slots of this.slots.values()) slots.dispose();
    this.slots.clear();
    this.state.dispose();
  }
}

export interface SgdConfig {
  learningRate?: number;
  momentum?: number;
  nesterov?: boolean;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor({ learningRate = 0.01, momentum = 0, nesterov = false }: SgdConfig = {}) {
    super('sgd', learningRate);
    this.momentum = momentum;
    this.nesterov = nesterov;
    kernels.sgd({ sizes: [1], momentum, nesterov }); // checks the settings now
  }

  protected stateCount(): number {
    return this.momentum > 0 ? 1 : 0;
  }

  protected kernel(sizes: readonly number[], limits: KernelLimits): Kernel {
    return kernels.sgd({ sizes, momentum: this.momentum, nesterov: this.nesterov, limits });
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
  readonly config: Required<Omit<RmspropConfig, 'learningRate'>>;

  constructor({ learningRate = 0.001, rho = 0.9, momentum = 0, epsilon = 1e-7, centered = false }: RmspropConfig = {}) {
    super('rmsprop', learningRate);
    this.config = { rho, momentum, epsilon, centered };
    kernels.rmsprop({ sizes: [1], ...this.config });
  }

  protected stateCount(): number {
    return 1 + (this.config.momentum > 0 ? 1 : 0) + (this.config.centered ? 1 : 0);
  }

  protected kernel(sizes: readonly number[], limits: KernelLimits): Kernel {
    return kernels.rmsprop({ sizes, ...this.config, limits });
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
  readonly config: Required<Omit<AdamConfig, 'learningRate'>>;

  constructor({ learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7, amsgrad = false }: AdamConfig = {}) {
    super('adam', learningRate);
    this.config = { beta1, beta2, epsilon, amsgrad };
    kernels.adam({ sizes: [1], ...this.config });
  }

  protected stateCount(): number {
    return this.config.amsgrad ? 3 : 2;
  }

  protected kernel(sizes: readonly number[], limits: KernelLimits): Kernel {
    return kernels.adam({ sizes, ...this.config, limits });
  }
}

/** sf.optimizers: factories with Keras's defaults, as tf.train and Keras name them. */
export const optimizers = {
  sgd: (config?: SgdConfig): SGD => new SGD(config),
  rmsprop: (config?: RmspropConfig): RMSprop => new RMSprop(config),
  adam: (config?: AdamConfig): Adam => new Adam(config),
};

/** The optimizers compile takes by name: the factories of sf.optimizers, with their defaults. */
const named = new Registry<() => Optimizer>('optimizer');
for (const [name, make] of Object.entries(optimizers)) named.add(name, () => make());

/** An optimizer object as it is, or a new one by name ('adam'), as compile({ optimizer }) takes it. */
export function optimizerFrom(spec: Optimizer | string, where: string): Optimizer {
  if (spec instanceof Optimizer) return spec;
  return named.get(String(spec).toLowerCase(), where, 'an optimizer object or ')();
}
