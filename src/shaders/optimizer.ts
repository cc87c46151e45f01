// Optimizer updates, Keras 3's formulas and defaults: one dispatch updates a whole parameter group
// stored as one flat buffer, with its gradients and state buffers of the same length.

import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { linearKernel, type UniformField } from './preamble.js';
import { checkCount } from './reduce.js';
import { stepStateBuffer, stepStateWgsl } from './step-state.js';

/**
 * One invocation per parameter: the step state (learning rate `lr`, iteration `t`) and `grads`
 * are read, `params` and every state buffer are updated in place ('write' bindings). The
 * hyperparameters and the size are uniforms `p`, so every setting and every parameter of a model
 * share one pipeline per binding layout (CPU drivers compile each pipeline when it first runs),
 * and a new learning rate or step is a write to the step state, never a new shader.
 */
function updateKernel(name: string, size: number, limits: KernelLimits, state: string[], fields: UniformField[], body: string, functions = ''): Kernel {
  return linearKernel({
    name, count: size, limits, countUniform: true,
    buffers: [stepStateBuffer, ['grads', 'read', 'f32'], ...['params', ...state].map((b) => [b, 'write', 'f32'] as const)],
    fields, functions,
    body: `  let g = grads[i];\n  let lr = ${stepStateWgsl.learningRate};\n  let t = ${stepStateWgsl.iteration};\n${body}`,
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

export interface SgdParams {
  size: number;
  /** In [0, 1]; 0 is plain gradient descent and needs no velocity buffer. */
  momentum?: number;
  nesterov?: boolean;
  limits?: KernelLimits;
}

/**
 * Stochastic gradient descent. With momentum: v = momentum·v − lr·g, then p += v, or with
 * Nesterov p += momentum·v − lr·g (the look-ahead step, with the new v). Without: p −= lr·g.
 * Bindings: step state (lr), grads, params, velocity (only when momentum > 0), uniforms (momentum).
 */
export function sgd({ size, momentum = 0, nesterov = false, limits = defaultLimits }: SgdParams): Kernel {
  checkCount('sgd', 'size', size);
  checkRange('sgd', 'momentum', momentum, 0, 1, true);
  if (momentum === 0) {
    return updateKernel('sgd', size, limits, [], [], '  params[i] -= lr * g;');
  }
  const body = /* wgsl */ `  let v = p.momentum * velocity[i] - lr * g;
  velocity[i] = v;
  params[i] += ${nesterov ? 'p.momentum * v - lr * g' : 'v'};`;
  const fields: UniformField[] = [['momentum', 'f32', momentum]];
  return updateKernel(nesterov ? 'sgd_nesterov' : 'sgd_momentum', size, limits, ['velocity'], fields, body);
}

export interface RmspropParams {
  size: number;
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
 * Bindings: step state (lr), grads, params, velocity a, momentum m (when momentum > 0),
 * average gradient mg (when centered) — the order Keras creates these variables in — uniforms.
 */
export function rmsprop({ size, rho = 0.9, epsilon = 1e-7, momentum = 0, centered = false, limits = defaultLimits }: RmspropParams): Kernel {
  checkCount('rmsprop', 'size', size);
  checkRange('rmsprop', 'rho', rho, 0, 1);
  checkRange('rmsprop', 'epsilon', epsilon, 0, Infinity);
  checkRange('rmsprop', 'momentum', momentum, 0, 1, true);
  const state = ['velocity', ...(momentum > 0 ? ['momentum'] : []), ...(centered ? ['average_grad'] : [])];
  const fields: UniformField[] = [['rho', 'f32', rho], ['epsilon', 'f32', epsilon], ['momentum', 'f32', momentum]];
  const body = /* wgsl */ `  let a = p.rho * velocity[i] + (1.0 - p.rho) * g * g;
  velocity[i] = a;
${centered
    ? `  let mg = p.rho * average_grad[i] + (1.0 - p.rho) * g;
  average_grad[i] = mg;
  let denom = a - mg * mg + p.epsilon;`
    : '  let denom = a + p.epsilon;'}
  let increment = lr * g / sqrt(denom);
${momentum > 0
    ? `  let m = p.momentum * momentum[i] + increment;
  momentum[i] = m;
  params[i] -= m;`
    : '  params[i] -= increment;'}`;
  const name = ['rmsprop', ...(momentum > 0 ? ['momentum'] : []), ...(centered ? ['centered'] : [])].join('_');
  return updateKernel(name, size, limits, state, fields, body);
}

export interface AdamParams {
  size: number;
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
 * Bindings: step state (lr, the 1-based iteration t), grads, params, m, v, v̂ (only with
 * amsgrad), uniforms (hyperparameters).
 */
export function adam({ size, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7, amsgrad = false, limits = defaultLimits }: AdamParams): Kernel {
  checkCount('adam', 'size', size);
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
  const body = /* wgsl */ `  let alpha = lr * sqrt(one_minus_exp(t * p.log_beta2)) / one_minus_exp(t * p.log_beta1);
  let m = p.beta1 * moment[i] + (1.0 - p.beta1) * g;
  moment[i] = m;
  let v = p.beta2 * velocity[i] + (1.0 - p.beta2) * g * g;
  velocity[i] = v;
${amsgrad
    ? `  let v_hat = max(velocity_hat[i], v);
  velocity_hat[i] = v_hat;
  params[i] -= alpha * m / (sqrt(v_hat) + p.epsilon);`
    : '  params[i] -= alpha * m / (sqrt(v) + p.epsilon);'}`;
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
  return updateKernel(amsgrad ? 'adam_amsgrad' : 'adam', size, limits, state, fields, body, helper);
}
