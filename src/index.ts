// shaderflow's public API: `import * as sf from 'shaderflow'`.

export { ready, backendInfo, type ReadyOptions } from './gpu/device.js';
export type { BackendInfo } from './gpu/runtime.js';
export { Tensor, tensor, scalar, memory, type DType, type TensorLike, type NestedArray, type MemoryInfo } from './nn/tensor.js';
export { fill, zeros, ones, add, sub, mul, div, maximum, minimum, neg, abs, square, type Operand } from './nn/ops.js';
