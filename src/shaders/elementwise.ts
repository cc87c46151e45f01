// Elementwise kernels: binary arithmetic with NumPy/TF.js broadcasting, tensor-scalar forms,
// unary maps and fill. Each op is one WGSL expression in a table; the kernels around it are shared.

import { defaultLimits, type DType, type Kernel, type KernelLimits, wgslType } from './kernel.js';
import { at8, linearKernel, type StorageBuffer, type UniformField } from './preamble.js';

/** Binary ops as WGSL over `x` and `y` of the element type `T`. */
const binaryOps = {
  add: { f32: 'x + y', i32: 'x + y' },
  sub: { f32: 'x - y', i32: 'x - y' },
  mul: { f32: 'x * y', i32: 'x * y' },
  // Integer division floors, as in TF.js (WGSL's `/` truncates toward zero); by zero it gives 0,
  // as TF.js does (WGSL leaves x / 0 to the driver).
  div: { f32: 'x / y', i32: 'select(select(x / y, x / y - 1, (x % y != 0) && ((x < 0) != (y < 0))), 0, y == 0)' },
  maximum: { f32: 'max(x, y)', i32: 'max(x, y)' },
  minimum: { f32: 'min(x, y)', i32: 'min(x, y)' },
} as const;
export type BinaryOp = keyof typeof binaryOps;
export const binaryOpNames = Object.keys(binaryOps) as BinaryOp[];

/** Unary ops as WGSL over `x`. */
const unaryOps = {
  neg: { f32: '-x', i32: '-x' },
  abs: { f32: 'abs(x)', i32: 'abs(x)' },
  square: { f32: 'x * x', i32: 'x * x' },
} as const;
export type UnaryOp = keyof typeof unaryOps;

const maxRank = 8;

/** The shape two operands broadcast to, by NumPy's rules; throws naming both shapes when they do not. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    const da = a[a.length - rank + k] ?? 1;
    const db = b[b.length - rank + k] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`Shapes [${a}] and [${b}] cannot be broadcast together: axis ${k} of the result is ${da} in one and ${db} in the other`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `shape` (row-major) aligned to `outShape`, 0 along broadcast axes. */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let stride = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    const axis = outShape.length - shape.length + k;
    strides[axis] = shape[k] === 1 ? 0 : stride;
    stride *= shape[k];
  }
  return strides;
}

/** WGSL `fn op(x, y)`: a binary op over the element type `T`. */
function binaryFn(op: BinaryOp, T: 'f32' | 'i32'): string {
  return `\nfn op(x: ${T}, y: ${T}) -> ${T} { return ${binaryOps[op][T]}; }`;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export interface BinaryParams {
  op: BinaryOp;
  dtype: DType;
  aShape: readonly number[];
  bShape: readonly number[];
  limits?: KernelLimits;
}

/** out = op(a, b) with broadcasting; bindings: a, b, out, params. */
export function binary({ op, dtype, aShape, bShape, limits = defaultLimits }: BinaryParams): Kernel {
  const outShape = broadcastShapes(aShape, bShape);
  if (outShape.length > maxRank) throw new Error(`binary ${op}: rank ${outShape.length} exceeds the supported ${maxRank}`);
  const T = wgslType(dtype);
  const same = aShape.length === bShape.length && aShape.every((d, k) => d === bShape[k]);
  const buffers: StorageBuffer[] = [['a', 'read', T], ['b', 'read', T], ['out', 'write', T]];
  const functions = binaryFn(op, T);
  const count = elementCount(outShape);
  if (same) {
    return linearKernel({ name: op, count, limits, buffers, countUniform: true, functions, body: '  out[i] = op(a[i], b[i]);' });
  }
  const fields: UniformField[] = [
    ['rank', 'u32', outShape.length],
    ['shape', 'u32x8', outShape],
    ['a_strides', 'u32x8', broadcastStrides(aShape, outShape)],
    ['b_strides', 'u32x8', broadcastStrides(bShape, outShape)],
  ];
  const body = /* wgsl */ `  var rest = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = p.rank; d > 0u; d--) {
    let k = d - 1u;
    let coord = rest % ${at8('p.shape', 'k')};
    rest = rest / ${at8('p.shape', 'k')};
    ia += coord * ${at8('p.a_strides', 'k')};
    ib += coord * ${at8('p.b_strides', 'k')};
  }
  out[i] = op(a[ia], b[ib]);`;
  return linearKernel({ name: `${op}_broadcast`, count, limits, buffers, fields, countUniform: true, functions, body });
}

export interface BinaryScalarParams {
  op: BinaryOp;
  dtype: DType;
  size: number;
  scalar: number;
  /** Whether the scalar is the left operand (`3 - x`) rather than the right (`x - 3`). */
  scalarFirst?: boolean;
  limits?: KernelLimits;
}

/** out = op(a, s) or op(s, a) for a scalar uniform s; bindings: a, out, params. */
export function binaryScalar({ op, dtype, size, scalar, scalarFirst = false, limits = defaultLimits }: BinaryScalarParams): Kernel {
  const T = wgslType(dtype);
  return linearKernel({
    name: `${op}_scalar`, count: size, limits,
    buffers: [['a', 'read', T], ['out', 'write', T]],
    fields: [['s', T, scalar]], countUniform: true,
    functions: binaryFn(op, T),
    body: scalarFirst ? '  out[i] = op(p.s, a[i]);' : '  out[i] = op(a[i], p.s);',
  });
}

/** out = op(a); bindings: a, out, params. */
export function unary({ op, dtype, size, limits = defaultLimits }: { op: UnaryOp; dtype: DType; size: number; limits?: KernelLimits }): Kernel {
  const T = wgslType(dtype);
  return linearKernel({
    name: op, count: size, limits,
    buffers: [['a', 'read', T], ['out', 'write', T]], countUniform: true,
    functions: `\nfn op(x: ${T}) -> ${T} { return ${unaryOps[op][T]}; }`,
    body: '  out[i] = op(a[i]);',
  });
}

/** out[i] = value; bindings: out, params. */
export function fill({ dtype, size, value, limits = defaultLimits }: { dtype: DType; size: number; value: number; limits?: KernelLimits }): Kernel {
  const T = wgslType(dtype);
  return linearKernel({
    name: 'fill', count: size, limits,
    buffers: [['out', 'write', T]], fields: [['value', T, value]], countUniform: true,
    body: '  out[i] = p.value;',
  });
}
