// Input-pipeline kernels against plain TypeScript: row and byte gathers (with indices out of
// range), uint8 unpacking at byte counts that straddle words, and inversion.

import { describe, expect, it } from 'vitest';
import { expectAllClose, freshSeed, randomUniform } from '../../test/expect-all-close.js';
import { runKernel } from '../../test/kernel-harness.js';
import { castScale, gatherBytes, gatherRows, invert, packBytes } from './data.js';
import { defaultLimits, type KernelLimits } from './kernel.js';

const seed = freshSeed();

const randomBytes = (n: number, s: number) => Uint8Array.from(randomUniform(n, s, 0, 256), Math.floor);

/** Indices in range, with every kind of bad one among them: −1, rows, and far beyond. */
function indices(batch: number, rows: number, s: number): Int32Array {
  const out = Int32Array.from(randomUniform(batch, s, 0, rows), Math.floor);
  if (batch > 3) out.set([-1, rows, 2 ** 31 - 1], batch - 3);
  return out;
}

describe(`packBytes (seed ${seed})`, () => {
  it('packs little endian and zero-pads the last word', () => {
    expect(Array.from(packBytes(Uint8Array.from([1, 2, 3, 4, 0xff])))).toEqual([0x04030201, 0xff]);
    const bytes = randomBytes(4 * 37, seed);
    // Where the host is little endian (every WebGPU platform), the packing is the native view.
    expect(Array.from(packBytes(bytes))).toEqual(Array.from(new Uint32Array(bytes.buffer)));
    expect(packBytes(new Uint8Array(0)).length).toBe(0);
  });
});

describe(`gatherRows (seed ${seed})`, () => {
  const bad = (dtype: 'float32' | 'int32') => (dtype === 'float32' ? NaN : -1);
  const expected = (source: ArrayLike<number>, rows: number, rowSize: number, idx: Int32Array, dtype: 'float32' | 'int32') =>
    Array.from({ length: idx.length * rowSize }, (_, i) => {
      const r = idx[Math.floor(i / rowSize)];
      return r >= 0 && r < rows ? source[r * rowSize + (i % rowSize)] : bad(dtype);
    });
  const sourceOf = (rows: number, rowSize: number, dtype: 'float32' | 'int32', s: number) => {
    const floats = randomUniform(rows * rowSize, s, -3, 3);
    return dtype === 'float32' ? floats : Int32Array.from(floats, (v) => Math.round(v * 1000));
  };

  for (const dtype of ['float32', 'int32'] as const) {
    it(`${dtype}: rows of 5 from 7, batches of 1 and 11 with bad indices`, async () => {
      const [rows, rowSize] = [7, 5];
      const source = sourceOf(rows, rowSize, dtype, seed + 1);
      for (const batch of [1, 11]) {
        const idx = indices(batch, rows, seed + batch);
        const [out] = await runKernel(gatherRows({ sources: [{ rows, rowSize, dtype }], batch }), [idx, source], [{ size: batch * rowSize, dtype }], [[0, 1, 2]]);
        expectAllClose(out, expected(source, rows, rowSize, idx, dtype), { rtol: 0, atol: 0 });
      }
    });
  }

  it('gathers a batch of x (float32 rows of 4) and y (int32 labels) in one dispatch', async () => {
    const rows = 9;
    const x = sourceOf(rows, 4, 'float32', seed + 20);
    const y = sourceOf(rows, 1, 'int32', seed + 21);
    const idx = indices(13, rows, seed + 22);
    const kernel = gatherRows({ sources: [{ rows, rowSize: 4, dtype: 'float32' }, { rows, rowSize: 1, dtype: 'int32' }], batch: 13 });
    // Bindings indices, x, out x, y, out y: inputs [idx, x, y], outputs [out x, out y].
    const [outX, outY] = await runKernel(kernel, [idx, x, y], [{ size: 13 * 4 }, { size: 13, dtype: 'int32' }], [[0, 1, 3, 2, 4]]);
    expectAllClose(outX, expected(x, rows, 4, idx, 'float32'), { rtol: 0, atol: 0 });
    expectAllClose(outY, expected(y, rows, 1, idx, 'int32'), { rtol: 0, atol: 0 });
  });
});

describe(`gatherBytes and castScale (seed ${seed})`, () => {
  // Float32 of byte·scale + offset, possibly fused: within a few ulps of 1.
  const tolerance = { rtol: 1e-6, atol: 2e-7 };
  const scales: [scale: number, offset: number][] = [[1 / 255, 0], [-1 / 255, 1]];

  it('gathers rows of 7 and 13 bytes (straddling words) scaled to [0, 1] and inverted', async () => {
    for (const rowBytes of [7, 13]) {
      const rows = 5;
      const bytes = randomBytes(rows * rowBytes, seed + rowBytes);
      // Both ends of the range: 255·(−1/255) + 1 is 0 only up to float32 rounding (and fma).
      bytes[0] = 0;
      bytes[1] = 255;
      const batch = 9;
      const idx = indices(batch, rows, seed + 2);
      idx[0] = 0;
      for (const [scale, offset] of scales) {
        const [out] = await runKernel(gatherBytes({ rows, rowBytes, batch, scale, offset }), [packBytes(bytes), idx], [{ size: batch * rowBytes }]);
        const expected = Array.from({ length: batch * rowBytes }, (_, i) => {
          const r = idx[Math.floor(i / rowBytes)];
          return r >= 0 && r < rows ? bytes[r * rowBytes + (i % rowBytes)] * scale + offset : NaN;
        });
        expectAllClose(out, expected, tolerance);
      }
    }
  });

  it('gathers across a folded grid', async () => {
    const limits: KernelLimits = { ...defaultLimits, maxComputeWorkgroupsPerDimension: 3 };
    const [rows, rowBytes, batch] = [11, 29, 64];
    const kernel = gatherBytes({ rows, rowBytes, batch, scale: 1 / 255, offset: 0, limits });
    expect(kernel.dispatch[1]).toBeGreaterThan(1);
    const bytes = randomBytes(rows * rowBytes, seed + 3);
    const idx = Int32Array.from(randomUniform(batch, seed + 4, 0, rows), Math.floor);
    const [out] = await runKernel(kernel, [packBytes(bytes), idx], [{ size: batch * rowBytes }]);
    expectAllClose(out, Array.from({ length: batch * rowBytes }, (_, i) => bytes[idx[Math.floor(i / rowBytes)] * rowBytes + (i % rowBytes)] / 255), tolerance);
  });

  it('castScale converts 1, 6 and 1001 bytes', async () => {
    for (const size of [1, 6, 1001]) {
      const bytes = randomBytes(size, seed + size);
      for (const [scale, offset] of scales) {
        const [out] = await runKernel(castScale({ size, scale, offset }), [packBytes(bytes)], [{ size }]);
        expectAllClose(out, Array.from(bytes, (b) => b * scale + offset), tolerance);
      }
    }
  });

  it('rejects bad parameters, naming what was expected', () => {
    expect(() => gatherBytes({ rows: 3, rowBytes: 0, batch: 2, scale: 1, offset: 0 })).toThrow(/gatherBytes: rowBytes must be an integer ≥ 1, got 0/);
    expect(() => castScale({ size: 3, scale: NaN, offset: 0 })).toThrow(/castScale: scale must be a finite number, got NaN/);
    expect(() => gatherRows({ sources: [{ rows: 3, rowSize: 2, dtype: 'uint8' as 'int32' }], batch: 2 })).toThrow(/dtype must be 'float32' or 'int32', got 'uint8'/);
    expect(() => gatherRows({ sources: [], batch: 2 })).toThrow('gatherRows: expected at least one source');
  });
});

describe(`invert (seed ${seed})`, () => {
  it('out = 1 − x at sizes 1 and 257', async () => {
    for (const size of [1, 257]) {
      const x = randomUniform(size, seed + size, 0, 1);
      const [out] = await runKernel(invert({ size }), [x], [{ size }]);
      // 1 − x is exact in float32 for x in [0.5, 1] and within half an ulp of 1 elsewhere.
      expectAllClose(out, Array.from(x, (v) => 1 - v), { rtol: 0, atol: 6e-8 });
    }
  });
});
