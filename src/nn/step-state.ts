// A run's step state on the GPU: the step counter, the run's dropout seed, the learning rate and
// the optimizer's next iteration, in one 16-byte buffer that the optimizer updates and dropout
// kernels of a compiled step read. Changing a value is one buffer write, ordered between the
// steps already submitted and the next; no shader or pipeline is ever rebuilt for it.

import { packStepState, type StepStateValues } from '../shaders/step-state.js';
import { tensor, type Tensor } from './tensor.js';

export type { StepStateValues };

export class StepState {
  private values: { -readonly [K in keyof StepStateValues]: number };
  private gpu: Tensor | null = null;
  /** The four words of the last write, reused: writeBuffer copies them at once. */
  private readonly words = new Uint32Array(4);

  constructor(initial: Partial<StepStateValues> = {}) {
    this.values = { step: 0, seed: 0, learningRate: 0, iteration: 1, ...initial };
  }

  get step(): number {
    return this.values.step;
  }

  get learningRate(): number {
    return this.values.learningRate;
  }

  get iteration(): number {
    return this.values.iteration;
  }

  /** The buffer kernels bind, made on first use (so an optimizer can exist before sf.ready()). */
  get tensor(): Tensor {
    if (!this.gpu || this.gpu.isDisposed) this.gpu = tensor(new Int32Array(packStepState(this.values).buffer), [4], 'int32');
    return this.gpu;
  }

  /** Sets some values; the GPU copy, if any, gets all four words in one write. */
  set(values: Partial<StepStateValues>): void {
    this.values = { ...this.values, ...values };
    this.upload();
  }

  /** After a training step: the next step and the next iteration, in one write. */
  advance(): void {
    this.values.step++;
    this.values.iteration++;
    this.upload();
  }

  private upload(): void {
    if (this.gpu && !this.gpu.isDisposed) this.gpu.runtime.write(this.gpu.buffer, packStepState(this.values, this.words));
  }

  dispose(): void {
    this.gpu?.dispose();
    this.gpu = null;
  }
}
