// Elementwise kernels against a float64 reference, on random inputs of awkward sizes and shapes.

import { describe, expect, it } from 'vitest';
import { expectAllClose, freshSeed, randomUniform } from '../../test/expect-all-close.js';
import { runKernel } from '../../test/kernel-harness.js';
import { binary, binaryOpNames, binaryScalar, broadcastShapes, fill, unary, type BinaryOp } from './elementwise.js';
import { defaultLimits, type KernelLimits } from './kernel.js';

const reference: Record<BinaryOp, (x: number, y: number, int: boolean) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y, int) => (int ? Math.imul(x, y) : x * y),
  div: (x, y, int) => (int ? Math.floor(x / y) : x / y),
  maximum: (x, y) => Math.max(x, y),
  minimum: (x, y) => Math.min(x, y),
};

const seed = freshSeed();
const f32 = (n: number, s: number) => randomUniform(n, seed + s, -4, 4);
// Nonzero integers, so integer division is defined.
const i32 = (n: number, s: number) => Int32Array.from(randomUniform(n, seed + s, -50, 50), (v) => (Math.round(v) || 7));
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function referenceBroadcast(op: BinaryOp, a: ArrayLike<number>, aShape: number[], b: ArrayLike<number>, bShape: number[], int: boolean): number[] {
  const out = broadcastShapes(aShape, bShape);
  const index = (shape: number[], coord: number[]) =>
    shape.reduce((acc, d, k) => acc * d + (d === 1 ? 0 : coord[out.length - shape.length + k]), 0);
  const result: number[] = [];
  for (let i = 0; i < size(out); i++) {
    const coord: number[] = [];
    let rest = i;
    for (let k = out.length - 1; k >= 0; k--) {
      coord[k] = rest % out[k];
      rest = Math.floor(rest / out[k]);
    }
    result.push(reference[op](a[index(aShape, coord)], b[index(bShape, coord)], int));
  }
  return result;
}

describe(`binary kernels (seed ${seed})`, () => {
  const shapes: [number[], number[]][] = [
    [[1], [1]],
    [[257], [257]],
    [[3, 1, 5], [4, 1]],
    [[2, 3, 4], [4]],
    [[], [7]],
    [[6, 1], [1, 13]],
    [[2, 1, 3, 1, 2, 1, 2, 3], [1, 4, 2, 1, 1, 3]],
  ];
  for (const op of binaryOpNames) {
    for (const dtype of ['float32', 'int32'] as const) {
      it(`${op} ${dtype} at shapes ${shapes.map(([a, b]) => `[${a}]∘[${b}]`).join(' ')}`, async () => {
        for (const [aShape, bShape] of shapes) {
          const make = dtype === 'float32' ? f32 : i32;
          const a = make(size(aShape), 1);
          const b = make(size(bShape), 2);
          const n = size(broadcastShapes(aShape, bShape));
          const [out] = await runKernel(binary({ op, dtype, aShape, bShape }), [a, b], [{ size: n, dtype }]);
          expectAllClose(out, referenceBroadcast(op, a, aShape, b, bShape, dtype === 'int32'), { rtol: 1e-6, atol: 0 });
        }
      });
    }
  }

  it('rejects shapes that do not broadcast, naming both', () => {
    expect(() => broadcastShapes([2, 3], [4, 3])).toThrow(/\[2,3\] and \[4,3\] cannot be broadcast.*axis 0.*2.*4/);
  });
});

describe(`scalar, unary and fill kernels (seed ${seed})`, () => {
  it('applies a scalar on either side', async () => {
    for (const op of binaryOpNames) {
      const a = f32(1001, 3);
      for (const scalarFirst of [false, true]) {
        const [out] = await runKernel(binaryScalar({ op, dtype: 'float32', size: a.length, scalar: 1.5, scalarFirst }), [a], [{ size: a.length }]);
        const expected = Array.from(a, (x) => (scalarFirst ? reference[op](1.5, x, false) : reference[op](x, 1.5, false)));
        expectAllClose(out, expected, { rtol: 1e-6, atol: 0 });
      }
    }
  });

  it('neg, abs and square', async () => {
    const a = f32(333, 4);
    const ops = { neg: (x: number) => -x, abs: Math.abs, square: (x: number) => x * x } as const;
    for (const [op, f] of Object.entries(ops) as [keyof typeof ops, (x: number) => number][]) {
      const [out] = await runKernel(unary({ op, dtype: 'float32', size: a.length }), [a], [{ size: a.length }]);
      expectAllClose(out, Array.from(a, f), { rtol: 1e-6, atol: 0 });
    }
  });

  it('fills every element, int32 included', async () => {
    const [f] = await runKernel(fill({ dtype: 'float32', size: 99, value: -2.5 }), [], [{ size: 99 }]);
    expectAllClose(f, new Array(99).fill(-2.5));
    const [i] = await runKernel(fill({ dtype: 'int32', size: 5, value: 42 }), [], [{ size: 5, dtype: 'int32' }]);
    expectAllClose(i, [42, 42, 42, 42, 42]);
  });
});

describe('dispatch grids beyond one dimension', () => {
  it('folds workgroups into a second dimension when a small limit forces it', async () => {
    const limits: KernelLimits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 7 };
    const a = f32(5000, 5);
    const b = f32(5000, 6);
    const kernel = binary({ op: 'add', dtype: 'float32', aShape: [5000], bShape: [5000], limits });
    expect(kernel.dispatch[1]).toBeGreaterThan(1);
    const [out] = await runKernel(kernel, [a, b], [{ size: 5000 }]);
    expectAllClose(out, Array.from(a, (x, i) => x + b[i]), { rtol: 1e-6, atol: 0 });
  });

  it('folds past the real 65,535 limit', async () => {
    // One invocation per workgroup: 70,001 elements need 70,001 workgroups, beyond one dimension.
    const limits: KernelLimits = { ...defaultLimits, maxComputeInvocationsPerWorkgroup: 1 };
    const a = f32(70_001, 7);
    const kernel = binaryScalar({ op: 'mul', dtype: 'float32', size: a.length, scalar: 3, limits });
    expect(kernel.dispatch[0]).toBeLessThanOrEqual(65_535);
    expect(kernel.dispatch[1]).toBe(2);
    const [out] = await runKernel(kernel, [a], [{ size: a.length }]);
    expectAllClose(out, Array.from(a, (x) => x * 3), { rtol: 1e-6, atol: 0 });
  });
});
