// Optimizer kernels step by step against float64 implementations of Keras 3's update formulas,
// with the learning rate changing every step (written to the step state) and state carried across steps.

import { describe, expect, it } from 'vitest';
import { expectAllClose, freshSeed, randomUniform } from '../../test/expect-all-close.js';
import { runKernel } from '../../test/kernel-harness.js';
import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { adam, rmsprop, sgd, updateGroupSize } from './optimizer.js';
import { packStepState } from './step-state.js';

/** The step state a run of an update reads: learning rate and 1-based iteration. */
const stateOf = (learningRate: number, iteration: number): Uint32Array => packStepState({ step: 0, seed: 0, learningRate, iteration });

const seed = freshSeed();

/** Updates params and state in place for one step with gradient g and learning rate lr. */
type Reference = (g: Float32Array, params: number[], state: number[][], lr: number, t: number) => void;

interface Case {
  label: string;
  /** Number of state buffers the kernel binds after params. */
  states: number;
  kernel: (sizes: readonly number[], limits: KernelLimits) => Kernel;
  reference: Reference;
}

/** The state buffers side by side per element, as the kernel keeps them, and back. */
const interleave = (state: readonly ArrayLike<number>[], size: number): Float32Array =>
  Float32Array.from({ length: size * state.length }, (_, i) => state[i % state.length][Math.floor(i / state.length)]);
const deinterleave = (slots: Float32Array, states: number): Float32Array[] =>
  Array.from({ length: states }, (_, b) => slots.filter((_, i) => i % states === b));

/**
 * Runs `steps` updates on the GPU of a group of parameters of these sizes (one dispatch for all)
 * from random params and zero state (as Keras creates it), with a fresh random gradient each
 * step, and checks every parameter at every step against the float64 formulas applied to the
 * GPU's own state before that step. Starting each step from the GPU's state keeps float32
 * rounding from compounding (momentum terms cancel, and their rounding error would grow from
 * step to step in a run-long comparison), while a wrong state write still fails at its step.
 */
async function checkSteps({ states, kernel, reference }: Case, sizes: readonly number[], steps: number, s: number, limits = defaultLimits): Promise<void> {
  let params: Float32Array[] = sizes.map((size, j) => randomUniform(size, s + j, -1, 1));
  let state: Float32Array[][] = sizes.map((size) => Array.from({ length: states }, () => new Float32Array(size)));
  // The harness binds inputs (step state, then every gradient) and then outputs (every parameter's
  // values and slots); the kernel wants step state, then per parameter its gradient, values, slots.
  const per = states > 0 ? 2 : 1;
  const bind = [[0, ...sizes.flatMap((_, j) => [1 + j, ...Array.from({ length: per }, (_, b) => 1 + sizes.length + j * per + b)])]];
  for (let t = 1; t <= steps; t++) {
    const grads = sizes.map((size, j) => randomUniform(size, s + 100 * t + j, -1, 1));
    const lr = 0.1 / t;
    const outputs = sizes.flatMap((size, j) => [
      { size, init: params[j] },
      ...(states > 0 ? [{ size: size * states, init: interleave(state[j], size) }] : []),
    ]);
    const result = (await runKernel([kernel(sizes, limits)], [stateOf(lr, t), ...grads], outputs, bind)) as Float32Array[];
    const gpuParams = sizes.map((_, j) => result[j * per]);
    const gpuState = sizes.map((_, j) => (states > 0 ? deinterleave(result[j * per + 1], states) : []));
    sizes.forEach((_, j) => {
      const [expectedParams, expectedState] = [Array.from(params[j]), state[j].map((b) => Array.from(b))];
      reference(grads[j], expectedParams, expectedState, Math.fround(lr), t);
      expectAllClose(gpuParams[j], expectedParams, { rtol: 1e-5, atol: 1e-6 });
      gpuState[j].forEach((b, k) => expectAllClose(b, expectedState[k], { rtol: 1e-5, atol: 1e-7 }));
    });
    [params, state] = [gpuParams, gpuState];
  }
}

function sgdReference(momentum: number, nesterov: boolean): Reference {
  return (g, p, [v], lr) => {
    for (let i = 0; i < g.length; i++) {
      if (momentum === 0) {
        p[i] -= lr * g[i];
        continue;
      }
      v[i] = momentum * v[i] - lr * g[i];
      p[i] += nesterov ? momentum * v[i] - lr * g[i] : v[i];
    }
  };
}

function rmspropReference(rho: number, epsilon: number, momentum: number, centered: boolean): Reference {
  return (g, p, state, lr) => {
    const [a, m, mg] = momentum > 0 ? state : [state[0], [], state[1]];
    for (let i = 0; i < g.length; i++) {
      a[i] = rho * a[i] + (1 - rho) * g[i] ** 2;
      let denom = a[i] + epsilon;
      if (centered) {
        mg[i] = rho * mg[i] + (1 - rho) * g[i];
        denom = a[i] - mg[i] ** 2 + epsilon;
      }
      const increment = (lr * g[i]) / Math.sqrt(denom);
      if (momentum > 0) {
        m[i] = momentum * m[i] + increment;
        p[i] -= m[i];
      } else {
        p[i] -= increment;
      }
    }
  };
}

function adamReference(beta1: number, beta2: number, epsilon: number, amsgrad: boolean): Reference {
  return (g, p, [m, v, vHat], lr, t) => {
    const alpha = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    for (let i = 0; i < g.length; i++) {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] ** 2;
      let denom = v[i];
      if (amsgrad) denom = vHat[i] = Math.max(vHat[i], v[i]);
      p[i] -= (alpha * m[i]) / (Math.sqrt(denom) + epsilon);
    }
  };
}

// Large epsilons in some cases make the place of epsilon (inside or outside the root) matter.
const cases: Case[] = [
  { label: 'sgd', states: 0, kernel: (sizes, limits) => sgd({ sizes, limits }), reference: sgdReference(0, false) },
  {
    label: 'sgd momentum 0.9', states: 1,
    kernel: (sizes, limits) => sgd({ sizes, momentum: 0.9, limits }), reference: sgdReference(0.9, false),
  },
  {
    label: 'sgd nesterov 0.8', states: 1,
    kernel: (sizes, limits) => sgd({ sizes, momentum: 0.8, nesterov: true, limits }), reference: sgdReference(0.8, true),
  },
  { label: 'rmsprop', states: 1, kernel: (sizes, limits) => rmsprop({ sizes, limits }), reference: rmspropReference(0.9, 1e-7, 0, false) },
  {
    label: 'rmsprop rho 0.8 eps 0.01 momentum 0.5', states: 2,
    kernel: (sizes, limits) => rmsprop({ sizes, rho: 0.8, epsilon: 0.01, momentum: 0.5, limits }),
    reference: rmspropReference(0.8, 0.01, 0.5, false),
  },
  {
    label: 'rmsprop centered eps 0.01', states: 2,
    kernel: (sizes, limits) => rmsprop({ sizes, epsilon: 0.01, centered: true, limits }),
    reference: rmspropReference(0.9, 0.01, 0, true),
  },
  {
    label: 'rmsprop centered momentum 0.9', states: 3,
    kernel: (sizes, limits) => rmsprop({ sizes, momentum: 0.9, centered: true, limits }),
    reference: rmspropReference(0.9, 1e-7, 0.9, true),
  },
  { label: 'adam', states: 2, kernel: (sizes, limits) => adam({ sizes, limits }), reference: adamReference(0.9, 0.999, 1e-7, false) },
  {
    label: 'adam amsgrad beta1 0.5 eps 0.01', states: 3,
    kernel: (sizes, limits) => adam({ sizes, beta1: 0.5, epsilon: 0.01, amsgrad: true, limits }),
    reference: adamReference(0.5, 0.999, 0.01, true),
  },
];

describe(`optimizer updates against float64 Keras formulas (seed ${seed})`, () => {
  for (const c of cases) {
    it(`${c.label}: 4 steps of one parameter of size 1, and of a group of sizes 257, 1 and 300`, async () => {
      await checkSteps(c, [1], 4, seed + 1);
      await checkSteps(c, [257, 1, 300], 4, seed + 2);
    });
  }

  it('adam far into training: bias corrections at t = 5000 from nonzero state', async () => {
    const size = 101;
    const [g, p0, m0] = [randomUniform(size, seed + 3), randomUniform(size, seed + 4), randomUniform(size, seed + 5, -0.1, 0.1)];
    const v0 = randomUniform(size, seed + 6, 0, 0.01);
    const [p, slots] = (await runKernel(adam({ sizes: [size] }), [stateOf(0.01, 5000), g], [{ size, init: p0 }, { size: 2 * size, init: interleave([m0, v0], size) }])) as Float32Array[];
    const [m, v] = deinterleave(slots, 2);
    const params = Array.from(p0);
    const state = [Array.from(m0), Array.from(v0)];
    adamReference(0.9, 0.999, 1e-7, false)(g, params, state, Math.fround(0.01), 5000);
    expectAllClose(p, params, { rtol: 1e-5, atol: 1e-6 });
    expectAllClose(m, state[0], { rtol: 1e-5, atol: 1e-7 });
    expectAllClose(v, state[1], { rtol: 1e-5, atol: 1e-7 });
  });

  it('updates every element of a folded grid', async () => {
    const limits: KernelLimits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 3 };
    expect(adam({ sizes: [1500, 500], limits }).dispatch[1]).toBeGreaterThan(1);
    await checkSteps(cases[7], [1500, 500], 2, seed + 7, limits);
  });

  it('serves every step from one pipeline: lr and t are step state, not code', () => {
    expect(adam({ sizes: [8] }).code).toBe(adam({ sizes: [9] }).code);
    expect(adam({ sizes: [8, 3] }).code).toBe(adam({ sizes: [9, 100] }).code);
    expect(sgd({ sizes: [8] }).bindings).toEqual(['read', 'read', 'write', 'uniform']);
    expect(sgd({ sizes: [8, 2] }).bindings).toEqual(['read', 'read', 'write', 'read', 'write', 'uniform']);
    // Three state values per element, one slots buffer per parameter.
    expect(rmsprop({ sizes: [8, 2], momentum: 0.9, centered: true }).bindings).toEqual(['read', 'read', 'write', 'write', 'read', 'write', 'write', 'uniform']);
  });

  it('rejects bad hyperparameters, naming what was expected', () => {
    expect(() => sgd({ sizes: [4], momentum: 1.5 })).toThrow(/sgd: momentum must be in \[0, 1\], got 1.5/);
    expect(() => rmsprop({ sizes: [4], rho: 1 })).toThrow(/rmsprop: rho must be in \[0, 1\), got 1/);
    expect(() => adam({ sizes: [] })).toThrow(/adam: expected a non-empty array of parameter sizes, got /);
    expect(() => adam({ sizes: [3, 0] })).toThrow(/adam: sizes\[1\] must be an integer ≥ 1, got 0/);
  });

  it('groups as many parameters as the device binds storage buffers', () => {
    expect(updateGroupSize(2, 8)).toBe(2); // Adam: the step state, then grads, params, slots per parameter
    expect(updateGroupSize(2, 16)).toBe(5);
    expect(updateGroupSize(0, 10)).toBe(4); // plain SGD: grads and params
    expect(updateGroupSize(3, 3)).toBe(1); // never fewer than one
  });
});
