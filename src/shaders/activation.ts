// Activation functions as data: each is a WGSL expression of the pre-activation `x` for the
// forward pass, and of the activation's output `y` for the derivative, so a backward pass needs
// only the forward output. Matmul and conv epilogues and the standalone kernels share this table.
// Softmax over the last axis, forward and backward, lives here too.

import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { declareBindings, linearKernel, preamble } from './preamble.js';
import { checkCount, rowLayout } from './reduce.js';

export const activations = {
  linear: { forward: 'x', derivative: '1.0' },
  relu: { forward: 'max(x, 0.0)', derivative: 'select(0.0, 1.0, y > 0.0)' },
  // Written so that exp never overflows: for x < 0, e^x / (1 + e^x).
  sigmoid: { forward: 'select(exp(x) / (1.0 + exp(x)), 1.0 / (1.0 + exp(-x)), x >= 0.0)', derivative: 'y * (1.0 - y)' },
  // WGSL's tanh returns NaN for large |x| on some drivers; clamp where tanh is ±1 in f32.
  tanh: { forward: 'tanh(clamp(x, -15.0, 15.0))', derivative: '1.0 - y * y' },
} as const;

export type Activation = keyof typeof activations;
export const activationNames = Object.keys(activations) as Activation[];

/**
 * WGSL functions `activate(x)` and `activate_grad(y)` (the derivative at output y) for one
 * activation, and their vec4 forms `activate4` and `activate4_grad`.
 */
export function activationFunctions(activation: Activation): string {
  const a = activations[activation];
  if (!a) throw new Error(`Unknown activation '${activation}'; known: ${activationNames.join(', ')}`);
  return /* wgsl */ `
fn activate(x: f32) -> f32 { return ${a.forward}; }
fn activate_grad(y: f32) -> f32 { return ${a.derivative}; }
fn activate4(x: vec4<f32>) -> vec4<f32> { return vec4<f32>(activate(x.x), activate(x.y), activate(x.z), activate(x.w)); }
fn activate4_grad(y: vec4<f32>) -> vec4<f32> { return vec4<f32>(activate_grad(y.x), activate_grad(y.y), activate_grad(y.z), activate_grad(y.w)); }`;
}

/** float64 references of the same functions, for tests. */
export const activationReference: Record<Activation, { forward: (x: number) => number; derivative: (y: number) => number }> = {
  linear: { forward: (x) => x, derivative: () => 1 },
  relu: { forward: (x) => Math.max(x, 0), derivative: (y) => (y > 0 ? 1 : 0) },
  sigmoid: { forward: (x) => 1 / (1 + Math.exp(-x)), derivative: (y) => y * (1 - y) },
  tanh: { forward: Math.tanh, derivative: (y) => 1 - y * y },
};

export interface ActivationParams {
  activation: Activation;
  /** Elements. */
  size: number;
  limits?: KernelLimits;
}

/**
 * One invocation per element, or per vec4 of elements when the size allows (a per-lane load on
 * CPU drivers is a loop over the lanes, so four elements a load cost little more than one):
 * `inputs` read, `output` written, the count in a uniform. `body` uses `f`, the activation
 * functions at the element type (`activate` or `activate4`, and `_grad`).
 */
function activationKernel(
  builder: string, name: string, { activation, size, limits = defaultLimits }: ActivationParams,
  inputs: readonly string[], output: string, body: (f: (fn: string) => string) => string,
): Kernel {
  checkCount(builder, 'size', size, 0);
  const vec = size % 4 === 0;
  const type = vec ? 'vec4<f32>' : 'f32';
  return linearKernel({
    name: `${name}_${activation}`, count: vec ? size / 4 : size, limits,
    buffers: [...inputs.map((b) => [b, 'read', type] as const), [output, 'write', type]],
    countUniform: true,
    functions: activationFunctions(activation),
    body: body((fn) => (vec ? fn.replace('activate', 'activate4') : fn)),
  });
}

/** y = activation(x) elementwise; bindings: x, y, params. */
export function activationForward(params: ActivationParams): Kernel {
  return activationKernel('activationForward', 'activation_forward', params, ['x'], 'y', (f) => `  y[i] = ${f('activate')}(x[i]);`);
}

/**
 * dx = dy · activation'(x), with the derivative written in terms of the forward output y, so
 * the pre-activation need not be kept; bindings: y, dy, dx, params.
 */
export function activationBackward(params: ActivationParams): Kernel {
  return activationKernel('activationBackward', 'activation_backward', params, ['y', 'dy'], 'dx', (f) => `  dx[i] = dy[i] * ${f('activate_grad')}(y[i]);`);
}

export interface SoftmaxParams {
  /** Independent rows (every axis but the last, flattened). */
  rows: number;
  /** Length of the last axis, the one softmax normalizes over. */
  cols: number;
  limits?: KernelLimits;
}

/**
 * y = softmax(x) over the last axis of x [rows, cols]; bindings: x, y.
 * Subtracting the row max first makes every exponent ≤ 0, so exp never overflows, and the
 * largest term is exactly 1, so the sum never underflows to 0.
 */
export function softmaxForward({ rows, cols, limits = defaultLimits }: SoftmaxParams): Kernel {
  checkCount('softmaxForward', 'rows', rows);
  checkCount('softmaxForward', 'cols', cols);
  const layout = rowLayout(rows, cols, limits);
  const { wgsl, bindings } = declareBindings([['x', 'read', 'f32'], ['y', 'write', 'f32']], false);
  const code = /* wgsl */ `${preamble}
${wgsl}
${layout.functions}

${layout.main}
  let base = row * ${cols}u;
  var m = -0x1.fffffep+127f; // the lowest finite f32
  for (var j = lane; j < ${cols}u; j += ${layout.lanes}u) { m = max(m, x[base + j]); }
  m = row_max(m, lane);
  var s = 0.0;
  for (var j = lane; j < ${cols}u; j += ${layout.lanes}u) { s += exp(x[base + j] - m); }
  let inv = 1.0 / row_sum(s, lane);
  for (var j = lane; j < ${cols}u; j += ${layout.lanes}u) { y[base + j] = exp(x[base + j] - m) * inv; }
}
`;
  return { name: 'softmax_forward', code, bindings, workgroupSize: layout.workgroupSize, dispatch: layout.dispatch };
}

/**
 * dx = y · (dy − Σ_j dy_j·y_j) per row: the softmax Jacobian diag(y) − y·yᵀ applied to dy,
 * needing only the forward output y; bindings: y, dy, dx.
 */
export function softmaxBackward({ rows, cols, limits = defaultLimits }: SoftmaxParams): Kernel {
  checkCount('softmaxBackward', 'rows', rows);
  checkCount('softmaxBackward', 'cols', cols);
  const layout = rowLayout(rows, cols, limits);
  const { wgsl, bindings } = declareBindings([['y', 'read', 'f32'], ['dy', 'read', 'f32'], ['dx', 'write', 'f32']], false);
  const code = /* wgsl */ `${preamble}
${wgsl}
${layout.functions}

${layout.main}
  let base = row * ${cols}u;
  var s = 0.0;
  for (var j = lane; j < ${cols}u; j += ${layout.lanes}u) { s += dy[base + j] * y[base + j]; }
  let y_dy = row_sum(s, lane);
  for (var j = lane; j < ${cols}u; j += ${layout.lanes}u) { dx[base + j] = y[base + j] * (dy[base + j] - y_dy); }
}
`;
  return { name: 'softmax_backward', code, bindings, workgroupSize: layout.workgroupSize, dispatch: layout.dispatch };
}
