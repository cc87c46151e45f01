// tf.data-style input pipelines: a lazy Dataset, iterated asynchronously, whose elements are
// host-side Slices until batch() stacks them into Tensors (one upload per leaf per batch).
// Mapping after batch therefore runs sf ops on the GPU, once per batch: the fast path.

import { seedFrom } from '../nn/random.js';
import type { ResidentSource } from '../nn/training/resident.js';
import { collectTensors, disposeTensors, stackBatch } from './elements.js';
import { cacheGen, concatGen, iterate, prefetchGen, repeatGen, shuffleGen, skipGen, takeGen, type Make, type Node, type ShuffleState } from './pipeline.js';
import { resident } from './resident-source.js';
import { assemble, parseStructure, sizeOf, type Batched, type Slice, type SliceStructure, type Sliced } from './slices.js';
import { describe } from './source.js';

export type { Batched, HostArray, Slice, SliceInput, SliceStructure, Sliced } from './slices.js';

function checkCount(value: unknown, where: string, what: string, allowMinusOne: boolean): number {
  if (value === undefined && allowMinusOne) return -1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowMinusOne ? -1 : 0)) {
    throw new Error(`${where}: ${what} must be ${allowMinusOne ? 'a non-negative integer or -1 (all)' : 'a non-negative integer'}, got ${String(value)}`);
  }
  return value;
}

/**
 * A lazy pipeline of elements, iterated with `for await` (or iterator(), forEachAsync, toArray).
 * Each iteration is one pass ("epoch"): verbs run again from the source, and shuffle reshuffles.
 * Build one with sf.data.fromTensorSlices. Tensors it yields belong to the consumer: dispose them
 * when done (model.fit does).
 */
export class Dataset<T = unknown> implements AsyncIterable<T> {
  /** @internal */
  constructor(
    private readonly make: Make<T>,
    /** The number of elements per iteration: Infinity after repeat() without a count, null where it cannot be known (after filter). */
    readonly size: number | null,
    /** @internal */ readonly node: Node = { kind: 'other' },
  ) {}

  /** A fresh iteration over the elements. */
  iterator(): AsyncIterableIterator<T> {
    return iterate(this.make);
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.iterator();
  }

  /**
   * Applies `fn` to each element. Before batch() elements hold Slices (host data); after it,
   * Tensors, so `ds.batch(128).map(([x, y]) => [sf.div(x, 255), y])` runs on the GPU once per
   * batch: the fast path. Tensors of the input that `fn` does not return are disposed for you.
   */
  map<U>(fn: (element: T) => U | Promise<U>): Dataset<Awaited<U>> {
    if (typeof fn !== 'function') throw new Error(`map: expected a function, got ${describe(fn)}`);
    const make = this.make;
    return new Dataset<Awaited<U>>(
      async function* () {
        for await (const element of iterate(make)) {
          const out = await fn(element);
          const kept = collectTensors(out, new Set());
          for (const t of collectTensors(element, new Set())) if (!kept.has(t)) t.dispose();
          yield out;
        }
      },
      this.size,
      { kind: 'map', up: this.node, fn: fn as (element: unknown) => unknown },
    );
  }

  /** Keeps the elements for which `predicate` is true (the size becomes unknown). */
  filter(predicate: (element: T) => boolean | Promise<boolean>): Dataset<T> {
    if (typeof predicate !== 'function') throw new Error(`filter: expected a function, got ${describe(predicate)}`);
    const make = this.make;
    return new Dataset<T>(
      async function* () {
        for await (const element of iterate(make)) {
          if (await predicate(element)) yield element;
          else disposeTensors(element);
        }
      },
      null,
      { kind: 'filter', up: this.node },
    );
  }

  /**
   * Shuffles with a buffer of `bufferSize` elements, as tf.data does: a buffer as large as the
   * dataset gives a uniform shuffle; a smaller one still yields every element once per
   * iteration, but only mixes elements that are close. With a seed the sequence of orders
   * (one per iteration) is reproducible; reshuffleEachIteration = false repeats the first order.
   */
  shuffle(bufferSize: number, seed?: number, reshuffleEachIteration = true): Dataset<T> {
    if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new Error(`shuffle: bufferSize must be a positive integer, got ${String(bufferSize)}`);
    const state: ShuffleState = { seed: seedFrom(seed, 'shuffle'), iterations: 0, reshuffleEachIteration };
    const make = this.make;
    return new Dataset<T>(() => shuffleGen(make, bufferSize, state), this.size, { kind: 'shuffle', up: this.node, bufferSize, state });
  }

  /**
   * Stacks `size` consecutive elements into Tensors with a leading batch dimension, keeping the
   * structure ([x, y] stays [x, y]); one upload per component per batch. The last batch may be
   * smaller unless dropRemainder is set.
   */
  batch(size: number, options: { dropRemainder?: boolean } = {}): Dataset<Batched<T>> {
    if (!Number.isInteger(size) || size < 1) throw new Error(`batch: size must be a positive integer, got ${String(size)}`);
    const dropRemainder = options.dropRemainder ?? false;
    const make = this.make;
    const n = this.size;
    return new Dataset<Batched<T>>(
      async function* () {
        let group: T[] = [];
        try {
          for await (const element of iterate(make)) {
            group.push(element);
            if (group.length === size) {
              const full = group;
              group = [];
              yield (await stackBatch(full)) as Batched<T>;
            }
          }
          if (group.length > 0 && !dropRemainder) {
            const last = group;
            group = [];
            yield (await stackBatch(last)) as Batched<T>;
          }
        } finally {
          group.forEach(disposeTensors);
        }
      },
      n === null || n === Infinity ? n : dropRemainder ? Math.floor(n / size) : Math.ceil(n / size),
      { kind: 'batch', up: this.node, size, dropRemainder },
    );
  }

  /** Repeats the dataset `count` times (forever without a count, or with -1). */
  repeat(count?: number): Dataset<T> {
    const c = checkCount(count, 'repeat', 'count', true);
    const make = this.make;
    const n = this.size;
    const size = n === 0 || c === 0 ? 0 : c < 0 ? Infinity : n === null ? null : n * c;
    return new Dataset<T>(() => repeatGen(make, c), size, { kind: 'repeat', up: this.node, count: c });
  }

  /** This dataset's elements, then `other`'s. */
  concatenate(other: Dataset<T>): Dataset<T> {
    if (!(other instanceof Dataset)) throw new Error(`concatenate: expected a Dataset, got ${describe(other)}`);
    const a = this.size;
    const b = other.size;
    const size = a === Infinity || b === Infinity ? Infinity : a === null || b === null ? null : a + b;
    return new Dataset<T>(() => concatGen(this.make, other.make), size, { kind: 'concatenate', up: this.node, other: other.node });
  }

  /** The first `count` elements (-1: all). */
  take(count: number): Dataset<T> {
    const c = checkCount(count, 'take', 'count', true);
    const n = this.size;
    const size = c < 0 ? n : n === null ? null : Math.min(n, c);
    return new Dataset<T>(() => takeGen(this.make, c < 0 ? Infinity : c), size, { kind: 'take', up: this.node, count: c });
  }

  /** All but the first `count` elements (-1: none). */
  skip(count: number): Dataset<T> {
    const c = checkCount(count, 'skip', 'count', true);
    const n = this.size;
    const size = c < 0 ? (n === Infinity ? Infinity : 0) : n === null || n === Infinity ? n : Math.max(0, n - c);
    return new Dataset<T>(() => skipGen(this.make, c), size, { kind: 'skip', up: this.node, count: c });
  }

  /** Produces up to `bufferSize` elements ahead of the consumer, overlapping input with training. */
  prefetch(bufferSize = 2): Dataset<T> {
    if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new Error(`prefetch: bufferSize must be a positive integer, got ${String(bufferSize)}`);
    return new Dataset<T>(() => prefetchGen(this.make, bufferSize), this.size, { kind: 'prefetch', up: this.node });
  }

  /**
   * Keeps the elements of the first complete iteration in host memory and replays them after.
   * Place it after expensive, deterministic steps and before shuffle; Tensors are read back
   * once and uploaded afresh on each replay, so the consumer may dispose what it gets.
   */
  cache(): Dataset<T> {
    return new Dataset<T>(cacheGen(this.make), this.size, { kind: 'cache', up: this.node });
  }

  /** All elements of one iteration, in an array. */
  async toArray(): Promise<T[]> {
    if (this.size === Infinity) throw new Error('toArray: the dataset is infinite (repeat() without a count); take(n) first');
    const out: T[] = [];
    for await (const element of this) out.push(element);
    return out;
  }

  /** Calls `fn` on each element of one iteration, waiting for it before the next. */
  async forEachAsync(fn: (element: T) => unknown): Promise<void> {
    if (this.size === Infinity) throw new Error('forEachAsync: the dataset is infinite (repeat() without a count); take(n) first');
    for await (const element of this) await fn(element);
  }

  /**
   * Describes this pipeline for a GPU-resident input path, or null when it is not one: a
   * fromTensorSlices source (or a concatenation of sources of one structure), followed by
   * shuffle / repeat / take / skip / prefetch / cache, exactly one batch(), and after it only
   * maps (which receive Tensors, so they run on the GPU) and the same order-only verbs. Its
   * indexBatches() yields, per batch, the row indices this Dataset itself would batch, in the
   * same order (it shares the shuffles' seeds and iteration counters), so a consumer that
   * gathers those rows on the GPU sees exactly what iterating the Dataset would give.
   */
  async residentSource(): Promise<ResidentSource | null> {
    return resident(this);
  }
}

// ---------------------------------------------------------------------------------------------
// Constructors.

/**
 * A Dataset of the slices of `x` along its first dimension, or of [x, y] / { xs, ys } (any
 * arrays and objects of components), yielding elements of the same structure whose components
 * are Slices: { data, shape, dtype } views into the host data, not copies. Components are
 * Tensors (read back once, on first iteration: keep them alive until then), typed arrays (one
 * element per entry), { data, shape, dtype? } or nested arrays. A top-level array of numbers or
 * nested arrays of numbers is one component, as a list is in TF; arrays holding Tensors, typed
 * arrays or objects are tuples. All components need the same length.
 */
export function fromTensorSlices<S extends SliceStructure>(input: S): Dataset<Sliced<S>> {
  const where = 'fromTensorSlices';
  const { columns, template } = parseStructure(input, where);
  const rows = columns[0].rows;
  const make = async function* (): AsyncGenerator<unknown> {
    const datas = await Promise.all(columns.map((c) => c.load()));
    const steps = columns.map((c) => sizeOf(c.shape));
    for (let i = 0; i < rows; i++) {
      const leaves = columns.map((c, k): Slice => ({
        data: datas[k].subarray(i * steps[k], (i + 1) * steps[k]),
        shape: [...c.shape],
        dtype: c.dtype,
      }));
      yield assemble(template, leaves);
    }
  };
  return new Dataset(make as Make<Sliced<S>>, rows, { kind: 'source', columns, template });
}

/** A Dataset of the given elements, in order (tf.data.array). */
export function array<T>(items: readonly T[]): Dataset<T> {
  if (!Array.isArray(items)) throw new Error(`array: expected an array of elements, got ${describe(items)}`);
  const copy = [...items];
  return new Dataset<T>(async function* () {
    yield* copy;
  }, copy.length);
}

/** A Dataset of the integers start, start + step, ... below stop (as tf.data.Dataset.range). */
export function range(start: number, stop?: number, step = 1): Dataset<number> {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (![from, to, step].every(Number.isFinite) || step === 0) throw new Error(`range: expected finite numbers and a non-zero step, got (${from}, ${to}, ${step})`);
  const n = Math.max(0, Math.ceil((to - from) / step));
  return new Dataset<number>(async function* () {
    for (let i = 0; i < n; i++) yield from + i * step;
  }, n);
}

/** A Dataset over an async (or sync) generator function; the size is unknown unless given. */
export function generator<T>(make: () => AsyncIterator<T> | Iterator<T>, size: number | null = null): Dataset<T> {
  if (typeof make !== 'function') throw new Error(`generator: expected a function returning an iterator, got ${describe(make)}`);
  return new Dataset<T>(async function* () {
    const it = make();
    try {
      while (true) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      await it.return?.();
    }
  }, size);
}
