// The Dataset verbs against tf.data's semantics: order, shuffle buffers, seeds, batches,
// repeat/shuffle order, sizes, ownership of Tensors, and the errors for bad input.

import { beforeAll, describe, expect, it } from 'vitest';
import { ready } from '../gpu/device.js';
import { div, sub } from '../nn/ops.js';
import { liveTensors, Tensor, tensor } from '../nn/tensor.js';
import type { Slice } from './dataset.js';
import { data } from './index.js';

beforeAll(async () => {
  await ready();
});

/** A dataset of the numbers 0..n-1, as Slices of a Float32Array. */
const numbers = (n: number) => data.fromTensorSlices(Float32Array.from({ length: n }, (_, i) => i));
const values = async (ds: data.Dataset<Slice>): Promise<number[]> => (await ds.toArray()).map((s) => s.data[0]);

describe('fromTensorSlices', () => {
  it('slices Tensors, typed arrays, { data, shape } and nested arrays along the first dimension', async () => {
    const x = tensor([[1, 2], [3, 4], [5, 6]]);
    const y = tensor(Int32Array.from([7, 8, 9]), [3], 'int32');
    const pairs = await data.fromTensorSlices([x, y]).toArray();
    expect(pairs).toHaveLength(3);
    expect(Array.from(pairs[1][0].data)).toEqual([3, 4]);
    expect(pairs[1][0].shape).toEqual([2]);
    expect(pairs[1][0].dtype).toBe('float32');
    expect(Array.from(pairs[2][1].data)).toEqual([9]);
    expect(pairs[2][1].shape).toEqual([]);
    expect(pairs[2][1].dtype).toBe('int32');

    const objects = await data.fromTensorSlices({ xs: { data: Uint8Array.from([1, 2, 3, 4]), shape: [2, 2] }, ys: Int32Array.from([0, 1]) }).toArray();
    expect(objects[1].xs.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(objects[1].xs.data)).toEqual([3, 4]);
    expect(objects[1].ys.dtype).toBe('int32');

    const nested = await data.fromTensorSlices([[1, 2], [3, 4]]).toArray();
    expect(nested.map((s) => Array.from(s.data))).toEqual([[1, 2], [3, 4]]);
    x.dispose();
    y.dispose();
  });

  it('knows its size, and keeps order without shuffle', async () => {
    const ds = numbers(10);
    expect(ds.size).toBe(10);
    expect(await values(ds)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // A second iteration starts again from the beginning.
    expect(await values(ds)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('rejects components of different lengths, scalars and ragged arrays, naming them', () => {
    const x = tensor([[1, 2], [3, 4], [5, 6]]);
    const y = tensor([0, 1]);
    expect(() => data.fromTensorSlices([x, y])).toThrow(/same length.*\[0\] has 3, \[1\] has 2/);
    expect(() => data.fromTensorSlices({ xs: new Float32Array(4), ys: new Float32Array(5) })).toThrow(/\.xs has 4, \.ys has 5/);
    expect(() => data.fromTensorSlices(tensor(3))).toThrow(/cannot slice a scalar/);
    expect(() => data.fromTensorSlices([[1, 2], [3]])).toThrow(/rectangular.*expected 2 elements at \[1\], got 1/);
    expect(() => data.fromTensorSlices({ data: new Float32Array(5), shape: [2, 2] })).toThrow(/holds 4 values, but data has 5/);
    expect(() => data.fromTensorSlices('nope' as never)).toThrow(/fromTensorSlices: expected .* got string nope/);
    x.dispose();
    y.dispose();
  });
});

describe('shuffle', () => {
  it('with a buffer smaller than the dataset visits every element once per iteration', async () => {
    const ds = numbers(100).shuffle(10, 7);
    for (let epoch = 0; epoch < 3; epoch++) {
      const order = await values(ds);
      expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      expect(order).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
      // A buffer of 10 can only pull an element forward from at most 10 places later.
      order.forEach((v, position) => expect(v).toBeLessThanOrEqual(position + 10));
    }
  });

  it('reproduces with a seed, reshuffles each iteration, and repeats the order when asked not to', async () => {
    const a = numbers(50).shuffle(50, 42);
    const b = numbers(50).shuffle(50, 42);
    const a1 = await values(a);
    const a2 = await values(a);
    expect(await values(b)).toEqual(a1);
    expect(await values(b)).toEqual(a2);
    expect(a2).not.toEqual(a1);
    expect(await values(numbers(50).shuffle(50, 43))).not.toEqual(a1);
    const fixed = numbers(50).shuffle(50, 42, false);
    expect(await values(fixed)).toEqual(await values(fixed));
  });

  it('shuffle-then-repeat permutes each epoch; repeat-then-shuffle mixes across epochs', async () => {
    const n = 20;
    const all = Array.from({ length: n }, (_, i) => i);
    const perEpoch = await values(numbers(n).shuffle(n, 1).repeat(3));
    expect(perEpoch).toHaveLength(3 * n);
    const epochs = [0, 1, 2].map((e) => perEpoch.slice(e * n, (e + 1) * n));
    for (const e of epochs) expect([...e].sort((a, b) => a - b)).toEqual(all);
    expect(epochs[1]).not.toEqual(epochs[0]);

    // With the buffer spanning epochs, some epoch boundary is crossed: an element appears twice
    // among the first n outputs.
    const mixed = await values(numbers(n).repeat(3).shuffle(2 * n, 1));
    expect(mixed).toHaveLength(3 * n);
    expect(new Set(mixed.slice(0, n)).size).toBeLessThan(n);
    const counts = new Map<number, number>();
    for (const v of mixed) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect([...counts.values()].every((c) => c === 3)).toBe(true);
  });

  it('rejects a bad buffer size or seed', () => {
    expect(() => numbers(3).shuffle(0)).toThrow(/shuffle: bufferSize must be a positive integer, got 0/);
    expect(() => numbers(3).shuffle(2, Number.NaN)).toThrow(/shuffle: seed must be a finite number/);
  });
});

describe('batch', () => {
  it('stacks components into Tensors keeping the structure, with a smaller last batch', async () => {
    const x = new Float32Array(10 * 3).map((_, i) => i);
    const y = Int32Array.from({ length: 10 }, (_, i) => i % 3);
    const ds = data.fromTensorSlices([{ data: x, shape: [10, 3] }, y]).batch(4);
    expect(ds.size).toBe(3);
    const batches = await ds.toArray();
    expect(batches.map(([bx]) => bx.shape)).toEqual([[4, 3], [4, 3], [2, 3]]);
    expect(batches[2][1].dtype).toBe('int32');
    expect(Array.from(await batches[2][0].data())).toEqual([24, 25, 26, 27, 28, 29]);
    expect(Array.from(await batches[1][1].data())).toEqual([1, 2, 0, 1]);
    for (const [bx, by] of batches) {
      bx.dispose();
      by.dispose();
    }
    const objects = await data.fromTensorSlices({ xs: { data: x, shape: [10, 3] }, ys: y }).batch(5).toArray();
    expect(objects[0].xs).toBeInstanceOf(Tensor);
    expect(objects[0].ys.shape).toEqual([5]);
    objects.forEach((b) => (b.xs.dispose(), b.ys.dispose()));
  });

  it('drops the remainder when asked', async () => {
    const ds = numbers(10).batch(4, { dropRemainder: true });
    expect(ds.size).toBe(2);
    const batches = await ds.toArray();
    expect(batches).toHaveLength(2);
    batches.forEach((b) => b.dispose());
  });

  it('uploads bytes as float32, and rejects batch(0) and mismatched elements', async () => {
    const [b] = await data.fromTensorSlices({ data: Uint8Array.from([0, 128, 255, 7]), shape: [2, 2] }).batch(2).toArray();
    expect(b.dtype).toBe('float32');
    expect(Array.from(await b.data())).toEqual([0, 128, 255, 7]);
    b.dispose();
    expect(() => numbers(3).batch(0)).toThrow(/batch: size must be a positive integer, got 0/);
    const ragged = data.array([{ data: new Float32Array(2), shape: [2], dtype: 'float32' as const }, { data: new Float32Array(3), shape: [3], dtype: 'float32' as const }]);
    await expect(ragged.batch(2).toArray()).rejects.toThrow(/element 1 of the batch is float32 \[3\], but element 0 is float32 \[2\]/);
  });
});

describe('map after batch runs sf ops on the GPU', () => {
  it('maps with sf ops and disposes the inputs it does not return', async () => {
    const x = new Float32Array(8).map((_, i) => i * 51);
    const before = liveTensors().tensors;
    const ds = data
      .fromTensorSlices([{ data: x, shape: [4, 2] }, Int32Array.from([0, 1, 2, 3])])
      .batch(2)
      .map(([bx, by]) => [div(bx, 255), by] as const);
    const out = await ds.toArray();
    expect(out).toHaveLength(2);
    expect(Array.from(await out[1][0].data())).toEqual([0.8, 1, 1.2, 1.4].map((v) => Math.fround(v)));
    expect(Array.from(await out[1][1].data())).toEqual([2, 3]);
    // Two batches of two tensors alive; the undivided inputs were disposed by map.
    expect(liveTensors().tensors - before).toBe(4);
    out.forEach(([a, b]) => (a.dispose(), b.dispose()));
    expect(liveTensors().tensors).toBe(before);
  });

  it('maps before batch over host Slices', async () => {
    const ds = numbers(4).map((s) => ({ ...s, data: Float32Array.of(s.data[0] * 10) })).batch(4);
    const [b] = await ds.toArray();
    expect(Array.from(await b.data())).toEqual([0, 10, 20, 30]);
    b.dispose();
  });
});

describe('other verbs', () => {
  it('filter, take, skip, concatenate, repeat and their sizes', async () => {
    expect(await values(numbers(10).filter((s) => s.data[0] % 2 === 0))).toEqual([0, 2, 4, 6, 8]);
    expect(numbers(10).filter(() => true).size).toBeNull();
    expect(await values(numbers(10).take(3))).toEqual([0, 1, 2]);
    expect(numbers(10).take(30).size).toBe(10);
    expect(await values(numbers(10).skip(7))).toEqual([7, 8, 9]);
    expect(numbers(10).skip(20).size).toBe(0);
    expect(await values(numbers(2).concatenate(numbers(3)))).toEqual([0, 1, 0, 1, 2]);
    expect(numbers(2).concatenate(numbers(3)).size).toBe(5);
    expect(await values(numbers(3).repeat(2))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(numbers(3).repeat().size).toBe(Infinity);
    expect(await values(numbers(3).repeat().take(7))).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(numbers(3).repeat().take(7).size).toBe(7);
    // An empty dataset repeated forever ends instead of spinning.
    expect(await values(numbers(0).repeat())).toEqual([]);
    expect(() => numbers(3).take(1.5)).toThrow(/take: count must be/);
    await expect(numbers(3).repeat().toArray()).rejects.toThrow(/infinite/);
  });

  it('prefetch keeps order and stops cleanly when the consumer breaks early', async () => {
    expect(await values(numbers(20).prefetch(4))).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const before = liveTensors().tensors;
    const ds = numbers(40).batch(2).prefetch(3);
    for await (const b of ds) {
      b.dispose();
      break;
    }
    // Batches produced ahead and never handed over were disposed.
    expect(liveTensors().tensors).toBe(before);
    let seen = 0;
    await ds.forEachAsync((b) => {
      seen++;
      b.dispose();
    });
    expect(seen).toBe(20);
  });

  it('errors in a map surface to the consumer, also through prefetch', async () => {
    const ds = numbers(5)
      .map((s) => {
        if (s.data[0] === 3) throw new Error('bad element 3');
        return s;
      })
      .prefetch(2);
    await expect(ds.toArray()).rejects.toThrow('bad element 3');
  });

  it('cache replays the first iteration, handing out fresh Tensors', async () => {
    let calls = 0;
    const ds = numbers(6)
      .map((s) => (calls++, s))
      .batch(3)
      .map((b) => sub(b, 1))
      .cache();
    const first = await ds.toArray();
    const second = await ds.toArray();
    expect(calls).toBe(6);
    expect(Array.from(await second[1].data())).toEqual([2, 3, 4]);
    expect(second[0]).not.toBe(first[0]);
    first.forEach((t) => t.dispose());
    expect(Array.from(await second[0].data())).toEqual([-1, 0, 1]);
    second.forEach((t) => t.dispose());
  });

  it('shuffle after cache reshuffles the cached elements', async () => {
    const ds = numbers(30).cache().shuffle(30, 3);
    const a = await values(ds);
    const b = await values(ds);
    expect(a).not.toEqual(b);
    expect([...b].sort((p, q) => p - q)).toEqual([...a].sort((p, q) => p - q));
  });

  it('reads source Tensors on first iteration and says so when they were disposed', async () => {
    const x = tensor([1, 2, 3]);
    const ds = data.fromTensorSlices(x);
    x.dispose();
    await expect(ds.toArray()).rejects.toThrow(/fromTensorSlices: could not read Tensor #\d+ .*disposed.*keep source tensors alive/);
  });
});

describe('other constructors', () => {
  it('range, array and generator', async () => {
    expect(await data.range(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(await data.range(1, 10, 4).toArray()).toEqual([1, 5, 9]);
    expect(data.range(1, 10, 4).size).toBe(3);
    expect(await data.array(['a', 'b']).repeat(2).toArray()).toEqual(['a', 'b', 'a', 'b']);
    const gen = data.generator(function* () {
      yield 1;
      yield 2;
    });
    expect(gen.size).toBeNull();
    expect(await gen.toArray()).toEqual([1, 2]);
    expect(await gen.toArray()).toEqual([1, 2]);
    const [b] = await data.range(6).batch(6).toArray();
    expect(Array.from(await b.data())).toEqual([0, 1, 2, 3, 4, 5]);
    b.dispose();
    expect(() => data.range(0, 5, 0)).toThrow(/range: .*non-zero step/);
  });
});

describe('residentSource', () => {
  it('describes fromTensorSlices → shuffle → batch → map, with the exact row order of the pipeline', async () => {
    const n = 23;
    const x = new Float32Array(n * 2).map((_, i) => i);
    const y = Int32Array.from({ length: n }, (_, i) => i);
    const make = () =>
      data
        .fromTensorSlices([{ data: x, shape: [n, 2] }, y])
        .shuffle(8, 5)
        .batch(5)
        .map(([bx, by]) => [div(bx, 2), by] as const)
        .prefetch(2);
    const host = make();
    const twin = make();
    const source = await twin.residentSource();
    expect(source).not.toBeNull();
    const r = source!;
    expect(r.rows).toBe(n);
    expect(r.batchSize).toBe(5);
    expect(r.dropRemainder).toBe(false);
    expect(r.size).toBe(5);
    expect(r.columns.map((c) => [c.path, c.shape, c.dtype])).toEqual([['[0]', [n, 2], 'float32'], ['[1]', [n], 'int32']]);
    expect(r.maps).toHaveLength(1);
    for (let epoch = 0; epoch < 2; epoch++) {
      const hostLabels: number[][] = [];
      for await (const [, by] of host) {
        hostLabels.push(Array.from(await by.data()));
      }
      const indexBatches: number[][] = [];
      for await (const indices of r.indexBatches()) indexBatches.push(Array.from(indices));
      expect(indexBatches).toEqual(hostLabels);
    }
    const element = r.assemble(['X', 'Y']);
    expect(element).toEqual(['X', 'Y']);
  });

  it('merges concatenated sources and passes the original Tensor through', async () => {
    const a = tensor([[1], [2], [3]]);
    const b = tensor([[4], [5]]);
    const one = await data.fromTensorSlices(a).repeat(2).batch(2).residentSource();
    expect(one!.columns[0].tensor).toBe(a);
    const both = await data.fromTensorSlices(a).concatenate(data.fromTensorSlices(b)).shuffle(5, 1).batch(2).residentSource();
    expect(both!.rows).toBe(5);
    expect(Array.from(both!.columns[0].data)).toEqual([1, 2, 3, 4, 5]);
    expect(both!.columns[0].tensor).toBeUndefined();
    const seen: number[] = [];
    for await (const idx of both!.indexBatches()) seen.push(...idx);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4]);
    a.dispose();
    b.dispose();
  });

  it('is null for pipelines that are not a gather', async () => {
    const base = () => numbers(10);
    expect(await base().residentSource()).toBeNull(); // not batched
    expect(await base().filter(() => true).batch(2).residentSource()).toBeNull();
    expect(await base().map((s) => s).batch(2).residentSource()).toBeNull();
    expect(await base().batch(2).batch(2).residentSource()).toBeNull();
    expect(await data.array([1, 2]).batch(2).residentSource()).toBeNull();
  });
});
