// Optimizer updates, Keras 3's formulas and defaults: one dispatch updates a group of parameters,
// each with its gradient and one buffer of its state (Adam's m and v interleaved), so a model's
// whole update is one dispatch, or a few where the device binds few storage buffers.

import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { linearKernel, type StorageBuffer, type UniformField } from './preamble.js';
import { checkCount } from './reduce.js';
import { stepStateBuffer, stepStateWgsl } from './step-state.js';

/** WGSL naming one element's value in the parameter being updated: `at('params')` is `params2[k]`, `at('velocity')` its place in slots2. */
type At = (buffer: string) => string;

/** The storage buffers one parameter of a group binds: its gradient, its values, and its state when it has any. */
export function updateBindingsPerParameter(states: number): number {
  return states > 0 ? 3 : 2;
}

/** How many parameters one update dispatch can take on a device binding `maxStorageBuffers` storage buffers. */
export function updateGroupSize(states: number, maxStorageBuffers: number): number {
  return Math.max(1, Math.floor((maxStorageBuffers - 1) / updateBindingsPerParameter(states)));
}

/**
 * One invocation per element of all the group's parameters together; invocation i finds its
 * parameter by the running ends of their sizes (uniforms) and its element k within it. The step
 * state (learning rate `lr`, iteration `t`) is read, each parameter's gradient is read, and its
 * values and state are updated in place ('write' bindings): per parameter j the bindings are
 * grads_j, params_j and, with any state, slots_j, which holds `state.length` values per element,
 * interleaved in the order of `state` (element k's are slots_j[S·k], ..., slots_j[S·k + S − 1]).
 * The sizes and
 * hyperparameters are uniforms `p`, so every setting and every group of as many parameters
 * share one pipeline (CPU drivers compile each pipeline when it first runs), and a new learning
 * rate or step is a write to the step state, never a new shader.
 */
function updateKernel(name: string, sizes: readonly number[], limits: KernelLimits, state: string[], fields: UniformField[], body: (at: At) => string, functions = ''): Kernel {
  if (!Array.isArray(sizes) || sizes.length === 0) throw new Error(`${name}: expected a non-empty array of parameter sizes, got ${String(sizes)}`);
  sizes.forEach((size, j) => checkCount(name, `sizes[${j}]`, size));
  const ends: number[] = [];
  sizes.reduce((end, size) => (ends.push(end + size), end + size), 0);
  const buffers: StorageBuffer[] = [stepStateBuffer];
  for (const j of sizes.keys()) {
    buffers.push([`grads${j}`, 'read', 'f32'], [`params${j}`, 'write', 'f32']);
    if (state.length > 0) buffers.push([`slots${j}`, 'write', 'f32']);
  }
  const members = sizes.map((_, j) => {
    const at: At = (buffer) => {
      const slot = state.indexOf(buffer);
      if (slot < 0) return `${buffer}${j}[k]`;
      return `slots${j}[${state.length > 1 ? `${state.length}u * k + ${slot}u` : 'k'}]`;
    };
    const test = j === sizes.length - 1 ? '' : `if (i < p.end${j}) `;
    return /* wgsl */ `${test}{
    let k = i${j > 0 ? ` - p.end${j - 1}` : ''};
    let g = ${at('grads')};
    ${body(at).replaceAll('\n', '\n    ')}
  }`;
  });
  return linearKernel({
    name, count: ends[ends.length - 1], limits, countUniform: true, buffers, functions,
    fields: [...ends.slice(0, -1).map((end, j) => [`end${j}`, 'u32', end] as const), ...fields],
    body: `  let lr = ${stepStateWgsl.learningRate};\n  let t = ${stepStateWgsl.iteration};\n  ${members.join(' else ')}`,
  });
}

/** Throws unless lo ≤ value < hi (or ≤ hi when `closed`), naming the optimizer and the value. */
function checkRange(kernel: string, name: string, value: number, lo: number, hi: number, closed = false): void {
  if (!(value >= lo && (closed ? value <= hi : value < hi))) {
    throw new Error(`${kernel}: ${name} must be in [${lo}, ${hi}${closed ? ']' : ')'}, got ${value}`);
  }
}

export function checkLearningRate(kernel: string, learningRate: number): void {
  if (!(Number.isFinite(learningRate) && learningRate >= 0)) {
    throw new Error(`${kernel}: learningRate must be a finite number ≥ 0, got ${learningRate}`);
  }
}

/** The sizes of the parameters one dispatch updates (each ≥ 1), in binding order. */
interface Group {
  sizes: readonly number[];
}

export interface SgdParams extends Group {
  /** In [0, 1]; 0 is plain gradient descent and needs no velocity buffer. */
  momentum?: number;
  nesterov?: boolean;
  limits?: KernelLimits;
}

/**
 * Stochastic gradient descent. With momentum: v = momentum·v − lr·g, then p += v, or with
 * Nesterov p += momentum·v − lr·g (the look-ahead step, with the new v). Without: p −= lr·g.
 * State per element: velocity (only when momentum > 0). Uniforms: momentum.
 */
export function sgd({ sizes, momentum = 0, nesterov = false, limits = defaultLimits }: SgdParams): Kernel {
  checkRange('sgd', 'momentum', momentum, 0, 1, true);
  if (momentum === 0) {
    return updateKernel('sgd', sizes, limits, [], [], (at) => `${at('params')} -= lr * g;`);
  }
  const body = (at: At): string => /* wgsl */ `let v = p.momentum * ${at('velocity')} - lr * g;
${at('velocity')} = v;
${at('params')} += ${nesterov ? 'p.momentum * v - lr * g' : 'v'};`;
  const fields: UniformField[] = [['momentum', 'f32', momentum]];
  return updateKernel(nesterov ? 'sgd_nesterov' : 'sgd_momentum', sizes, limits, ['velocity'], fields, body);
}

export interface RmspropParams extends Group {
  rho?: number;
  epsilon?: number;
  momentum?: number;
  centered?: boolean;
  limits?: KernelLimits;
}

/**
 * RMSprop exactly as Keras 3 (keras/src/optimizers/rmsprop.py), where epsilon sits inside the
 * square root:
 *   a = rho·a + (1 − rho)·g²
 *   centered: mg = rho·mg + (1 − rho)·g, denom = a − mg² + eps; else denom = a + eps
 *   increment = lr·g / sqrt(denom)
 *   momentum > 0: m = momentum·m + increment, p −= m; else p −= increment.
 * (Keras 2 and TF.js differ only in details of eps; the centered denominator estimates the
 * gradient's variance, since a and mg are moving averages of g² and g.)
 * State per element: velocity a, momentum m (when momentum > 0), average gradient mg (when
 * centered), the order Keras creates these variables in.
 */
export function rmsprop({ sizes, rho = 0.9, epsilon = 1e-7, momentum = 0, centered = false, limits = defaultLimits }: RmspropParams): Kernel {
  checkRange('rmsprop', 'rho', rho, 0, 1);
  checkRange('rmsprop', 'epsilon', epsilon, 0, Infinity);
  checkRange('rmsprop', 'momentum', momentum, 0, 1, true);
  const state = ['velocity', ...(momentum > 0 ? ['momentum'] : []), ...(centered ? ['average_grad'] : [])];
  const fields: UniformField[] = [['rho', 'f32', rho], ['epsilon', 'f32', epsilon], ['momentum', 'f32', momentum]];
  const body = (at: At): string => /* wgsl */ `let a = p.rho * ${at('velocity')} + (1.0 - p.rho) * g * g;
${at('velocity')} = a;
${centered
    ? `let mg = p.rho * ${at('average_grad')} + (1.0 - p.rho) * g;
${at('average_grad')} = mg;
let denom = a - mg * mg + p.epsilon;`
    : 'let denom = a + p.epsilon;'}
let increment = lr * g / sqrt(denom);
${momentum > 0
    ? `let m = p.momentum * ${at('momentum')} + increment;
${at('momentum')} = m;
${at('params')} -= m;`
    : `${at('params')} -= increment;`}`;
  const name = ['rmsprop', ...(momentum > 0 ? ['momentum'] : []), ...(centered ? ['centered'] : [])].join('_');
  return updateKernel(name, sizes, limits, state, fields, body);
}

export interface AdamParams extends Group {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  amsgrad?: boolean;
  limits?: KernelLimits;
}

/**
 * Adam as Keras 3 (keras/src/optimizers/adam.py), with the bias corrections folded into the step
 * size and epsilon outside the square root:
 *   m = b1·m + (1 − b1)·g;  v = b2·v + (1 − b2)·g²;  (amsgrad: v̂ = max(v̂, v), used for v)
 *   alpha = lr·sqrt(1 − b2^t) / (1 − b1^t);  p −= alpha·m / (sqrt(v) + eps).
 * 1 − b^t is computed as −expm1(t·ln b): the host passes ln b in float64, and a short series
 * replaces 1 − exp(x) for small |x|, where float32 would cancel digits away
 * (1 − 0.999 in float32 keeps about 4 of its 7).
 * State per element: m, v, v̂ (only with amsgrad). The step state gives lr and the 1-based
 * iteration t.
 */
export function adam({ sizes, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7, amsgrad = false, limits = defaultLimits }: AdamParams): Kernel {
  checkRange('adam', 'beta1', beta1, 0, 1);
  checkRange('adam', 'beta2', beta2, 0, 1);
  checkRange('adam', 'epsilon', epsilon, 0, Infinity);
  const fields: UniformField[] = [
    ['beta1', 'f32', beta1],
    ['beta2', 'f32', beta2],
    // ln 0 is −∞, which WGSL arithmetic need not honour; −80 gives 1 − e^(−80·t) = 1 just the same.
    ['log_beta1', 'f32', Math.max(Math.log(beta1), -80)],
    ['log_beta2', 'f32', Math.max(Math.log(beta2), -80)],
    ['epsilon', 'f32', epsilon],
  ];
  const body = (at: At): string => /* wgsl */ `let alpha = lr * sqrt(one_minus_exp(t * p.log_beta2)) / one_minus_exp(t * p.log_beta1);
let m = p.beta1 * ${at('moment')} + (1.0 - p.beta1) * g;
${at('moment')} = m;
let v = p.beta2 * ${at('velocity')} + (1.0 - p.beta2) * g * g;
${at('velocity')} = v;
${amsgrad
    ? `let v_hat = max(${at('velocity_hat')}, v);
${at('velocity_hat')} = v_hat;
${at('params')} -= alpha * m / (sqrt(v_hat) + p.epsilon);`
    : `${at('params')} -= alpha * m / (sqrt(v) + p.epsilon);`}`;
  // 1 − e^x for x ≤ 0: the Taylor series −x·(1 + x/2 + x²/6 + x³/24 + x⁴/120) for |x| < 0.1
  // (truncation below 1.4·10⁻⁸ relative, under float32's own rounding), where 1 − exp(x) would
  // lose digits; exp beyond.
  const helper = /* wgsl */ `
fn one_minus_exp(x: f32) -> f32 {
  if (x > -0.1) {
    return -x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0)))));
  }
  return 1.0 - exp(x);
}
`;
  const state = ['moment', 'velocity', ...(amsgrad ? ['velocity_hat'] : [])];
  return updateKernel(amsgrad ? 'adam_amsgrad' : 'adam', sizes, limits, state, fields, body, helper);
}
