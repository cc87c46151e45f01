// What a pipeline's elements are made of on the host: Slices and the inputs fromTensorSlices
// takes, flattened to Columns (toColumn, parseStructure), with the Templates that rebuild an
// element from one value per column.

import { Tensor, type DType, type NestedArray, type TypedArray } from '../nn/tensor.js';
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

export type HostData = Float32Array | Int32Array | Uint8Array;

/** One component of a fromTensorSlices source: `rows` slices of shape `shape`. */
export interface Column {
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
export type Template = number | Template[] | { [key: string]: Template };

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function isHostArray(v: unknown): v is HostArray {
  return isPlainObject(v) && ArrayBuffer.isView(v.data) && !(v.data instanceof DataView) && Array.isArray(v.shape);
}

/** True for a Slice (or any { data, shape } leaf): structure walks stop there. */
export function isSlice(v: unknown): v is Slice {
  return isHostArray(v);
}

export function sizeOf(shape: readonly number[]): number {
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
export function hostData(data: TypedArray, dtype: 'float32' | 'int32'): HostData {
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) {
    return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.length);
  }
  if (dtype === 'int32') return data instanceof Int32Array ? data : Int32Array.from(data);
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

export function checkDtype(dtype: unknown, where: string): asserts dtype is 'float32' | 'int32' {
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
export function parseStructure(input: unknown, where: string): { columns: Column[]; template: Template } {
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

export function assemble<L>(template: Template, leaves: readonly L[]): unknown {
  if (typeof template === 'number') return leaves[template];
  if (Array.isArray(template)) return template.map((t) => assemble(t, leaves));
  return Object.fromEntries(Object.entries(template).map(([k, t]) => [k, assemble(t, leaves)]));
}

export function sameTemplate(a: Template, b: Template): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((t, i) => sameTemplate(t, b[i]));
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameTemplate(a[k], b[k]));
}
