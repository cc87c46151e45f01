// What the training loop needs of a model: its compiled loss, its compiled steps, its metrics
// accumulators and its step counter. model.ts implements it; nothing in training imports model.

import type { CompiledStep } from '../step.js';
import type { Tensor } from '../tensor.js';
import type { CallbackModel } from './callbacks.js';
import type { Feed } from './feed.js';
import type { LossPlan } from './objectives.js';

export interface CompiledLoss {
  readonly loss: LossPlan;
  readonly metricName: string | null;
}

export interface TrainableModel extends CallbackModel {
  readonly name: string;
  /** Guards against two fits at once. */
  fitting: boolean;
  /** The output shape without the batch. */
  readonly outputShape: number[];
  /**
   * Checks a batch's shape (batch first) against the model's input shape and builds the model
   * on first use; throws naming `name`, the expected and the given shape.
   */
  checkInput(shape: readonly number[], where: string, name?: string): void;
  readonly isDisposed: boolean;
  /** While held (fit, evaluate), dispose() only marks the model; release() frees it then. */
  hold(): void;
  release(): void;
  /** The compiled loss and metric; throws before compile. */
  compiledLoss(where: string): CompiledLoss;
  /**
   * The compiled step for a purpose, fed its batch by `feed` (row indices) or given x and y;
   * a `checked` training step records the batch's first non-finite input in the accumulator.
   */
  step(purpose: 'train' | 'eval', feed?: Feed, checked?: boolean): CompiledStep;
  /** The metrics accumulator of training or evaluation: [loss sum, correct, count, then a non-finite find: which, step + 1, sample, element, value]. */
  accumulator(which: 'train' | 'eval'): Tensor;
  /** Zeroes an accumulator, ordered after the steps already submitted. */
  resetAccumulator(which: 'train' | 'eval'): void;
  /** Training steps run so far: the step state's counter as the next step runs. */
  readonly trainSteps: number;
  /** After a training step was submitted: the step state moves on one step. */
  advanceStep(): void;
}
