// Weight initializers as Keras names them, drawn on the GPU by the counter-based generator of
// src/shaders/random.ts, so a seed gives the same weights on every device.

import { runtime } from '../gpu/device.js';
import * as random from '../shaders/random.js';
import type { Kernel } from '../shaders/kernel.js';
import { emptyTensor, type Tensor, tensor } from './tensor.js';

const size = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);

export interface Initializer {
  readonly className: string;
  readonly config: Record<string, number | null>;
  /** A new tensor of `shape`; `fan` gives the fan-in and fan-out of a kernel of this shape. */
  create(shape: readonly number[]): Tensor;
}

/** Fan-in and fan-out of a kernel, as Keras computes them (receptive field × channels for conv). */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  if (shape.length === 2) return { fanIn: shape[0], fanOut: shape[1] };
  const receptive = shape.slice(0, -2).reduce((n, d) => n * d, 1);
  return { fanIn: receptive * shape[shape.length - 2], fanOut: receptive * shape[shape.length - 1] };
}

function drawn(shape: readonly number[], build: (size: number) => Kernel): Tensor {
  const t = emptyTensor(shape, 'float32', 'initializer');
  if (t.size) t.runtime.dispatch(build(t.size), [t.buffer]);
  return t;
}

/** A seed for an initializer without one: random, as Keras's unseeded initializers are. */
function freshSeed(seed?: number | null): number {
  if (seed === undefined || seed === null) return Math.floor(Math.random() * 2 ** 32);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`initializer seed must be an integer in [0, 2³²), got ${seed}`);
  return seed;
}

export const initializers = {
  /** U(−l, l) with l = sqrt(6 / (fanIn + fanOut)): Keras's default for kernels. */
  glorotUniform({ seed }: { seed?: number } = {}): Initializer {
    return {
      className: 'GlorotUniform',
      config: { seed: seed ?? null },
      create: (shape) => drawn(shape, (size) => random.glorotUniform({ ...fans(shape), size, seed: freshSeed(seed), limits: runtime().limits })),
    };
  },
  /** U(−l, l) with l = sqrt(6 / fanIn), for relu layers. */
  heUniform({ seed }: { seed?: number } = {}): Initializer {
    return {
      className: 'HeUniform',
      config: { seed: seed ?? null },
      create: (shape) => {
        const limit = Math.sqrt(6 / fans(shape).fanIn);
        return drawn(shape, (size) => random.randomUniform({ size, min: -limit, max: limit, seed: freshSeed(seed), limits: runtime().limits }));
      },
    };
  },
  randomUniform({ minval = -0.05, maxval = 0.05, seed }: { minval?: number; maxval?: number; seed?: number } = {}): Initializer {
    return {
      className: 'RandomUniform',
      config: { minval, maxval, seed: seed ?? null },
      create: (shape) => drawn(shape, (size) => random.randomUniform({ size, min: minval, max: maxval, seed: freshSeed(seed), limits: runtime().limits })),
    };
  },
  randomNormal({ mean = 0, stddev = 0.05, seed }: { mean?: number; stddev?: number; seed?: number } = {}): Initializer {
    return {
      className: 'RandomNormal',
      config: { mean, stddev, seed: seed ?? null },
      create: (shape) => drawn(shape, (size) => random.randomNormal({ size, mean, stddev, seed: freshSeed(seed), limits: runtime().limits })),
    };
  },
  /**
   * Keras's VarianceScaling, the family Glorot and He belong to: scale / fan (fan by `mode`) is
   * the variance; 'uniform' draws from ±sqrt(3·variance), the normal forms from N(0, variance)
   * (untruncated here).
   */
  varianceScaling({ scale = 1, mode = 'fan_in', distribution = 'truncated_normal', seed }: { scale?: number; mode?: string; distribution?: string; seed?: number } = {}): Initializer {
    const fan = (shape: readonly number[]): number => {
      const { fanIn, fanOut } = fans(shape);
      return mode === 'fan_out' ? fanOut : mode === 'fan_avg' ? (fanIn + fanOut) / 2 : fanIn;
    };
    return {
      className: 'VarianceScaling',
      config: { scale, seed: seed ?? null },
      create: (shape) => {
        const variance = scale / Math.max(1, fan(shape));
        if (distribution === 'uniform') {
          const limit = Math.sqrt(3 * variance);
          return drawn(shape, (size) => random.randomUniform({ size, min: -limit, max: limit, seed: freshSeed(seed), limits: runtime().limits }));
        }
        return drawn(shape, (size) => random.randomNormal({ size, mean: 0, stddev: Math.sqrt(variance), seed: freshSeed(seed), limits: runtime().limits }));
      },
    };
  },
  // Uploaded rather than filled by an op, so a layer built inside a trace still gets real weights.
  zeros(): Initializer {
    return { className: 'Zeros', config: {}, create: (shape) => tensor(new Float32Array(size(shape)), shape) };
  },
  ones(): Initializer {
    return { className: 'Ones', config: {}, create: (shape) => tensor(new Float32Array(size(shape)).fill(1), shape) };
  },
};

export type InitializerName = keyof typeof initializers;
export const initializerNames = Object.keys(initializers) as InitializerName[];

const aliases: Record<string, InitializerName> = {
  glorot_uniform: 'glorotUniform', he_uniform: 'heUniform', random_uniform: 'randomUniform', random_normal: 'randomNormal',
  variance_scaling: 'varianceScaling', VarianceScaling: 'varianceScaling',
  GlorotUniform: 'glorotUniform', HeUniform: 'heUniform', RandomUniform: 'randomUniform', RandomNormal: 'randomNormal', Zeros: 'zeros', Ones: 'ones',
};

/** An initializer from a name (camelCase, snake_case or Keras's class name) or an initializer object. */
export function getInitializer(spec: InitializerName | string | Initializer, where: string, config: Record<string, unknown> = {}): Initializer {
  if (typeof spec === 'object' && spec !== null && 'create' in spec) return spec;
  const name = (aliases[spec as string] ?? spec) as InitializerName;
  if (!initializerNames.includes(name)) {
    throw new Error(`${where}: unknown initializer '${String(spec)}'; expected one of ${initializerNames.map((n) => `'${n}'`).join(', ')}`);
  }
  return (initializers[name] as (c: Record<string, unknown>) => Initializer)(config);
}
