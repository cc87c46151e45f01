// tf.data-style input pipelines: a lazy Dataset, iterated asynchronously, whose elements are
// host-side Slices until batch() stacks them into Tensors (one upload per leaf per batch).
// Mapping after batch therefore runs sf ops on the GPU, once per batch: the fast path.

import { emptyTensor, Tensor, type DType, type NestedArray, type TypedArray } from '../nn/tensor.js';
import { mix32, Random, seedFrom } from './random.js';
import { describe, message } from './source.js';

/** One element's worth of one component, on the host: a view into the source's data. */
export interface Slice {
  data: Float32Array | Int32Array | Uint8Array;
  shape: number[];
  dtype: 'float32' | 'int32';
}

/** Host data with an explicit shape; `dtype` defaults to int32 for an Int32Array, float32 otherwise. */
export interface HostArray {
  data: TypedArray;
  shape: readonly number[];
  dtype?: DType;
}

/** What fromTensorSlices slices along its first dimension. */
export type SliceInput = Tensor | TypedArray | NestedArray[] | HostArray;
/** A component, or arrays and objects of them. */
export type SliceStructure = SliceInput | readonly SliceStructure[] | { readonly [key: string]: SliceStructure };

/** The element type of fromTensorSlices(S): S with each component replaced by a Slice. */
export type Sliced<S> = S extends SliceInput
  ? Slice
  : S extends readonly unknown[]
    ? { -readonly [K in keyof S]: Sliced<S[K]> }
    : { -readonly [K in keyof S]: Sliced<S[K]> };

/** The element type after batch(): Slices, numbers and Tensors become Tensors with a batch dimension. */
export type Batched<T> = T extends Slice | Tensor | number
  ? Tensor
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: Batched<T[K]> }
    : T extends object
      ? { -readonly [K in keyof T]: Batched<T[K]> }
      : never;

// ---------------------------------------------------------------------------------------------
// Sources: the components of fromTensorSlices, flattened to columns.

type HostData = Float32Array | Int32Array | Uint8Array;

/** One component of a fromTensorSlices source: `rows` slices of shape `shape`. */
interface Column {
  path: string;
  rows: number;
  /** The shape of one slice (the component's shape without its first dimension). */
  shape: number[];
  dtype: 'float32' | 'int32';
  /** The original Tensor, when the component was one: the GPU-resident path can gather from it directly. */
  tensor?: Tensor;
  /** The host data, read once (Tensors are read back on first use). */
  load(): Promise<HostData>;
}

/** A structure whose leaves are column indices, to rebuild elements from per-column values. */
type Template = number | Template[] | { [key: string]: Template };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isHostArray(v: unknown): v is HostArray {
  return isPlainObject(v) && ArrayBuffer.isView(v.data) && !(v.data instanceof DataView) && Array.isArray(v.shape);
}

/** True for a Slice (or any { data, shape } leaf): structure walks stop there. */
export function isSlice(v: unknown): v is Slice {
  return isHostArray(v);
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function isNumericNest(v: unknown): boolean {
  return typeof v === 'number' || (Array.isArray(v) && v.every(isNumericNest));
}

/** Nested numeric arrays to a shape and a Float32Array; ragged input is an error naming where. */
function flattenNested(values: NestedArray[], where: string): { shape: number[]; data: Float32Array } {
  const shape: number[] = [];
  for (let v: NestedArray = values; Array.isArray(v); v = v[0]) shape.push(v.length);
  const data = new Float32Array(sizeOf(shape));
  let k = 0;
  const walk = (v: NestedArray, axis: number, at: string): void => {
    if (axis === shape.length) {
      if (typeof v !== 'number') throw new Error(`${where}: nested arrays must be rectangular (shape [${shape}]); found an array at ${at}`);
      data[k++] = v;
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[axis]) {
      throw new Error(
        `${where}: nested arrays must be rectangular (shape [${shape}]); expected ${shape[axis]} elements at ${at || 'the top'}, ` +
          `got ${Array.isArray(v) ? v.length : 'a number'}. To pass features and labels, use [x, y] with Tensors or typed arrays, or { xs, ys }`,
      );
    }
    v.forEach((item, i) => walk(item, axis + 1, `${at}[${i}]`));
  };
  walk(values, 0, '');
  return { shape, data };
}

/** Converts host data to what a Slice holds: Float32Array, Int32Array, or Uint8Array kept as bytes. */
function hostData(data: TypedArray, dtype: 'float32' | 'int32'): HostData {
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) {
    return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.length);
  }
  if (dtype === 'int32') return data instanceof Int32Array ? data : Int32Array.from(data);
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

function checkDtype(dtype: unknown, where: string): asserts dtype is 'float32' | 'int32' {
  if (dtype !== 'float32' && dtype !== 'int32') throw new Error(`${where}: dtype must be 'float32' or 'int32', got ${JSON.stringify(dtype)}`);
}

/** @internal Turns one component (Tensor, typed array, { data, shape }, nested arrays) into a Column. */
export function toColumn(v: unknown, where: string, path: string): Column {
  const at = path ? `${where} (component ${path})` : where;
  const sliceable = (shape: readonly number[]): void => {
    if (shape.length === 0) throw new Error(`${at}: cannot slice a scalar; a component needs a first dimension to slice along`);
  };
  if (v instanceof Tensor) {
    if (v.isDisposed) throw new Error(`${at}: ${v.describe()} was disposed`);
    sliceable(v.shape);
    let read: Promise<HostData> | null = null;
    const t = v;
    return {
      path, rows: v.shape[0], shape: v.shape.slice(1), dtype: v.dtype, tensor: v,
      load: () => {
        read ??= t.data().catch((e: unknown) => {
          throw new Error(`${at}: could not read ${t.describe()} back (${message(e)}); keep source tensors alive until the dataset has been iterated once`);
        });
        return read;
      },
    };
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const data = v as TypedArray;
    const dtype = data instanceof Int32Array ? 'int32' : 'float32';
    const host = hostData(data, dtype);
    return { path, rows: data.length, shape: [], dtype, load: async () => host };
  }
  if (isHostArray(v)) {
    const shape = [...v.shape];
    if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${at}: shape must be non-negative integers, got [${shape}]`);
    sliceable(shape);
    if (sizeOf(shape) !== v.data.length) throw new Error(`${at}: shape [${shape}] holds ${sizeOf(shape)} values, but data has ${v.data.length}`);
    const dtype = v.dtype ?? (v.data instanceof Int32Array ? 'int32' : 'float32');
    checkDtype(dtype, at);
    const host = hostData(v.data, dtype);
    return { path, rows: shape[0], shape: shape.slice(1), dtype, load: async () => host };
  }
  if (Array.isArray(v)) {
    const { shape, data } = flattenNested(v as NestedArray[], at);
    return { path, rows: shape[0], shape: shape.slice(1), dtype: 'float32', load: async () => data };
  }
  throw new Error(`${at}: expected a Tensor, a typed array, { data, shape } or nested arrays of numbers, got ${describe(v)}`);
}

/**
 * Splits a fromTensorSlices argument into columns and a template. A top-level array of nested
 * numbers is one component (as TF treats a list); an array holding Tensors, typed arrays or
 * objects is a tuple of components.
 */
function parseStructure(input: unknown, where: string): { columns: Column[]; template: Template } {
  const columns: Column[] = [];
  const walk = (v: unknown, path: string): Template => {
    const isLeaf = v instanceof Tensor || (ArrayBuffer.isView(v) && !(v instanceof DataView)) || isHostArray(v) || (Array.isArray(v) && isNumericNest(v));
    if (isLeaf) {
      columns.push(toColumn(v, where, path));
      return columns.length - 1;
    }
    if (Array.isArray(v)) {
      if (v.length === 0) throw new Error(`${where}: empty structure at ${path || 'the top'}`);
      return v.map((item, i) => walk(item, `${path}[${i}]`));
    }
    if (isPlainObject(v)) {
      const keys = Object.keys(v);
      if (keys.length === 0) throw new Error(`${where}: empty object at ${path || 'the top'}`);
      return Object.fromEntries(keys.map((k) => [k, walk(v[k], `${path}.${k}`)]));
    }
    throw new Error(`${where}: expected a Tensor, a typed array, { data, shape }, nested arrays, or arrays / objects of them at ${path || 'the top'}, got ${describe(v)}`);
  };
  const template = walk(input, '');
  const rows = columns[0].rows;
  const odd = columns.find((c) => c.rows !== rows);
  if (odd) {
    const list = columns.map((c) => `${c.path || 'x'} has ${c.rows}`).join(', ');
    throw new Error(`${where}: all components must have the same length (first dimension), but ${list}`);
  }
  return { columns, template };
}

function assemble<L>(template: Template, leaves: readonly L[]): unknown {
  if (typeof template === 'number') return leaves[template];
  if (Array.isArray(template)) return template.map((t) => assemble(t, leaves));
  return Object.fromEntries(Object.entries(template).map(([k, t]) => [k, assemble(t, leaves)]));
}

function sameTemplate(a: Template, b: Template): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((t, i) => sameTemplate(t, b[i]));
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameTemplate(a[k], b[k]));
}

// ---------------------------------------------------------------------------------------------
// Walking elements: disposing what the pipeline drops, stacking a batch.

/** Disposes the Tensors in an element the pipeline drops (skip, filter, buffers left behind). */
export function disposeTensors(element: unknown): void {
  if (element instanceof Tensor) element.dispose();
  else if (Array.isArray(element)) element.forEach(disposeTensors);
  else if (isPlainObject(element) && !isHostArray(element)) Object.values(element).forEach(disposeTensors);
}

function collectTensors(element: unknown, into: Set<Tensor>): Set<Tensor> {
  if (element instanceof Tensor) into.add(element);
  else if (Array.isArray(element)) element.forEach((e) => collectTensors(e, into));
  else if (isPlainObject(element) && !isHostArray(element)) Object.values(element).forEach((e) => collectTensors(e, into));
  return into;
}

/** A leaf of a batch, on the host: a Slice, or a Tensor read back. */
async function toSlice(leaf: unknown, where: string): Promise<Slice> {
  if (isHostArray(leaf)) {
    const dtype = leaf.dtype ?? (leaf.data instanceof Int32Array ? 'int32' : 'float32');
    checkDtype(dtype, where);
    if (sizeOf(leaf.shape) !== leaf.data.length) throw new Error(`${where}: shape [${leaf.shape}] holds ${sizeOf(leaf.shape)} values, but data has ${leaf.data.length}`);
    return { data: hostData(leaf.data, dtype), shape: [...leaf.shape], dtype };
  }
  if (typeof leaf === 'number') return { data: Float32Array.of(leaf), shape: [], dtype: 'float32' };
  if (leaf instanceof Tensor) {
    // Batching Tensors (a map before batch that made them) reads them back: correct, but slow.
    const data = await leaf.data();
    const slice: Slice = { data, shape: [...leaf.shape], dtype: leaf.dtype };
    leaf.dispose();
    return slice;
  }
  throw new Error(`${where}: cannot batch ${describe(leaf)}; elements must hold Slices ({ data, shape, dtype }), numbers or Tensors`);
}

/** Stacks the leaves of `elements` (all of one structure) into Tensors with a leading batch dimension. */
async function stackBatch(elements: readonly unknown[]): Promise<unknown> {
  const walk = async (items: readonly unknown[], path: string): Promise<unknown> => {
    const first = items[0];
    if (Array.isArray(first)) {
      items.forEach((it, i) => {
        if (!Array.isArray(it) || it.length !== first.length) {
          throw new Error(`batch: element ${i} of the batch has a different structure at ${path || 'the top'} than element 0 (an array of ${first.length})`);
        }
      });
      const out: unknown[] = [];
      for (let k = 0; k < first.length; k++) out.push(await walk(items.map((it) => (it as unknown[])[k]), `${path}[${k}]`));
      return out;
    }
    if (isPlainObject(first) && !isHostArray(first)) {
      const keys = Object.keys(first);
      const out: Record<string, unknown> = {};
      for (const key of keys) {
        out[key] = await walk(
          items.map((it, i) => {
            if (!isPlainObject(it) || !(key in it)) throw new Error(`batch: element ${i} of the batch has no '${key}' at ${path || 'the top'}`);
            return it[key];
          }),
          `${path}.${key}`,
        );
      }
      return out;
    }
    const where = `batch (component ${path || 'x'})`;
    const slices: Slice[] = [];
    for (const leaf of items) slices.push(await toSlice(leaf, where));
    const { shape, dtype } = slices[0];
    const step = sizeOf(shape);
    const data = dtype === 'int32' ? new Int32Array(step * slices.length) : new Float32Array(step * slices.length);
    slices.forEach((s, i) => {
      if (s.dtype !== dtype || s.shape.length !== shape.length || s.shape.some((d, k) => d !== shape[k])) {
        throw new Error(`${where}: element ${i} of the batch is ${s.dtype} [${s.shape}], but element 0 is ${dtype} [${shape}]; all elements of a batch must match`);
      }
      data.set(s.data, i * step);
    });
    const t = emptyTensor([slices.length, ...shape], dtype, 'sf.data batch');
    if (data.length > 0) t.runtime.write(t.buffer, data);
    return t;
  };
  return walk(elements, '');
}

/** Host copies of an element's Tensors, so cache() can hand out fresh Tensors each epoch. */
class HostTensor {
  constructor(readonly data: Float32Array | Int32Array, readonly shape: readonly number[], readonly dtype: 'float32' | 'int32') {}
}

async function toHostCopy(element: unknown): Promise<unknown> {
  if (element instanceof Tensor) return new HostTensor(await element.data(), element.shape, element.dtype);
  if (Array.isArray(element)) return Promise.all(element.map(toHostCopy));
  if (isPlainObject(element) && !isHostArray(element)) {
    const entries = await Promise.all(Object.entries(element).map(async ([k, v]) => [k, await toHostCopy(v)] as const));
    return Object.fromEntries(entries);
  }
  return element;
}

function fromHostCopy(element: unknown): unknown {
  if (element instanceof HostTensor) {
    const t = emptyTensor(element.shape, element.dtype, 'sf.data cache');
    if (element.data.length > 0) t.runtime.write(t.buffer, element.data);
    return t;
  }
  if (Array.isArray(element)) return element.map(fromHostCopy);
  if (isPlainObject(element) && !isHostArray(element)) return Object.fromEntries(Object.entries(element).map(([k, v]) => [k, fromHostCopy(v)]));
  return element;
}

// ---------------------------------------------------------------------------------------------
// The verbs, as generator functions over an upstream factory, shared by Dataset and the index
// pipeline that residentSource() builds.

type Make<T> = () => AsyncIterator<T>;

async function* iterate<T>(make: Make<T>): AsyncGenerator<T> {
  const it = make();
  let finished = false;
  try {
    while (true) {
      const r = await it.next();
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!finished) await it.return?.();
  }
}

async function* shuffleGen<T>(make: Make<T>, bufferSize: number, state: ShuffleState): AsyncGenerator<T> {
  // tf.data's buffered shuffle: fill a buffer, then emit a random buffered element and put the
  // next input in its place; at the end, drain the buffer in random order.
  const seed = state.reshuffleEachIteration ? mix32(state.seed, state.iterations++) : state.seed;
  const random = new Random(seed);
  const buffer: T[] = [];
  try {
    for await (const element of iterate(make)) {
      if (buffer.length < bufferSize) {
        buffer.push(element);
        continue;
      }
      const j = random.int(buffer.length);
      const out = buffer[j];
      buffer[j] = element;
      yield out;
    }
    while (buffer.length > 0) {
      const j = random.int(buffer.length);
      const out = buffer[j];
      buffer[j] = buffer[buffer.length - 1];
      buffer.pop();
      yield out;
    }
  } finally {
    buffer.forEach(disposeTensors);
  }
}

async function* repeatGen<T>(make: Make<T>, count: number): AsyncGenerator<T> {
  for (let epoch = 0; count < 0 || epoch < count; epoch++) {
    let any = false;
    for await (const element of iterate(make)) {
      any = true;
      yield element;
    }
    // An empty dataset repeated forever is empty, not a hang (as in tf.data).
    if (!any) return;
  }
}

async function* takeGen<T>(make: Make<T>, count: number): AsyncGenerator<T> {
  if (count === 0) return;
  let n = 0;
  for await (const element of iterate(make)) {
    yield element;
    if (++n === count) return;
  }
}

async function* skipGen<T>(make: Make<T>, count: number): AsyncGenerator<T> {
  let n = 0;
  for await (const element of iterate(make)) {
    if (count < 0 || n < count) {
      n++;
      disposeTensors(element);
      continue;
    }
    yield element;
  }
}

async function* concatGen<T>(first: Make<T>, second: Make<T>): AsyncGenerator<T> {
  yield* iterate(first);
  yield* iterate(second);
}

async function* prefetchGen<T>(make: Make<T>, bufferSize: number): AsyncGenerator<T> {
  // Ask upstream for the next elements before handing this one over, so producing them
  // (reading, decoding, uploading) overlaps with the consumer's work.
  const it = make();
  const queue: Promise<IteratorResult<T>>[] = [];
  let done = false;
  const fill = (): void => {
    while (!done && queue.length < bufferSize) {
      const p = it.next();
      p.catch(() => {}); // handled where it is awaited; this only keeps Node from calling it unhandled
      queue.push(p);
    }
  };
  try {
    fill();
    while (queue.length > 0) {
      const r = await queue.shift()!;
      if (r.done) {
        done = true;
        return;
      }
      fill();
      yield r.value;
    }
  } finally {
    for (const p of queue) {
      try {
        const r = await p;
        if (!r.done) disposeTensors(r.value);
      } catch {
        // The consumer already stopped; an error from an element it never asked for is moot.
      }
    }
    if (!done) await it.return?.();
  }
}

function cacheGen<T>(make: Make<T>): Make<T> {
  // The first complete pass fills the cache; later passes replay it. A pass stopped early
  // leaves the cache empty, as in tf.data.
  let cached: unknown[] | null = null;
  return async function* () {
    if (cached) {
      for (const element of cached) yield fromHostCopy(element) as T;
      return;
    }
    const filling: unknown[] = [];
    for await (const element of iterate(make)) {
      filling.push(await toHostCopy(element));
      yield element;
    }
    cached = filling;
  };
}

// ---------------------------------------------------------------------------------------------
// The Dataset.

interface ShuffleState {
  seed: number;
  iterations: number;
  reshuffleEachIteration: boolean;
}

/** @internal How a Dataset was built: residentSource() reads it. */
type Node =
  | { kind: 'source'; columns: Column[]; template: Template }
  | { kind: 'map'; up: Node; fn: (element: unknown) => unknown }
  | { kind: 'filter'; up: Node }
  | { kind: 'shuffle'; up: Node; bufferSize: number; state: ShuffleState }
  | { kind: 'batch'; up: Node; size: number; dropRemainder: boolean }
  | { kind: 'repeat'; up: Node; count: number }
  | { kind: 'take'; up: Node; count: number }
  | { kind: 'skip'; up: Node; count: number }
  | { kind: 'concatenate'; up: Node; other: Node }
  | { kind: 'prefetch'; up: Node }
  | { kind: 'cache'; up: Node }
  | { kind: 'other' };

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
// The GPU-resident description.

/** One component of a resident source: all rows, concatenated over the sources. */
export interface ResidentColumn {
  /** Where the component sits in the element: '' for a lone x, '[0]', '.xs', ... */
  path: string;
  /** All rows, row-major; Uint8Array for byte data (pixels) that the GPU can unpack and scale. */
  data: Float32Array | Int32Array | Uint8Array;
  /** [rows, ...shape of one element]. */
  shape: number[];
  dtype: 'float32' | 'int32';
  /** The source Tensor when the column is exactly one Tensor: gather from it without uploading again. */
  tensor?: Tensor;
}

export interface ResidentSource {
  columns: ResidentColumn[];
  rows: number;
  batchSize: number;
  dropRemainder: boolean;
  /** Batches per iteration, as the Dataset's size. */
  size: number | null;
  /** Rebuilds an element of the source's structure from one value per column (the gathered batch Tensors). */
  assemble<L>(leaves: readonly L[]): unknown;
  /** The functions mapped after batch, to apply in order to each assembled batch. */
  maps: Array<(element: unknown) => unknown>;
  /** One iteration's row indices, one Int32Array per batch, in the order the Dataset yields them. */
  indexBatches(): AsyncIterableIterator<Int32Array>;
}

async function resident(dataset: Dataset<unknown>): Promise<ResidentSource | null> {
  const sources: Array<Extract<Node, { kind: 'source' }>> = [];
  const offsets = new Map<Node, number>();
  let rows = 0;
  let batch: { size: number; dropRemainder: boolean } | null = null;
  const maps: Array<(element: unknown) => unknown> = [];

  // Builds the index pipeline mirroring `node`; null when the node cannot be resident.
  // `afterBatch`: `node` lies downstream of the batch (the walk starts at the end of the pipeline).
  const build = (node: Node, afterBatch: boolean): Make<unknown> | null => {
    switch (node.kind) {
      case 'source': {
        if (!offsets.has(node)) {
          offsets.set(node, rows);
          rows += node.columns[0].rows;
          sources.push(node);
        }
        const offset = offsets.get(node)!;
        const n = node.columns[0].rows;
        return async function* () {
          for (let i = 0; i < n; i++) yield offset + i;
        };
      }
      case 'batch': {
        if (!afterBatch || batch) return null; // a batch of batches is not one gather
        batch = { size: node.size, dropRemainder: node.dropRemainder };
        const up = build(node.up, false);
        if (!up) return null;
        const { size, dropRemainder } = node;
        return async function* () {
          let group: number[] = [];
          for await (const i of iterate(up)) {
            group.push(i as number);
            if (group.length === size) {
              yield Int32Array.from(group);
              group = [];
            }
          }
          if (group.length > 0 && !dropRemainder) yield Int32Array.from(group);
        };
      }
      case 'map': {
        if (!afterBatch) return null; // a map before batch sees host Slices: not resident
        maps.unshift(node.fn);
        return build(node.up, afterBatch);
      }
      case 'shuffle': {
        const up = build(node.up, afterBatch);
        const { bufferSize, state } = node;
        return up && (() => shuffleGen(up, bufferSize, state));
      }
      case 'repeat': {
        const up = build(node.up, afterBatch);
        const { count } = node;
        return up && (() => repeatGen(up, count));
      }
      case 'take': {
        const up = build(node.up, afterBatch);
        const count = node.count < 0 ? Infinity : node.count;
        return up && (() => takeGen(up, count));
      }
      case 'skip': {
        const up = build(node.up, afterBatch);
        const { count } = node;
        return up && (() => skipGen(up, count));
      }
      case 'concatenate': {
        if (afterBatch) return null; // concatenated batches: each side would need its own batch size
        const a = build(node.up, afterBatch);
        const b = build(node.other, afterBatch);
        return a && b && (() => concatGen(a, b));
      }
      case 'prefetch':
        return build(node.up, afterBatch);
      case 'cache': {
        const up = build(node.up, afterBatch);
        return up && cacheGen(up);
      }
      default:
        return null;
    }
  };

  const top = build(dataset.node, true);
  const found = batch as { size: number; dropRemainder: boolean } | null;
  if (!top || !found || sources.length === 0) return null;

  // Every source must have the structure, shapes and dtypes of the first.
  const first = sources[0];
  for (const s of sources.slice(1)) {
    if (!sameTemplate(s.template, first.template) || s.columns.length !== first.columns.length) return null;
    const same = s.columns.every((c, k) => {
      const f = first.columns[k];
      return c.dtype === f.dtype && c.shape.length === f.shape.length && c.shape.every((d, i) => d === f.shape[i]);
    });
    if (!same) return null;
  }

  const columns: ResidentColumn[] = [];
  for (let k = 0; k < first.columns.length; k++) {
    const parts = await Promise.all(sources.map((s) => s.columns[k].load()));
    const f = first.columns[k];
    let data: HostData;
    if (parts.length === 1) data = parts[0];
    else {
      const allBytes = parts.every((p) => p instanceof Uint8Array);
      const total = parts.reduce((n, p) => n + p.length, 0);
      data = allBytes ? new Uint8Array(total) : f.dtype === 'int32' ? new Int32Array(total) : new Float32Array(total);
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.length;
      }
    }
    const column: ResidentColumn = { path: f.path, data, shape: [rows, ...f.shape], dtype: f.dtype };
    if (sources.length === 1 && f.tensor) column.tensor = f.tensor;
    columns.push(column);
  }

  const template = first.template;
  return {
    columns,
    rows,
    batchSize: found.size,
    dropRemainder: found.dropRemainder,
    size: dataset.size,
    assemble: (leaves) => assemble(template, leaves),
    maps,
    indexBatches: () => iterate(top) as AsyncIterableIterator<Int32Array>,
  };
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
