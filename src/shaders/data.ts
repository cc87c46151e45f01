// The input pipeline on the GPU: gather a batch of rows from a GPU-resident dataset by index,
// and turn uint8 pixels (packed four to a u32 word) into scaled float32.

import { defaultLimits, type DType, type Kernel, type KernelLimits } from './kernel.js';
import { linearKernel, type UniformField } from './preamble.js';
import { checkCount } from './reduce.js';

/**
 * A quiet NaN for rows gathered from an index out of range. WGSL rejects NaN in constant
 * expressions, so its bits come from a private variable, read at run time.
 */
const nanWgsl = /* wgsl */ `
var<private> nan_bits: u32 = 0x7fc00000u;
fn nan() -> f32 { return bitcast<f32>(nan_bits); }`;

/**
 * WGSL reading byte `address` of a uint8 array packed four to a u32, little endian (byte 0 in the
 * low bits, as a Uint8Array viewed as Uint32Array on every platform WebGPU runs on). Addresses
 * are global, so rows need not start on a word boundary.
 */
const byteAtWgsl = /* wgsl */ `
fn byte_at(address: u32) -> u32 {
  return (source[address >> 2u] >> ((address & 3u) * 8u)) & 0xffu;
}`;

/** Packs bytes four to a u32 word, little endian, zero-padding the last word: the layout byte_at reads. */
export function packBytes(bytes: Uint8Array): Uint32Array {
  const words = new Uint32Array(Math.ceil(bytes.length / 4));
  for (let k = 0; k < bytes.length; k++) words[k >> 2] |= bytes[k] << ((k & 3) * 8);
  return words;
}

/** The uniforms of out = byte·scale + offset, after checking that both are finite. */
function scaleOffset(kernel: string, scale: number, offset: number): UniformField[] {
  for (const [name, value] of [['scale', scale], ['offset', offset]] as const) {
    if (!Number.isFinite(value)) throw new Error(`${kernel}: ${name} must be a finite number, got ${value}`);
  }
  return [['scale', 'f32', scale], ['offset', 'f32', offset]];
}

export interface GatherSource {
  /** Rows in the source. */
  rows: number;
  /** Elements per row. */
  rowSize: number;
  dtype: DType;
}

export interface GatherRowsParams {
  /** The tensors to gather rows of, by the same indices (a batch's x and y): one dispatch for all. */
  sources: readonly GatherSource[];
  /** Indices, and rows in each output. */
  batch: number;
  limits?: KernelLimits;
}

/**
 * out_s[b, :] = source_s[indices[b], :] for each source s, in one dispatch. The elements are
 * copied as 32-bit words, bit for bit. An index outside [0, rows) never reads out of bounds: its
 * row is NaN for float32 and −1 for int32 (an invalid class, which the sparse losses turn into
 * a NaN loss), so a bad index shows up in training rather than passing as real data.
 * Bindings: indices int32 [batch], then per source: source [rows, rowSize], out [batch, rowSize].
 */
export function gatherRows({ sources, batch, limits = defaultLimits }: GatherRowsParams): Kernel {
  if (sources.length === 0) throw new Error('gatherRows: expected at least one source');
  checkCount('gatherRows', 'batch', batch);
  let start = 0;
  const parts = sources.map(({ rows, rowSize, dtype }, s) => {
    checkCount('gatherRows', 'rows', rows);
    checkCount('gatherRows', 'rowSize', rowSize);
    if (dtype !== 'float32' && dtype !== 'int32') throw new Error(`gatherRows: dtype must be 'float32' or 'int32', got '${dtype}'`);
    const from = start;
    start += batch * rowSize;
    return /* wgsl */ `  if (i < ${start}u) {
    let j = i - ${from}u;
    let index = indices[j / ${rowSize}u];
    let valid = index >= 0 && index < ${rows}i;
    out${s}[j] = select(${dtype === 'float32' ? '0x7fc00000u' : '0xffffffffu'}, source${s}[select(0u, u32(index), valid) * ${rowSize}u + j % ${rowSize}u], valid);
    return;
  }`;
  });
  return linearKernel({
    name: sources.length === 1 ? `gather_rows_${sources[0].dtype}` : `gather_rows_${sources.length}`,
    count: start,
    limits,
    buffers: [['indices', 'read', 'i32'], ...sources.flatMap((_, s) => [[`source${s}`, 'read', 'u32'] as const, [`out${s}`, 'write', 'u32'] as const])],
    body: parts.join('\n'),
  });
}

export interface GatherBytesParams {
  rows: number;
  /** Bytes per row; any count: rows may straddle words. */
  rowBytes: number;
  batch: number;
  /** out = byte·scale + offset: 1/255 and 0 give [0, 1]; −1/255 and 1 give the inverted image 1 − x. */
  scale: number;
  offset: number;
  limits?: KernelLimits;
}

/**
 * out[b, k] = source[indices[b]·rowBytes + k]·scale + offset, for a uint8 dataset packed with
 * packBytes: a batch of MNIST images stays a quarter of its float32 size on the GPU until it is
 * used. An index outside [0, rows) gives a row of NaN. scale and offset are uniforms, so plain
 * and inverted batches share one pipeline.
 * Bindings: source (packed u32 words), indices int32 [batch], out float32 [batch, rowBytes], params.
 */
export function gatherBytes({ rows, rowBytes, batch, scale, offset, limits = defaultLimits }: GatherBytesParams): Kernel {
  checkCount('gatherBytes', 'rows', rows);
  checkCount('gatherBytes', 'rowBytes', rowBytes);
  checkCount('gatherBytes', 'batch', batch);
  const body = /* wgsl */ `  let b = i / ${rowBytes}u;
  let index = indices[b];
  let valid = index >= 0 && index < ${rows}i;
  let address = select(0u, u32(index), valid) * ${rowBytes}u + i % ${rowBytes}u;
  out[i] = select(nan(), f32(byte_at(address)) * p.scale + p.offset, valid);`;
  return linearKernel({
    name: 'gather_bytes', count: batch * rowBytes, limits,
    buffers: [['source', 'read', 'u32'], ['indices', 'read', 'i32'], ['out', 'write', 'f32']],
    fields: scaleOffset('gatherBytes', scale, offset), functions: nanWgsl + byteAtWgsl, body,
  });
}

export interface CastScaleParams {
  /** Bytes to convert. */
  size: number;
  scale: number;
  offset: number;
  limits?: KernelLimits;
}

/**
 * out[k] = byte k · scale + offset over a whole packed uint8 buffer, without indices.
 * Bindings: source (packed u32 words), out float32 [size], params.
 */
export function castScale({ size, scale, offset, limits = defaultLimits }: CastScaleParams): Kernel {
  checkCount('castScale', 'size', size);
  return linearKernel({
    name: 'cast_scale', count: size, limits,
    buffers: [['source', 'read', 'u32'], ['out', 'write', 'f32']],
    fields: scaleOffset('castScale', scale, offset), functions: byteAtWgsl,
    body: '  out[i] = f32(byte_at(i)) * p.scale + p.offset;',
  });
}

/** out = 1 − x, the inverted image of float32 pixels in [0, 1]. Bindings: x, out. */
export function invert({ size, limits = defaultLimits }: { size: number; limits?: KernelLimits }): Kernel {
  checkCount('invert', 'size', size);
  return linearKernel({
    name: 'invert', count: size, limits,
    buffers: [['x', 'read', 'f32'], ['out', 'write', 'f32']],
    body: '  out[i] = 1.0 - x[i];',
  });
}
