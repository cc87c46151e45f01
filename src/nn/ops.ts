// Eager ops, named and shaped as in TF.js. Each one checks its inputs, builds its kernel from
// src/shaders and dispatches it at once; the result stays on the GPU.

import { runtime } from '../gpu/device.js';
import * as elementwise from '../shaders/elementwise.js';
import { emptyTensor, scalar, type DType, Tensor } from './tensor.js';

export type Operand = Tensor | number;

function use(t: Tensor, op: string, name: string): GPUBuffer {
  if (!(t instanceof Tensor)) throw new Error(`sf.${op}: '${name}' must be a Tensor or a number, got ${describeValue(t)}`);
  if (t.isDisposed) throw new Error(`sf.${op}: '${name}' is ${t.describe()}, which was disposed`);
  if (t.runtime !== runtime()) throw new Error(`sf.${op}: '${name}' lives on a GPU device that is no longer current`);
  return t.buffer;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array (wrap it with sf.tensor)';
  return typeof v;
}

/** Fills a new tensor of `shape` with `value`. */
export function fill(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
  const out = emptyTensor(shape, dtype, 'sf.fill');
  out.runtime.dispatch(elementwise.fill({ dtype, size: out.size, value, limits: out.runtime.limits }), [out.buffer]);
  return out;
}

export function zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  const out = emptyTensor(shape, dtype, 'sf.zeros');
  out.runtime.clear(out.buffer, out.size * 4);
  return out;
}

export function ones(shape: readonly number[], dtype: DType = 'float32'): Tensor {
  return fill(shape, 1, dtype);
}

function binary(op: elementwise.BinaryOp, a: Operand, b: Operand): Tensor {
  if (typeof a === 'number' && typeof b === 'number') {
    const t = scalar(a);
    try {
      return binary(op, t, b);
    } finally {
      t.dispose();
    }
  }
  const rt = runtime();
  if (typeof b === 'number' || typeof a === 'number') {
    const scalarFirst = typeof a === 'number';
    const t = (scalarFirst ? b : a) as Tensor;
    const input = use(t, op, scalarFirst ? 'b' : 'a');
    const s = scalarFirst ? (a as number) : (b as number);
    const out = emptyTensor(t.shape, t.dtype, op);
    rt.dispatch(elementwise.binaryScalar({ op, dtype: t.dtype, size: t.size, scalar: s, scalarFirst, limits: rt.limits }), [input, out.buffer]);
    return out;
  }
  const ba = use(a, op, 'a');
  const bb = use(b, op, 'b');
  if (a.dtype !== b.dtype) throw new Error(`sf.${op}: both operands need one dtype, got ${a.dtype} (a) and ${b.dtype} (b)`);
  const shape = elementwise.broadcastShapes(a.shape, b.shape);
  const out = emptyTensor(shape, a.dtype, op);
  rt.dispatch(elementwise.binary({ op, dtype: a.dtype, aShape: a.shape, bShape: b.shape, limits: rt.limits }), [ba, bb, out.buffer]);
  return out;
}

function unary(op: elementwise.UnaryOp, x: Tensor): Tensor {
  const input = use(x, op, 'x');
  const out = emptyTensor(x.shape, x.dtype, op);
  out.runtime.dispatch(elementwise.unary({ op, dtype: x.dtype, size: x.size, limits: out.runtime.limits }), [input, out.buffer]);
  return out;
}

/** a + b, broadcasting as in NumPy; either may be a number. */
export const add = (a: Operand, b: Operand): Tensor => binary('add', a, b);
/** a - b, broadcasting. */
export const sub = (a: Operand, b: Operand): Tensor => binary('sub', a, b);
/** a * b, broadcasting. */
export const mul = (a: Operand, b: Operand): Tensor => binary('mul', a, b);
/** a / b, broadcasting; floor division for int32, as in TF.js. */
export const div = (a: Operand, b: Operand): Tensor => binary('div', a, b);
export const maximum = (a: Operand, b: Operand): Tensor => binary('maximum', a, b);
export const minimum = (a: Operand, b: Operand): Tensor => binary('minimum', a, b);
export const neg = (x: Tensor): Tensor => unary('neg', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const square = (x: Tensor): Tensor => unary('square', x);
