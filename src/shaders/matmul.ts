// Matrix multiplication C = op(A)·op(B) (+ bias, activation), register-blocked, with transpose
// flags so backward passes read their operands in place instead of transposing copies.

import { activationFunctions, type Activation } from './activation.js';
import { dropoutEpilogue } from './random.js';
import { foldWorkgroups, linearWorkgroupSize } from './grid.js';
import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { enableHalves, linearKernel, preamble, widen } from './preamble.js';

export interface MatMulParams {
  /** Rows of op(A) and C. */
  m: number;
  /** Columns of op(B) and C. */
  n: number;
  /** The contracted dimension. */
  k: number;
  /** A is stored [k, m] and used transposed (default: stored [m, k]). */
  transposeA?: boolean;
  /** B is stored [n, k] and used transposed (default: stored [k, n]). */
  transposeB?: boolean;
  /** Independent products; A and B advance by one matrix per batch entry unless B is broadcast. */
  batch?: number;
  /** B is one matrix shared by every batch entry. */
  broadcastB?: boolean;
  /** Adds bias [n] to every row before the activation. */
  bias?: boolean;
  activation?: Activation;
  /**
   * Inverted dropout after the activation, its mask from (seed ^ run seed, step, element index)
   * as dropoutForward draws it; the kernel then also binds the step state, before C.
   */
  dropout?: { rate: number; seed: number };
  /**
   * C is the gradient at the input of a Dense relu followed by a fused dropout, from the gradient
   * at its dropped output y: op(A)·op(B)·scale (1 / (1 − rate)) where y > 0, else 0, exactly as
   * dropoutBackward with the relu computes it. The kernel binds y before C. Linear, no bias.
   */
  gate?: { scale: number };
  /**
   * B holds halves (array<f16>, two to a 32-bit word: src/shaders/half.ts), widened to f32 as it
   * is loaded; the products and sums stay f32. Needs a device with 'shader-f16'.
   */
  halfB?: boolean;
  /** Rows of C per workgroup, shared by its invocations. Default 8, or 16 on a subgroup. */
  tileRows?: number;
  /** Invocations per workgroup, each computing 4 adjacent columns. Default 32 (on a subgroup: its size). */
  lanes?: number;
  /** Lanes of a subgroup, when kernels may share loads across one (default: limits.subgroupSize). */
  subgroupSize?: number;
  /**
   * Products of at most this many multiply-adds (batch·m·n·k) take the one-element-per-invocation
   * kernel, unless a tile option above is given. Default 2^18.
   */
  smallMacs?: number;
  limits?: KernelLimits;
}

/** Products of at most this many multiply-adds take the one-element-per-invocation kernel by default. */
export const smallMatMulMacs = 2 ** 18;

/**
 * C[batch, m, n] = dropout(activation(op(A)·op(B) + bias)), or gated (see `gate`).
 * Bindings: a, b, (bias), (step state, or y with a gate), c.
 *
 * Each invocation owns `tileRows` rows × 4 adjacent columns of C, accumulated in registers; the
 * invocations of a workgroup share the rows. The contraction is unrolled by 4 so both operands
 * are read as vec4s wherever the layout allows. No workgroup memory and no barriers: CPU drivers
 * (lavapipe, SwiftShader) run a workgroup's invocations as SIMD lanes or fibers, where barriers
 * are expensive and loads, not FMAs, set the pace.
 *
 * With a subgroup size (and op(A)'s rows in vec4s), the workgroup is one subgroup: op(A)'s R×4
 * block of each contraction step is loaded once, spread over the lanes as vec4s, and handed to
 * every lane by subgroupBroadcast, so only op(B) is loaded per lane. On lavapipe a per-lane load
 * is a scalar loop over the SIMD lanes and a broadcast a register shuffle.
 *
 * Products of at most 2^18 multiply-adds (`smallMacs`) take smallMatMul instead, which
 * compiles in a tenth of the time.
 */
export function matMul(params: MatMulParams): Kernel {
  const {
    m, n, k, transposeA = false, transposeB = false, batch = 1, broadcastB = false,
    bias = false, activation = 'linear', dropout, gate, halfB = false, limits = defaultLimits,
  } = params;
  for (const [name, v] of [['m', m], ['n', n], ['k', k], ['batch', batch]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`matMul: ${name} must be a positive integer, got ${v}`);
  }
  if (gate && (bias || dropout || activation !== 'linear')) throw new Error('matMul: a gated product takes no bias, activation or dropout');
  const tiled = params.tileRows !== undefined || params.lanes !== undefined || params.subgroupSize !== undefined;
  if (!tiled && batch * m * n * k <= (params.smallMacs ?? smallMatMulMacs)) return smallMatMul(params);
  const S = params.subgroupSize ?? limits.subgroupSize ?? 0;
  const shared = S >= 4 && ((!transposeA && k % 4 === 0) || (transposeA && m % 4 === 0));
  const R = shared ? Math.ceil((params.tileRows ?? 16) / 4) * 4 : Math.max(1, Math.min(params.tileRows ?? 8, m));
  const lanes = shared ? S : linearWorkgroupSize(limits, params.lanes ?? 32);
  const rowTiles = Math.ceil(m / R);
  const colTiles = Math.ceil(n / (4 * lanes));
  const workgroups = batch * rowTiles * colTiles;

  // Which operand rows can be read as vec4s (the binding is then array<vec4<f32>>).
  const aRowsVec = !transposeA && k % 4 === 0; // A[r, kk..kk+3]
  const aColsVec = transposeA && m % 4 === 0 && R % 4 === 0; // A[kk, r..r+3]
  const bRowsVec = !transposeB && n % 4 === 0; // B[kk, c..c+3]
  const bColsVec = transposeB && k % 4 === 0; // B[c, kk..kk+3]
  const aVec = aRowsVec || aColsVec;
  const bVec = bRowsVec || bColsVec;
  const cVec = n % 4 === 0; // rows of C are whole vec4s
  const { functions: epilogueWgsl, post } = epilogue(params);
  const bType = halfB ? 'f16' : 'f32';
  const rows = Array.from({ length: R }, (_, r) => r);
  const taps = [0, 1, 2, 3];

  // op(A)[row, kk] and op(B)[kk, col] as scalars, for the general paths and the k tail.
  const aIndex = (row: string, kk: string) => (transposeA ? `a_base + (${kk}) * M + ${row}` : `a_base + (${row}) * K + ${kk}`);
  const bIndex = (kk: string, col: string) => (transposeB ? `b_base + (${col}) * K + ${kk}` : `b_base + (${kk}) * N + ${col}`);
  const row = (r: number) => `min(row0 + ${r}u, M - 1u)`; // out-of-range rows read row M − 1; never stored

  // aBlock loads op(A)'s R×4 block of the step; aValue(r, t) is op(A)[row0 + r, kk + t].
  let aBlock: string;
  let aValue: (r: number, t: number) => string;
  if (shared) {
    // Chunk c of the block: row c, taps 0..3 (A stored [m, k]); or tap c % 4 at rows 4⌊c/4⌋..+3
    // (A stored [k, m]). Lane `lane` loads chunks q·S + lane; lanes past R load spare rows.
    const chunks = Array.from({ length: Math.ceil(R / S) }, (_, q) => q);
    aBlock = chunks.map((q) => {
      const c = `${q * S}u + lane`;
      return transposeA
        ? `    let q${q} = a[(a_base + (kk + (${c}) % 4u) * M + min(row0 + (${c}) / 4u * 4u, M - 4u)) / 4u];`
        : `    let q${q} = a[(a_base + min(row0 + ${c}, M - 1u) * K + kk) / 4u];`;
    }).join('\n');
    aValue = (r, t) => {
      const c = transposeA ? 4 * Math.floor(r / 4) + t : r;
      return `subgroupBroadcast(q${Math.floor(c / S)}[${transposeA ? r % 4 : t}], ${c % S}u)`;
    };
  } else if (aRowsVec) {
    aBlock = rows.map((r) => `    let a${r} = a[(a_base + ${row(r)} * K + kk) / 4u];`).join('\n');
    aValue = (r, t) => `a${r}[${t}]`;
  } else if (aColsVec) {
    const quads = Array.from({ length: R / 4 }, (_, q) => q);
    aBlock = [
      ...quads.flatMap((q) => taps.map((t) => `    let q${q}_${t} = a[(a_base + (kk + ${t}u) * M + min(row0 + ${4 * q}u, M - 4u)) / 4u];`)),
    ].join('\n');
    aValue = (r, t) => `q${Math.floor(r / 4)}_${t}[${r % 4}]`;
  } else {
    aBlock = rows.map((r) => `    let a${r} = vec4<f32>(${taps.map((t) => `a_at(${aIndex(row(r), `kk + ${t}u`)})`).join(', ')});`).join('\n');
    aValue = (r, t) => `a${r}[${t}]`;
  }

  // b0..b3: op(B)[kk + t, col..col+3]; columns past N read column N − 1 and are never stored.
  let bBlock: string;
  if (bRowsVec) {
    bBlock = taps.map((t) => `    let b${t} = ${widen(`b[(b_base + (kk + ${t}u) * N + col_v) / 4u]`, halfB, 'vec4<f32>')};`).join('\n');
  } else if (bColsVec) {
    bBlock = [
      ...taps.map((j) => `    let c${j} = ${widen(`b[(b_base + min(col + ${j}u, N - 1u) * K + kk) / 4u]`, halfB, 'vec4<f32>')};`),
      ...taps.map((t) => `    let b${t} = vec4<f32>(c0[${t}], c1[${t}], c2[${t}], c3[${t}]);`),
    ].join('\n');
  } else {
    bBlock = taps.map((t) => `    let b${t} = load_b(kk + ${t}u);`).join('\n');
  }

  const code = /* wgsl */ `${shared ? 'enable subgroups;\n' : ''}${enableHalves(halfB)}${preamble}
${activationFunctions(activation)}
${epilogueWgsl}
const M = ${m}u;
const N = ${n}u;
const K = ${k}u;
const ROW_TILES = ${rowTiles}u;
const COL_TILES = ${colTiles}u;

@group(0) @binding(0) var<storage, read> a: array<${aVec || shared ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> b: array<${bVec ? `vec4<${bType}>` : bType}>;
${bias ? '@group(0) @binding(2) var<storage, read> bias: array<f32>;' : ''}
${dropout ? `@group(0) @binding(${bias ? 3 : 2}) var<storage, read> state: array<u32>;` : ''}
${gate ? '@group(0) @binding(2) var<storage, read> gate: array<f32>;' : ''}
@group(0) @binding(${2 + (bias ? 1 : 0) + (dropout || gate ? 1 : 0)}) var<storage, read_write> c: array<${cVec ? 'vec4<f32>' : 'f32'}>;

var<private> a_base: u32;
var<private> b_base: u32;
var<private> col: u32;

fn a_at(i: u32) -> f32 { return a[${aVec || shared ? 'i / 4u][i % 4u' : 'i'}]; }
fn b_at(i: u32) -> f32 { return ${widen(`b[${bVec ? 'i / 4u][i % 4u' : 'i'}]`, halfB, 'f32')}; }

// Four adjacent columns of op(B) at contraction index kk (columns past N read column N − 1).
fn load_b(kk: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { v[j] = b_at(${bIndex('kk', 'min(col + j, N - 1u)')}); }
  return v;
}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(${shared ? 'subgroup_invocation_id' : 'local_invocation_index'}) lane: u32) {
  // Spare workgroups of a folded grid redo the last tile without storing it: no early return,
  // so every lane stays in uniform control flow for the subgroup operations.
  let flat = flat_workgroup(wid, nwg);
  let tile = min(flat, ${workgroups - 1}u);
  let entry = tile / (ROW_TILES * COL_TILES);
  let row0 = (tile / COL_TILES) % ROW_TILES * ${R}u;
  col = ((tile % COL_TILES) * ${lanes}u + lane) * 4u;
  a_base = entry * M * K;
  b_base = ${broadcastB ? '0u' : 'entry * K * N'};
  let col_v = min(col, max(N, 4u) - 4u);
${rows.map((r) => `  var acc${r} = vec4<f32>(0.0);`).join('\n')}
  var kk = 0u;
  for (; kk + 4u <= K; kk += 4u) {
${bBlock}
${aBlock}
${taps.map((t) => rows.map((r) => `    acc${r} = fma(vec4<f32>(${aValue(r, t)}), b${t}, acc${r});`).join('\n')).join('\n')}
  }
${k % 4 === 0 ? '' : `  for (; kk < K; kk++) {
    let bk = load_b(kk);
${rows.map((r) => `    acc${r} = fma(vec4<f32>(a_at(${aIndex(row(r), 'kk')})), bk, acc${r});`).join('\n')}
  }`}
  if (col >= N || flat != tile) { return; }
  let c_base = entry * M * N;
${bias ? '  let bias_v = vec4<f32>(bias[col], bias[min(col + 1u, N - 1u)], bias[min(col + 2u, N - 1u)], bias[min(col + 3u, N - 1u)]);' : ''}
${rows.map((r) => `  if (row0 + ${r}u < M) { store_row(c_base + (row0 + ${r}u) * N, acc${r}${bias ? ' + bias_v' : ''}); }`).join('\n')}
}

// Columns col.. of a row of C (a whole vec4 when N is a multiple of 4), through the activation.
fn store_row(base: u32, v: vec4<f32>) {
${cVec ? `  ${post ? `let y = activate4(v);\n  let i = base + col;\n  c[i / 4u] = vec4<f32>(${post}(y[0], i), ${post}(y[1], i + 1u), ${post}(y[2], i + 2u), ${post}(y[3], i + 3u));` : 'c[(base + col) / 4u] = activate4(v);'}` : `  for (var j = 0u; j < 4u; j++) {
    if (col + j < N) { c[base + col + j] = ${post ? `${post}(activate(v[j]), base + col + j)` : 'activate(v[j])'}; }
  }`}
}
`;
  return {
    name: `matmul${shared ? '_sg' : ''}${kernelSuffix(params)}`,
    code,
    bindings: ['read', 'read', ...(bias ? ['read' as const] : []), ...(dropout || gate ? ['read' as const] : []), 'write'],
    workgroupSize: [lanes, 1, 1],
    dispatch: foldWorkgroups(workgroups, limits),
  };
}

/**
 * One invocation per element of C, a plain loop over k. For the small products of a dense
 * layer (an Iris MLP, a 10-class head): CPU drivers compile each shader when it first runs,
 * and the register-tiled kernel's unrolled code takes seconds to compile where this one takes
 * a fraction, for products that run in a millisecond either way. k comes in a uniform so that
 * compilers cannot unroll the loop: on lavapipe each load of an unrolled step is a loop over
 * the lanes, and 32 steps took 0.5 s to compile.
 */
function smallMatMul(params: MatMulParams): Kernel {
  const { m, n, k, transposeA = false, transposeB = false, batch = 1, broadcastB = false, bias = false, activation = 'linear', dropout, gate, halfB = false, limits = defaultLimits } = params;
  const { functions: epilogueWgsl, post } = epilogue(params);
  return linearKernel({
    name: `matmul${kernelSuffix(params)}`,
    count: batch * m * n,
    limits,
    buffers: [
      ['a', 'read', 'f32'], ['b', 'read', halfB ? 'f16' : 'f32'], ...(bias ? [['bias', 'read', 'f32'] as const] : []),
      ...(dropout ? [['state', 'read', 'u32'] as const] : []), ...(gate ? [['gate', 'read', 'f32'] as const] : []), ['c', 'write', 'f32'],
    ],
    fields: [['k', 'u32', k]],
    functions: `${activationFunctions(activation)}\n${epilogueWgsl}`,
    body: /* wgsl */ `  let col = i % ${n}u;
  let row = i / ${n}u % ${m}u;
  let entry = i / ${m * n}u;
  let a_base = entry * ${m * k}u;
  let b_base = ${broadcastB ? '0u' : `entry * ${k * n}u`};
  var acc = 0.0;
  for (var kk = 0u; kk < p.k; kk++) {
    acc = fma(a[a_base + ${transposeA ? `kk * ${m}u + row` : `row * ${k}u + kk`}], ${widen(`b[b_base + ${transposeB ? `col * ${k}u + kk` : `kk * ${n}u + col`}]`, halfB, 'f32')}, acc);
  }
  c[i] = ${post ? `${post}(` : ''}activate(acc${bias ? ' + bias[col]' : ''})${post ? ', i)' : ''};`,
  });
}

/** The kernel name after `matmul`: its transposes, a half B (`_hb`), bias, activation and epilogue. */
function kernelSuffix({ transposeA, transposeB, bias, activation = 'linear', dropout, gate, halfB }: MatMulParams): string {
  const epilogueName = dropout ? '_dropout' : gate ? '_dropout_relu_grad' : '';
  return `${transposeA ? '_ta' : ''}${transposeB ? '_tb' : ''}${halfB ? '_hb' : ''}${bias ? '_bias' : ''}${activation === 'linear' ? '' : `_${activation}`}${epilogueName}`;
}

/**
 * A product's epilogue after its activation: the WGSL function `post(v, i)` that element i of C
 * goes through ('' for none): `dropped` for a fused dropout, or `gated` for a gate (v·scale
 * where the gate's element i is positive, else 0).
 */
function epilogue({ dropout, gate }: MatMulParams): { functions: string; post: '' | 'dropped' | 'gated' } {
  if (dropout) return { functions: dropoutEpilogue('matMul', dropout), post: 'dropped' };
  if (!gate) return { functions: '', post: '' };
  if (!(Number.isFinite(gate.scale) && gate.scale > 0)) throw new Error(`matMul: the gate's scale must be a positive number, got ${gate.scale}`);
  return { functions: `fn gated(v: f32, i: u32) -> f32 { return select(0.0, v * f32(${Math.fround(gate.scale)}), gate[i] > 0.0); }`, post: 'gated' };
}

export interface DenseGradientsParams {
  /** Examples in the batch: the contracted dimension. */
  rows: number;
  /** Inputs of the dense layer (rows of dW). */
  inputs: number;
  /** Units of the dense layer (columns of dW, length of db). */
  units: number;
  limits?: KernelLimits;
}

/**
 * A small dense layer's weight and bias gradients in one dispatch: dW = xᵀ·dy [inputs, units]
 * and db = Σ_rows dy [units], as one product xᵀ·dy whose op(A) has an extra row of ones. One
 * invocation per element, as smallMatMul; for the products it would take (an Iris MLP, a
 * 10-class head), where a separate bias reduction costs a dispatch of its own.
 * Bindings: x [rows, inputs], dy [rows, units], dw, db, params (rows).
 */
export function denseGradients({ rows, inputs, units, limits = defaultLimits }: DenseGradientsParams): Kernel {
  for (const [name, v] of [['rows', rows], ['inputs', inputs], ['units', units]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`denseGradients: ${name} must be a positive integer, got ${v}`);
  }
  return linearKernel({
    name: 'matmul_ta_bias_gradient',
    count: (inputs + 1) * units,
    limits,
    buffers: [['x', 'read', 'f32'], ['dy', 'read', 'f32'], ['dw', 'write', 'f32'], ['db', 'write', 'f32']],
    fields: [['k', 'u32', rows]],
    body: /* wgsl */ `  let col = i % ${units}u;
  let row = i / ${units}u;
  var acc = 0.0;
  if (row == ${inputs}u) {
    for (var kk = 0u; kk < p.k; kk++) { acc += dy[kk * ${units}u + col]; }
    db[col] = acc;
    return;
  }
  for (var kk = 0u; kk < p.k; kk++) { acc = fma(x[kk * ${inputs}u + row], dy[kk * ${units}u + col], acc); }
  dw[i] = acc;`,
  });
}
