// The Tensor: a shape, a dtype and a GPU buffer holding its elements. Creating one uploads once;
// ops produce new tensors on the GPU; only data() and array() come back to the host.

import { runtime } from '../gpu/device.js';
import { storageUsage } from '../gpu/pool.js';
import type { Runtime } from '../gpu/runtime.js';
import { byteSize, type DType } from '../shaders/kernel.js';

export type { DType };
export type TypedArray = Float32Array | Int32Array | Uint8Array | Uint8ClampedArray | Int8Array | Uint16Array | Int16Array | Uint32Array | Float64Array;
/** A number or arbitrarily nested arrays of numbers. */
export type NestedArray = number | NestedArray[];
export type TensorLike = NestedArray | TypedArray;
export type DataFor<D extends DType> = D extends 'int32' ? Int32Array : Float32Array;

const dtypes: readonly DType[] = ['float32', 'int32'];

let nextId = 0;
const live = { tensors: 0, bytes: 0 };

/** Live tensors and the bytes their elements take (not counting pool slack). */
export function liveTensors(): { tensors: number; bytes: number } {
  return { ...live };
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * What a symbolic tensor belongs to: the trace that recorded it (see src/nn/graph.ts). Symbolic
 * tensors have a shape and a dtype but no memory; a plan gives them buffers when it runs.
 */
export interface TraceRef {
  readonly name: string;
}

export class Tensor<D extends DType = DType> {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  private gpuBuffer: GPUBuffer | null;
  /** Holders (a running fit) that keep the memory until they let go, even past dispose(). */
  private holds = 0;
  /** dispose() was called while held: the tensor reads as disposed, its memory waits for the last holder. */
  private disposeWaiting = false;
  /** @internal Set for the symbolic tensors of a trace; null for tensors with GPU memory. */
  readonly trace: TraceRef | null;

  /**
   * @internal Tensors are made by sf.tensor and the ops, which own `buffer`; a null buffer with
   * a trace makes a symbolic tensor.
   */
  constructor(readonly runtime: Runtime, buffer: GPUBuffer | null, shape: readonly number[], readonly dtype: D, trace: TraceRef | null = null) {
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this.gpuBuffer = buffer;
    this.trace = trace;
    if (trace) return;
    live.tensors++;
    live.bytes += this.byteLength;
  }

  /** Bytes of GPU memory the elements take. */
  get byteLength(): number {
    return byteSize(this.size, this.dtype);
  }

  /** True for a tensor recorded by a trace (inside sf.grads or a compiled step), which has no values yet. */
  get isSymbolic(): boolean {
    return this.trace !== null;
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return (this.gpuBuffer === null && this.trace === null) || this.disposeWaiting;
  }

  /** @internal The GPU buffer; throws if the tensor was disposed or its device lost. */
  get buffer(): GPUBuffer {
    if (this.trace) {
      throw new Error(`${this.describe()} is symbolic (recorded by ${this.trace.name}): it has no values until the traced function has run; read results outside the function`);
    }
    if (!this.gpuBuffer || this.disposeWaiting) throw new Error(`${this.describe()} was disposed and can no longer be used`);
    this.runtime.check();
    return this.gpuBuffer;
  }

  /** Reads the elements back, in row-major order; never blocks the JS thread. */
  async data(): Promise<DataFor<D>> {
    const bytes = await this.runtime.read(this.buffer, this.byteLength);
    if (this.dtype === 'float16') return Float32Array.from(new Uint16Array(bytes, 0, this.size), halfToFloat) as DataFor<D>;
    return (this.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes)) as DataFor<D>;
  }

  /** Reads the elements back as nested arrays of this tensor's shape (a number for a scalar). */
  async array(): Promise<NestedArray> {
    const flat = await this.data();
    if (this.rank === 0) return flat[0];
    const nest = (axis: number, offset: number): NestedArray[] => {
      const n = this.shape[axis];
      const stride = sizeOf(this.shape.slice(axis + 1));
      const out: NestedArray[] = [];
      for (let k = 0; k < n; k++) {
        out.push(axis === this.rank - 1 ? flat[offset + k] : nest(axis + 1, offset + k * stride));
      }
      return out;
    };
    return nest(0, 0);
  }

  /**
   * Returns the GPU memory to the pool. Safe to call twice. While something holds the tensor
   * (a fit training on it), the tensor reads as disposed at once and its memory is returned
   * when the holder lets go, so work already queued never sees reused memory.
   */
  dispose(): void {
    if (!this.gpuBuffer) return;
    if (this.holds > 0) {
      this.disposeWaiting = true;
      return;
    }
    this.runtime.release(this.gpuBuffer);
    this.gpuBuffer = null;
    live.tensors--;
    live.bytes -= this.byteLength;
  }

  /** @internal Keeps the memory alive past a dispose() until release(). */
  hold(): void {
    this.holds++;
  }

  /** @internal Lets go of a hold; frees the memory if dispose() was called meanwhile. */
  release(): void {
    if (this.holds === 0) return;
    if (--this.holds === 0 && this.disposeWaiting) {
      this.disposeWaiting = false;
      this.dispose();
    }
  }

  describe(): string {
    return `Tensor #${this.id} (${this.dtype} [${this.shape.join(', ')}])`;
  }

  toString(): string {
    return this.describe();
  }
}

/** @internal A tensor with fresh, unwritten GPU memory for `shape`. */
export function emptyTensor<D extends DType>(shape: readonly number[], dtype: D, label = 'tensor'): Tensor<D> {
  checkShape(shape, label);
  const rt = runtime();
  const buffer = rt.allocate(byteSize(sizeOf(shape), dtype), label, storageUsage);
  return new Tensor(rt, buffer, shape, dtype);
}

/** The value of IEEE binary16 bits. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (exponent ? 2 ** (exponent - 15) * (1 + fraction / 1024) : 2 ** -14 * (fraction / 1024));
}

function checkShape(shape: readonly number[], where: string): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${where}: a shape is an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
}

function checkDtype(dtype: string, where: string): asserts dtype is DType {
  if (!dtypes.includes(dtype as DType)) {
    throw new Error(`${where}: dtype must be one of ${dtypes.map((d) => `'${d}'`).join(', ')}, got '${dtype}'`);
  }
}

/** The shape of nested arrays and their numbers in row-major order; throws on ragged input. */
function flatten(values: NestedArray, where: string): { shape: number[]; flat: number[] } {
  const shape: number[] = [];
  for (let v: NestedArray = values; Array.isArray(v); v = v[0]) shape.push(v.length);
  const flat: number[] = [];
  const walk = (v: NestedArray, axis: number, path: string): void => {
    if (axis === shape.length) {
      if (typeof v !== 'number') throw new Error(`${where}: expected a number at ${path || 'the top'}, got ${Array.isArray(v) ? 'an array' : typeof v}`);
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[axis]) {
      throw new Error(
        `${where}: nested arrays must be rectangular; expected ${shape[axis]} elements at ${path || 'the top'} ` +
          `(shape [${shape}]), got ${Array.isArray(v) ? v.length : 'a number'}`,
      );
    }
    v.forEach((item, k) => walk(item, axis + 1, `${path}[${k}]`));
  };
  walk(values, 0, '');
  return { shape, flat };
}

/**
 * Creates a tensor from a number, nested arrays or a typed array, uploaded to the GPU once.
 * The shape defaults to that of the nested arrays (or [length]); dtype to int32 for an
 * Int32Array and float32 otherwise (int32 values are truncated toward zero).
 */
export function tensor(values: TensorLike, shape?: readonly number[], dtype?: DType): Tensor {
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (ArrayBuffer.isView(values)) {
    flat = values;
    inferred = [values.length];
  } else if (typeof values === 'number' || Array.isArray(values)) {
    ({ shape: inferred, flat } = flatten(values, 'sf.tensor'));
  } else {
    throw new Error(`sf.tensor: expected a number, nested arrays of numbers or a typed array, got ${values === null ? 'null' : typeof values}`);
  }
  const type = dtype ?? (values instanceof Int32Array ? 'int32' : 'float32');
  checkDtype(type, 'sf.tensor');
  if (shape !== undefined) {
    checkShape(shape, 'sf.tensor');
    if (sizeOf(shape) !== flat.length) {
      throw new Error(`sf.tensor: shape [${shape.join(', ')}] holds ${sizeOf(shape)} values, but ${flat.length} were given`);
    }
  }
  const data = type === 'int32' ? Int32Array.from(flat) : Float32Array.from(flat);
  const t = emptyTensor(shape ?? inferred, type, 'sf.tensor');
  if (data.length > 0) t.runtime.write(t.buffer, data);
  return t;
}

/** A rank-0 tensor. */
export function scalar(value: number, dtype?: DType): Tensor {
  return tensor(value, [], dtype);
}

export interface MemoryInfo {
  /** Tensors created and not yet disposed. */
  numTensors: number;
  /** Bytes of their elements. */
  numBytes: number;
  /** Bytes of GPU buffers handed out (tensors, in-flight params and readbacks), rounded to size classes. */
  numBytesInUse: number;
  /** Bytes of GPU buffers the pool owns: in use plus waiting for reuse. */
  numBytesHeld: number;
}

/** What is alive on the GPU, as TF.js's tf.memory() reports it, plus the pool's own view. */
export function memory(): MemoryInfo {
  const pool = runtime().pool.stats();
  return { numTensors: live.tensors, numBytes: live.bytes, numBytesInUse: pool.bytesInUse, numBytesHeld: pool.bytesHeld };
}
