// The public Tensor API as a user meets it: creation, readback, eager ops, memory accounting.

import * as sf from 'shaderflow';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAllClose, freshSeed, randomUniform } from './expect-all-close.js';

beforeAll(async () => {
  await sf.ready();
});

describe('sf.ready and sf.backendInfo', () => {
  it('reports the adapter and the raised limits', async () => {
    const info = await sf.ready();
    expect(info.platform).toBe('node');
    expect(typeof info.vendor).toBe('string');
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(info.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    expect(sf.backendInfo()).toEqual(info);
  });

  it('reuses the current device when called again', async () => {
    const t = sf.tensor([1, 2, 3]);
    await sf.ready();
    expect(Array.from(await t.data())).toEqual([1, 2, 3]);
    t.dispose();
  });
});

describe('creating and reading tensors', () => {
  it('round-trips nested arrays, typed arrays and scalars', async () => {
    const t = sf.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(await t.array()).toEqual([[1, 2, 3], [4, 5, 6]]);

    const i = sf.tensor(new Int32Array([7, -8, 9]));
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.data())).toEqual([7, -8, 9]);

    const s = sf.scalar(3.5);
    expect(s.shape).toEqual([]);
    expect(await s.array()).toBe(3.5);

    const r = sf.tensor([1, 2, 3, 4, 5, 6], [3, 1, 2]);
    expect(await r.array()).toEqual([[[1, 2]], [[3, 4]], [[5, 6]]]);

    const truncated = sf.tensor([1.9, -1.9], undefined, 'int32');
    expect(Array.from(await truncated.data())).toEqual([1, -1]);
    for (const x of [t, i, s, r, truncated]) x.dispose();
  });

  it('handles empty tensors', async () => {
    const e = sf.tensor([], [0, 3]);
    expect(e.size).toBe(0);
    expect((await e.data()).length).toBe(0);
    const sum = sf.add(e, 1);
    expect(sum.shape).toEqual([0, 3]);
    e.dispose();
    sum.dispose();
  });

  it('makes zeros, ones and fills on the GPU', async () => {
    const z = sf.zeros([3, 4]);
    const o = sf.ones([5], 'int32');
    const f = sf.fill([2, 2], -0.25);
    expect(Array.from(await z.data())).toEqual(new Array(12).fill(0));
    expect(Array.from(await o.data())).toEqual([1, 1, 1, 1, 1]);
    expect(await f.array()).toEqual([[-0.25, -0.25], [-0.25, -0.25]]);
    for (const x of [z, o, f]) x.dispose();
  });

  it('keeps many reads in flight at once', async () => {
    const tensors = Array.from({ length: 40 }, (_, k) => sf.fill([k + 1], k));
    const results = await Promise.all(tensors.map((t) => t.data()));
    results.forEach((r, k) => expect(Array.from(r)).toEqual(new Array(k + 1).fill(k)));
    tensors.forEach((t) => t.dispose());
  });

  it('never lets an upload overwrite a buffer that queued work still reads', async () => {
    for (let k = 0; k < 20; k++) {
      const a = sf.tensor([1, 2, 3, k]);
      const b = sf.mul(a, 10);
      a.dispose();
      const c = sf.tensor([7, 7, 7, 7]); // may get a's buffer back from the pool
      expect(Array.from(await b.data())).toEqual([10, 20, 30, 10 * k]);
      expect(Array.from(await c.data())).toEqual([7, 7, 7, 7]);
      b.dispose();
      c.dispose();
    }
  });

  it('serves a read requested just before dispose', async () => {
    const t = sf.tensor([4, 5]);
    const pending = t.data();
    t.dispose();
    expect(Array.from(await pending)).toEqual([4, 5]);
  });
});

describe('eager elementwise ops', () => {
  const seed = freshSeed();
  it(`add, sub, mul, div with broadcasting and scalars match float64 (seed ${seed})`, async () => {
    const a = randomUniform(4 * 3 * 5, seed, -3, 3);
    const b = randomUniform(3 * 1, seed + 1, 0.5, 2);
    const ta = sf.tensor(a, [4, 3, 5]);
    const tb = sf.tensor(b, [3, 1]);
    const cases: [sf.Tensor, (x: number, y: number) => number][] = [
      [sf.add(ta, tb), (x, y) => x + y],
      [sf.sub(ta, tb), (x, y) => x - y],
      [sf.mul(ta, tb), (x, y) => x * y],
      [sf.div(ta, tb), (x, y) => x / y],
    ];
    const expected = (f: (x: number, y: number) => number) => Array.from(a, (x, i) => f(x, b[Math.floor(i / 5) % 3]));
    for (const [t, f] of cases) {
      expect(t.shape).toEqual([4, 3, 5]);
      expectAllClose(await t.data(), expected(f), { rtol: 1e-6, atol: 0 });
      t.dispose();
    }
    const scaled = sf.sub(2, sf.mul(ta, 0.5));
    expectAllClose(await scaled.data(), Array.from(a, (x) => 2 - x * 0.5), { rtol: 1e-6, atol: 1e-7 });
    const both = sf.add(2, 3);
    expect(await both.array()).toBe(5);
    for (const t of [ta, tb, scaled, both]) t.dispose();
  });

  it('chains ops without reading back in between', async () => {
    let t = sf.tensor([1, 2, 3]);
    for (let k = 0; k < 300; k++) {
      const next = sf.add(t, 1);
      t.dispose();
      t = next;
    }
    expect(Array.from(await t.data())).toEqual([301, 302, 303]);
    t.dispose();
  });
});

describe('memory', () => {
  it('counts live tensors and bytes, and reuses pooled buffers', async () => {
    const before = sf.memory();
    const a = sf.ones([1000]);
    const b = sf.ones([10, 10], 'int32');
    expect(sf.memory().numTensors).toBe(before.numTensors + 2);
    expect(sf.memory().numBytes).toBe(before.numBytes + 4000 + 400);
    expect(sf.memory().numBytesInUse).toBeGreaterThanOrEqual(before.numBytesInUse + 4400);
    a.dispose();
    b.dispose();
    a.dispose(); // twice is harmless
    await sf.tensor([0]).data(); // flushes, so the released buffers return to the pool
    const settled = sf.memory();
    expect(settled.numTensors).toBe(before.numTensors + 1);

    // Steady state: the same shapes over and over allocate nothing new.
    const step = async () => {
      const x = sf.ones([1000]);
      const y = sf.mul(x, 2);
      await y.data();
      x.dispose();
      y.dispose();
    };
    await step();
    const heldBefore = sf.memory().numBytesHeld;
    for (let k = 0; k < 50; k++) await step();
    expect(sf.memory().numBytesHeld).toBe(heldBefore);
  });
});

describe('bad input gets a clear Error', () => {
  it('names the shape and value count that do not match', () => {
    expect(() => sf.tensor([1, 2, 3], [2, 2])).toThrow('sf.tensor: shape [2, 2] holds 4 values, but 3 were given');
  });

  it('rejects ragged arrays, bad shapes, dtypes and values', () => {
    expect(() => sf.tensor([[1, 2], [3]])).toThrow(/rectangular; expected 2 elements at \[1\]/);
    expect(() => sf.tensor([1, 2], [-1, -2])).toThrow(/non-negative integers, got \[-1,-2\]/);
    expect(() => sf.tensor([1], [1], 'bool' as sf.DType)).toThrow(/dtype must be one of 'float32', 'int32', got 'bool'/);
    expect(() => sf.tensor('abc' as unknown as number)).toThrow(/expected a number, nested arrays of numbers or a typed array, got string/);
    expect(() => sf.tensor([1, 'x'] as unknown as number[])).toThrow(/expected a number at \[1\], got string/);
  });

  it('refuses to read or use a disposed tensor', async () => {
    const t = sf.tensor([1, 2]);
    t.dispose();
    await expect(t.data()).rejects.toThrow(/Tensor #\d+ \(float32 \[2\]\) was disposed/);
    expect(() => sf.add(t, 1)).toThrow(/sf.add: 'a' is Tensor #\d+ \(float32 \[2\]\), which was disposed/);
  });

  it('rejects mixed dtypes and shapes that do not broadcast', () => {
    const f = sf.tensor([1, 2]);
    const i = sf.tensor([1, 2], [2], 'int32');
    const g = sf.tensor([1, 2, 3]);
    expect(() => sf.add(f, i)).toThrow('sf.add: both operands need one dtype, got float32 (a) and int32 (b)');
    expect(() => sf.mul(f, g)).toThrow('Shapes [2] and [3] cannot be broadcast together');
    expect(() => sf.add([1, 2] as unknown as sf.Tensor, f)).toThrow(/'a' must be a Tensor or a number, got an array/);
    for (const t of [f, i, g]) t.dispose();
  });

  it('refuses a tensor larger than the device allows, without leaking', () => {
    const before = sf.memory();
    const max = sf.backendInfo().limits.maxBufferSize;
    expect(() => sf.zeros([Math.ceil(max / 4) + 1024])).toThrow(/Cannot allocate \d+ bytes .* at most \d+ bytes/);
    expect(sf.memory()).toEqual(before);
  });
});
