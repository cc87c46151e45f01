// Counter-based random numbers: a stateless hash of (seed, step, element index), shared as WGSL,
// with inverted dropout (whose backward pass regenerates its mask) and Keras's random initializers.

import { type Activation, activationFunctions } from './activation.js';
import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { linearKernel, type StorageBuffer, type UniformField } from './preamble.js';
import { checkCount } from './reduce.js';
import { stepStateBuffer, stepStateWgsl } from './step-state.js';

/**
 * WGSL random functions, for any kernel to include after the preamble. `pcg_hash` is the PCG
 * output permutation used as a hash (Jarzynski & Olano, "Hash Functions for GPU Rendering",
 * JCGT 2020): a bijection of u32 with good avalanche at the cost of two multiplies. Nesting it
 * over seed, step and index keeps each stage a bijection, so for a fixed (seed, step) distinct
 * indices never collide, and a new step re-keys every element. No state is stored anywhere:
 * the same triple always gives the same number, which is what lets dropout's backward pass
 * recompute its mask.
 */
export const randomWgsl = /* wgsl */ `
fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn random_u32(seed: u32, step: u32, index: u32) -> u32 {
  return pcg_hash(index ^ pcg_hash(step ^ pcg_hash(seed)));
}

// Uniform in [0, 1) on a grid of 2^-24: the top 24 bits fit an f32 mantissa exactly, and the
// product with a power of two is exact, so the TypeScript twin reproduces it bit for bit.
fn random_unit(seed: u32, step: u32, index: u32) -> f32 {
  return f32(random_u32(seed, step, index) >> 8u) * 5.9604644775390625e-8;
}
`;

/** TypeScript twin of WGSL `pcg_hash`: u32 arithmetic through Math.imul and `>>> 0`. */
function pcgHash(v: number): number {
  const state = (Math.imul(v, 747796405) + 2891336453) >>> 0;
  const word = Math.imul((state >>> ((state >>> 28) + 4)) ^ state, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** TypeScript twin of WGSL `random_u32(seed, step, index)`, bit-exact. */
export function hashU32(seed: number, step: number, index: number): number {
  return pcgHash((index ^ pcgHash((step ^ pcgHash(seed)) >>> 0)) >>> 0);
}

/** TypeScript twin of WGSL `random_unit(seed, step, index)`, bit-exact: uniform in [0, 1). */
export function randomUnit(seed: number, step: number, index: number): number {
  return (hashU32(seed, step, index) >>> 8) * 2 ** -24;
}

/**
 * Dropout keeps element i when `random_u32(...) >> 8 >= threshold`: comparing 24-bit integers
 * makes the mask exact and reproducible, and keeps it with probability 1 − threshold/2^24,
 * within 3·10⁻⁸ of 1 − rate.
 */
export function dropoutThreshold(rate: number): number {
  return Math.round(rate * 2 ** 24);
}

function checkU32(kernel: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new Error(`${kernel}: ${name} must be an integer in [0, 2^32), got ${value}`);
  }
}

/**
 * WGSL `fn dropped(v: f32, i: u32) -> f32`: element i of inverted dropout's output for input v,
 * exactly as dropoutForward computes it, for a kernel that writes dropout in its epilogue (a
 * Dense relu followed by Dropout). The kernel binds the step state as `state`; rate and seed
 * are constants of the shader.
 */
export function dropoutEpilogue(kernel: string, { rate, seed }: { rate: number; seed: number }): string {
  if (!(rate >= 0 && rate < 1)) throw new Error(`${kernel}: dropout rate must be in [0, 1), got ${rate}`);
  checkU32(kernel, 'dropout seed', seed);
  return /* wgsl */ `${randomWgsl}
fn dropped(v: f32, i: u32) -> f32 {
  let keep = ${keepsElement(`${seed}u`, `${dropoutThreshold(rate)}u`)};
  return select(0.0, v * f32(${Math.fround(1 / (1 - rate))}), keep);
}`;
}

/** WGSL: whether dropout keeps element `i` (the one mask rule, for both dropout kernels and epilogues). */
function keepsElement(seed: string, threshold: string): string {
  return `(random_u32(${seed} ^ ${stepStateWgsl.seed}, ${stepStateWgsl.step}, i) >> 8u) >= ${threshold}`;
}

export interface DropoutParams {
  size: number;
  /** Fraction of elements dropped, in [0, 1). */
  rate: number;
  /** Any u32; one per layer, so two dropout layers draw different masks. */
  seed: number;
  limits?: KernelLimits;
}

/**
 * The mask of element i at a step is random_u32(seed ^ run seed, step, i): the step and the run
 * seed come from the step state, so every step of a run shares one pipeline and one bind group.
 */
function dropoutKernel(name: string, { size, rate, seed, limits = defaultLimits }: DropoutParams, input: string, output: string, activation: Activation = 'linear'): Kernel {
  checkCount(name, 'size', size);
  if (!(rate >= 0 && rate < 1)) throw new Error(`${name}: rate must be in [0, 1), got ${rate}`);
  checkU32(name, 'seed', seed);
  const fields: UniformField[] = [
    ['seed', 'u32', seed],
    ['threshold', 'u32', dropoutThreshold(rate)],
    ['scale', 'f32', 1 / (1 - rate)],
  ];
  const through = activation === 'linear' ? '' : ' * activate_grad(y[i])';
  const body = /* wgsl */ `  let keep = ${keepsElement('p.seed', 'p.threshold')};
  ${output}[i] = select(0.0, ${input}[i] * p.scale${through}, keep);`;
  const buffers: StorageBuffer[] = [stepStateBuffer, [input, 'read', 'f32'], ...(through ? [['y', 'read', 'f32'] as const] : []), [output, 'write', 'f32']];
  const functions = through ? `${randomWgsl}\n${activationFunctions(activation)}` : randomWgsl;
  return linearKernel({ name, count: size, limits, buffers, fields, functions, body });
}

/**
 * Inverted dropout, as Keras: y = x / (1 − rate) where kept (probability 1 − rate), else 0, so
 * the expected activation is unchanged and inference needs no rescaling.
 * Bindings: step state (step, run seed), x, y, params (seed).
 */
export function dropoutForward(params: DropoutParams): Kernel {
  return dropoutKernel('dropout_forward', params, 'x', 'y');
}

/**
 * dx = dy / (1 − rate) where forward kept the element, else 0. The mask is regenerated from the
 * same (seed, step, index), so it must be given the forward pass's seed and step state.
 * With an `activation`, the dropout's input was that activation's output y, and the kernel also
 * takes the gradient back through it: dx = dy / (1 − rate) · activation'(y) where kept, one
 * dispatch for both (a Dense relu followed by Dropout).
 * Bindings: step state, dy, y (with an activation), dx, params.
 */
export function dropoutBackward(params: DropoutParams & { activation?: Activation }): Kernel {
  const { activation = 'linear' } = params;
  return dropoutKernel(activation === 'linear' ? 'dropout_backward' : `dropout_backward_${activation}`, params, 'dy', 'dx', activation);
}

export interface RandomUniformParams {
  size: number;
  /** Keras's RandomUniform defaults: [−0.05, 0.05). */
  min?: number;
  max?: number;
  seed: number;
  limits?: KernelLimits;
}

/**
 * out[i] = min + u·(max − min), u uniform in [0, 1) from (seed, 0, i). Float32 rounding can
 * carry a value onto max itself, but never past it. Bindings: out, params.
 */
export function randomUniform({ size, min = -0.05, max = 0.05, seed, limits = defaultLimits }: RandomUniformParams): Kernel {
  return uniformKernel('random_uniform', size, min, max, seed, limits);
}

function uniformKernel(name: string, size: number, min: number, max: number, seed: number, limits: KernelLimits): Kernel {
  checkCount(name, 'size', size);
  checkU32(name, 'seed', seed);
  if (!(Number.isFinite(min) && Number.isFinite(max) && min < max)) {
    throw new Error(`${name}: expected finite min < max, got min ${min}, max ${max}`);
  }
  const fields: UniformField[] = [['seed', 'u32', seed], ['min', 'f32', min], ['range', 'f32', max - min]];
  const body = '  out[i] = p.min + random_unit(p.seed, 0u, i) * p.range;';
  return linearKernel({ name, count: size, limits, buffers: [['out', 'write', 'f32']], fields, functions: randomWgsl, body });
}

export interface RandomNormalParams {
  size: number;
  /** Keras's RandomNormal defaults: mean 0, stddev 0.05. */
  mean?: number;
  stddev?: number;
  seed: number;
  limits?: KernelLimits;
}

/**
 * out = mean + stddev·z, z standard normal by the Box–Muller transform. Elements 2k and 2k+1
 * share one pair of uniforms (from indices 2k and 2k+1) and take r·cos θ and r·sin θ, the two
 * independent normals the transform yields, with r = sqrt(−2 ln u1) and θ = π(2·u2 − 1).
 * u1 lies in (0, 1] so the logarithm is finite (|z| ≤ sqrt(48 ln 2) ≈ 5.77), and θ in [−π, π),
 * the range where WGSL bounds the error of sin and cos. Bindings: out, params.
 */
export function randomNormal({ size, mean = 0, stddev = 0.05, seed, limits = defaultLimits }: RandomNormalParams): Kernel {
  const name = 'random_normal';
  checkCount(name, 'size', size);
  checkU32(name, 'seed', seed);
  if (!(Number.isFinite(mean) && Number.isFinite(stddev) && stddev >= 0)) {
    throw new Error(`${name}: expected a finite mean and a finite stddev ≥ 0, got mean ${mean}, stddev ${stddev}`);
  }
  const fields: UniformField[] = [['seed', 'u32', seed], ['mean', 'f32', mean], ['stddev', 'f32', stddev]];
  const body = /* wgsl */ `  let u1 = f32((random_u32(p.seed, 0u, i & ~1u) >> 8u) + 1u) * 5.9604644775390625e-8;
  let u2 = random_unit(p.seed, 0u, i | 1u);
  let r = sqrt(-2.0 * log(u1));
  let theta = 3.14159265358979 * (2.0 * u2 - 1.0);
  let z = select(r * cos(theta), r * sin(theta), (i & 1u) == 1u);
  out[i] = p.mean + p.stddev * z;`;
  return linearKernel({ name, count: size, limits, buffers: [['out', 'write', 'f32']], fields, functions: randomWgsl, body });
}

/** TypeScript twin of randomNormal's standard normal z for element `index`, in float64. */
export function boxMuller(seed: number, index: number): number {
  const u1 = ((hashU32(seed, 0, (index & ~1) >>> 0) >>> 8) + 1) * 2 ** -24;
  const u2 = randomUnit(seed, 0, (index | 1) >>> 0);
  const r = Math.sqrt(-2 * Math.log(u1));
  const theta = Math.PI * (2 * u2 - 1);
  return index & 1 ? r * Math.sin(theta) : r * Math.cos(theta);
}

export interface GlorotUniformParams {
  /** Inputs feeding one output unit: units in for dense, kh·kw·inChannels for conv2d. */
  fanIn: number;
  /** Outputs fed by one input unit: units out for dense, kh·kw·filters for conv2d. */
  fanOut: number;
  size: number;
  seed: number;
  limits?: KernelLimits;
}

/**
 * Glorot (Xavier) uniform, Keras's default kernel initializer: uniform in ±sqrt(6 / (fanIn +
 * fanOut)), which gives variance 2 / (fanIn + fanOut) and keeps activation and gradient scales
 * roughly level through the layers. Bindings: out, params.
 */
export function glorotUniform({ fanIn, fanOut, size, seed, limits = defaultLimits }: GlorotUniformParams): Kernel {
  checkCount('glorot_uniform', 'fanIn', fanIn);
  checkCount('glorot_uniform', 'fanOut', fanOut);
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return uniformKernel('glorot_uniform', size, -limit, limit, seed, limits);
}
