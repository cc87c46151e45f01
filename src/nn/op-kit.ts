// The small helpers every op table entry is written with: output shapes, a lone dispatch, shape
// formatting for messages, and the rule of ops that have no gradient.

import type { Kernel } from '../shaders/kernel.js';
import type { Dispatch, Scratch, Shaped } from './graph.js';
import type { Tensor } from './tensor.js';

export const size = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);
export const f32 = (shape: readonly number[]): Shaped => ({ shape, dtype: 'float32' });
export const sameShape = (i: number) => (inputs: readonly Tensor[]): Shaped[] => [{ shape: inputs[i].shape, dtype: inputs[i].dtype }];
export const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

export function one(kernel: Kernel, args: readonly (Tensor | Scratch)[]): Dispatch[] {
  return [{ kernel, args }];
}

/** The rule of ops whose gradient nothing needs (the backward passes themselves, updates). */
export function notDifferentiable(kind: string) {
  return (): never => {
    throw new Error(`${kind} has no gradient: shaderflow computes first-order gradients only (a gradient of a gradient is not supported)`);
  };
}
