// The step state: the values that change from one training step to the next (the step counter,
// a run's dropout seed, the learning rate, the optimizer's iteration) live in one 16-byte storage
// buffer that kernels read, so a new value is one buffer write and never a new shader.

import type { StorageBuffer } from './preamble.js';

export interface StepStateValues {
  /** The training step: each step draws new dropout masks. */
  readonly step: number;
  /** The run's dropout seed, mixed into every layer's own seed (0 leaves them as they are). */
  readonly seed: number;
  readonly learningRate: number;
  /** The 1-based iteration of the next optimizer update (Adam's bias corrections read it). */
  readonly iteration: number;
}

/** The binding a kernel declares to read the step state (four u32 words). */
export const stepStateBuffer: StorageBuffer = ['state', 'read', 'u32'];

/** WGSL expressions reading each field from the `state` binding, at constant offsets (one load for all lanes on CPU drivers). */
export const stepStateWgsl = {
  step: 'state[0]',
  seed: 'state[1]',
  learningRate: 'bitcast<f32>(state[2])',
  iteration: 'f32(state[3])',
} as const;

/** The buffer's bytes for `values`, written into `words` (a new array by default). */
export function packStepState({ step, seed, learningRate, iteration }: StepStateValues, words = new Uint32Array(4)): Uint32Array {
  words[0] = step >>> 0;
  words[1] = seed >>> 0;
  new Float32Array(words.buffer, 8, 1)[0] = learningRate;
  words[3] = iteration >>> 0;
  return words;
}
