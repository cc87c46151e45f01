// shaderflow's public API: `import * as sf from 'shaderflow'`.

export { ready, backendInfo, autotune, type AutotuneState, type ReadyOptions } from './gpu/device.js';
export type { AutotuneMode } from './gpu/tuning.js';
export type { BackendInfo } from './gpu/runtime.js';
export type { Profile, ProfileRow } from './gpu/scheduler.js';
export { Tensor, tensor, scalar, memory, type DType, type TensorLike, type NestedArray, type MemoryInfo } from './nn/tensor.js';
export {
  fill, zeros, ones, add, sub, mul, div, maximum, minimum, neg, abs, square, reshape,
  relu, sigmoid, tanh, softmax, matMul, conv2d, maxPool, avgPool, sum, mean, dropout, gather,
  type Operand,
} from './nn/ops.js';
export * as losses from './nn/losses.js';
export { grad, grads, valueAndGrad, valueAndGrads } from './nn/autodiff.js';
export { compile, CompiledStep, PlannedStep, type InputSpec } from './nn/step.js';
export { optimizers, Optimizer, SGD, RMSprop, Adam } from './nn/optimizers.js';
export { layers, Layer, Dense, Conv2D, MaxPooling2D, AveragePooling2D, Flatten, Dropout } from './nn/layers/index.js';
export { initializers, type Initializer } from './nn/initializers.js';
export { sequential, Sequential, type CompileArgs } from './nn/model.js';
export { loadModel } from './nn/io/load.js';
export type { IOHandler, ModelArtifacts } from './nn/io/handlers.js';
export { data, datasets } from './data/index.js';
export { callbacks, History, type Callback, type Logs } from './nn/training/callbacks.js';
export type { FitArgs } from './nn/training/fit.js';

import { fusedConv2d, fusedMatMul } from './nn/ops.js';
/** Ops with a fused bias and activation, as tf.fused. */
export const fused = { matMul: fusedMatMul, conv2d: fusedConv2d };
