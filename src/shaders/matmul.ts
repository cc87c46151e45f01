// Matrix multiplication C = op(A)·op(B) (+ bias, activation), register-blocked, with transpose
// flags so backward passes read their operands in place instead of transposing copies.

import { activationFunctions, type Activation } from './activation.js';
import { foldWorkgroups, linearWorkgroupSize } from './grid.js';
import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { preamble } from './preamble.js';

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
  /** Rows of C per workgroup, read by every invocation alike (uniform loads). Default 8. */
  tileRows?: number;
  /** Invocations per workgroup, each computing 4 adjacent columns. Default 32. */
  lanes?: number;
  /** Lanes of a subgroup, when kernels may share loads across one (default: limits.subgroupSize). */
  subgroupSize?: number;
  limits?: KernelLimits;
}

/**
 * C[batch, m, n] = activation(op(A)·op(B) + bias). Bindings: a, b, (bias), c.
 *
 * Each invocation owns `tileRows` rows × 4 adjacent columns of C, accumulated in registers.
 * The invocations of a workgroup share rows, so their loads of A are uniform (one load,
 * broadcast), and the contraction is unrolled by 4 so both operands are read as vec4s wherever
 * the layout allows. No workgroup memory and no barriers: CPU drivers (lavapipe, SwiftShader)
 * run a workgroup's invocations as SIMD lanes or fibers, where barriers are expensive and
 * loads, not FMAs, set the pace.
 */
export function matMul(params: MatMulParams): Kernel {
  const {
    m, n, k, transposeA = false, transposeB = false, batch = 1, broadcastB = false,
    bias = false, activation = 'linear', limits = defaultLimits,
  } = params;
  for (const [name, v] of [['m', m], ['n', n], ['k', k], ['batch', batch]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`matMul: ${name} must be a positive integer, got ${v}`);
  }
  const R = Math.max(1, Math.min(params.tileRows ?? 8, m));
  const lanes = linearWorkgroupSize(limits, params.lanes ?? 32);
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
  const rows = Array.from({ length: R }, (_, r) => r);
  const taps = [0, 1, 2, 3];
  const S = params.subgroupSize ?? limits.subgroupSize ?? 0;
  if (S >= 4 && (aRowsVec || (transposeA && m % 4 === 0))) {
    return subgroupMatMul({ ...params, m, n, k, transposeA, transposeB, batch, broadcastB, bias, activation, limits }, S, bRowsVec, bColsVec);
  }

  // op(A)[row, kk] and op(B)[kk, col] as scalars, for the general paths and the k tail.
  const aIndex = (row: string, kk: string) => (transposeA ? `a_base + (${kk}) * M + ${row}` : `a_base + (${row}) * K + ${kk}`);
  const bIndex = (kk: string, col: string) => (transposeB ? `b_base + (${col}) * K + ${kk}` : `b_base + (${kk}) * N + ${col}`);

  let aBlock: string; // defines a0..a{R-1}: vec4 of op(A)[r, kk..kk+3]
  if (aRowsVec) {
    aBlock = rows.map((r) => `    let a${r} = a[(a_base + r${r} * K + kk) / 4u];`).join('\n');
  } else if (aColsVec) {
    const quads = Array.from({ length: R / 4 }, (_, q) => q);
    aBlock = [
      ...quads.flatMap((q) => taps.map((t) => `    let q${q}_${t} = a[(a_base + (kk + ${t}u) * M + min(row0 + ${4 * q}u, M - 4u)) / 4u];`)),
      ...rows.map((r) => `    let a${r} = vec4<f32>(${taps.map((t) => `q${Math.floor(r / 4)}_${t}[${r % 4}]`).join(', ')});`),
    ].join('\n');
  } else {
    aBlock = rows.map((r) => `    let a${r} = vec4<f32>(${taps.map((t) => `a_at(${aIndex(`r${r}`, `kk + ${t}u`)})`).join(', ')});`).join('\n');
  }

  let bBlock: string; // defines b0..b3: vec4 of op(B)[kk + t, col..col+3]
  if (bRowsVec) {
    bBlock = taps.map((t) => `    let b${t} = b[(b_base + (kk + ${t}u) * N + col_v) / 4u];`).join('\n');
  } else if (bColsVec) {
    bBlock = [
      ...taps.map((j) => `    let c${j} = b[(b_base + min(col + ${j}u, N - 1u) * K + kk) / 4u];`),
      ...taps.map((t) => `    let b${t} = vec4<f32>(c0[${t}], c1[${t}], c2[${t}], c3[${t}]);`),
    ].join('\n');
  } else {
    bBlock = taps.map((t) => `    let b${t} = load_b(kk + ${t}u);`).join('\n');
  }

  const code = /* wgsl */ `${preamble}
${activationFunctions(activation)}
const M = ${m}u;
const N = ${n}u;
const K = ${k}u;
const ROW_TILES = ${rowTiles}u;
const COL_TILES = ${colTiles}u;

@group(0) @binding(0) var<storage, read> a: array<${aVec ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> b: array<${bVec ? 'vec4<f32>' : 'f32'}>;
${bias ? '@group(0) @binding(2) var<storage, read> bias: array<f32>;' : ''}
@group(0) @binding(${bias ? 3 : 2}) var<storage, read_write> c: array<f32>;

var<private> a_base: u32;
var<private> b_base: u32;
var<private> col: u32;

fn a_at(i: u32) -> f32 { return a[${aVec ? 'i / 4u][i % 4u' : 'i'}]; }
fn b_at(i: u32) -> f32 { return b[${bVec ? 'i / 4u][i % 4u' : 'i'}]; }

// Four adjacent columns of op(B) at contraction index kk; columns past N read as zero.
fn load_b(kk: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (col + j < N) { v[j] = b_at(${bIndex('kk', 'col + j')}); }
  }
  return v;
}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
  let tile = flat_workgroup(wid, nwg);
  if (tile >= ${workgroups}u) { return; }
  let entry = tile / (ROW_TILES * COL_TILES);
  let row0 = (tile / COL_TILES) % ROW_TILES * ${R}u;
  col = ((tile % COL_TILES) * ${lanes}u + lane) * 4u;
  a_base = entry * M * K;
  b_base = ${broadcastB ? '0u' : 'entry * K * N'};
  // Out-of-range rows and columns read clamped, in-bounds data; their results are never stored.
  let col_v = min(col, max(N, 4u) - 4u);
${rows.map((r) => `  let r${r} = min(row0 + ${r}u, M - 1u);`).join('\n')}
${rows.map((r) => `  var acc${r} = vec4<f32>(0.0);`).join('\n')}
  var kk = 0u;
  for (; kk + 4u <= K; kk += 4u) {
${bBlock}
${aBlock}
${taps.map((t) => rows.map((r) => `    acc${r} = fma(vec4<f32>(a${r}[${t}]), b${t}, acc${r});`).join('\n')).join('\n')}
  }
  for (; kk < K; kk++) {
    let bk = load_b(kk);
${rows.map((r) => `    acc${r} = fma(vec4<f32>(a_at(${aIndex(`r${r}`, 'kk')})), bk, acc${r});`).join('\n')}
  }
  if (col >= N) { return; }
  let c_base = entry * M * N;
${rows.map((r) => `  if (row0 + ${r}u < M) { store_row(c_base + (row0 + ${r}u) * N, acc${r}); }`).join('\n')}
}

fn store_row(base: u32, v: vec4<f32>) {
  for (var j = 0u; j < 4u; j++) {
    if (col + j < N) { c[base + col + j] = activate(v[j]${bias ? ' + bias[col + j]' : ''}); }
  }
}
`;
  return {
    name: `matmul${transposeA ? '_ta' : ''}${transposeB ? '_tb' : ''}${bias ? '_bias' : ''}${activation === 'linear' ? '' : `_${activation}`}`,
    code,
    bindings: bias ? ['read', 'read', 'read', 'write'] : ['read', 'read', 'write'],
    workgroupSize: [lanes, 1, 1],
    dispatch: foldWorkgroups(workgroups, limits),
  };
}

/**
 * The subgroup variant: a workgroup is one subgroup of S lanes, each owning 4 adjacent columns of
 * C over the tile's R rows. op(A)'s R×4 block of each contraction step is loaded once, spread over
 * the lanes as vec4s, and handed to every lane by subgroupBroadcast; only op(B) is loaded per lane.
 * On CPU drivers a per-lane load is a scalar loop over the lanes while a broadcast is a register
 * shuffle, so this cuts the loads per multiply-add by the tile height.
 */
function subgroupMatMul(p: Required<Pick<MatMulParams, 'm' | 'n' | 'k' | 'transposeA' | 'transposeB' | 'batch' | 'broadcastB' | 'bias' | 'activation' | 'limits'>> & MatMulParams, S: number, bRowsVec: boolean, bColsVec: boolean): Kernel {
  const { m, n, k, transposeA, transposeB, batch, broadcastB, bias, activation, limits } = p;
  const R = Math.ceil((p.tileRows ?? 16) / 4) * 4;
  const rowTiles = Math.ceil(m / R);
  const colTiles = Math.ceil(n / (4 * S));
  const workgroups = batch * rowTiles * colTiles;
  const chunks = Math.ceil(R / S); // vec4s of op(A) each lane loads per contraction step (lanes past R load spare rows)
  const rows = Array.from({ length: R }, (_, r) => r);
  const taps = [0, 1, 2, 3];
  const chunkList = Array.from({ length: chunks }, (_, q) => q);
  // Chunk c of the R×4 block: row c, taps 0..3 (A stored [m, k]); or taps c%4 at rows 4⌊c/4⌋..+3 (A stored [k, m]).
  const aLoads = chunkList.map((q) => {
    const c = `${q * S}u + sid`;
    return transposeA
      ? `    let q${q} = a[(a_base + (kk + (${c}) % 4u) * M + min(row0 + (${c}) / 4u * 4u, M - 4u)) / 4u];`
      : `    let q${q} = a[(a_base + min(row0 + ${c}, M - 1u) * K + kk) / 4u];`;
  });
  // op(A)[r, kk + t]: which chunk holds it, and where.
  const aValue = (r: number, t: number) => {
    const c = transposeA ? 4 * Math.floor(r / 4) + t : r;
    const component = transposeA ? r % 4 : t;
    return `subgroupBroadcast(q${Math.floor(c / S)}[${component}], ${c % S}u)`;
  };
  const aIndex = (row: string, kk: string) => (transposeA ? `a_base + (${kk}) * M + ${row}` : `a_base + (${row}) * K + ${kk}`);
  const bIndex = (kk: string, col: string) => (transposeB ? `b_base + (${col}) * K + ${kk}` : `b_base + (${kk}) * N + ${col}`);
  const bVec = bRowsVec || bColsVec;
  let bBlock: string; // b0..b3: op(B)[kk + t, col..col+3]
  if (bRowsVec) {
    bBlock = taps.map((t) => `    let b${t} = b[(b_base + (kk + ${t}u) * N + col_v) / 4u];`).join('\n');
  } else if (bColsVec) {
    bBlock = [
      ...taps.map((j) => `    let c${j} = b[(b_base + min(col + ${j}u, N - 1u) * K + kk) / 4u];`),
      ...taps.map((t) => `    let b${t} = vec4<f32>(c0[${t}], c1[${t}], c2[${t}], c3[${t}]);`),
    ].join('\n');
  } else {
    bBlock = taps.map((t) => `    let b${t} = vec4<f32>(${taps.map((j) => `b[${bIndex(`kk + ${t}u`, `min(col + ${j}u, N - 1u)`)}]`).join(', ')});`).join('\n');
  }

  const code = /* wgsl */ `enable subgroups;
${preamble}
${activationFunctions(activation)}
const M = ${m}u;
const N = ${n}u;
const K = ${k}u;
const ROW_TILES = ${rowTiles}u;
const COL_TILES = ${colTiles}u;

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<${bVec ? 'vec4<f32>' : 'f32'}>;
${bias ? '@group(0) @binding(2) var<storage, read> bias: array<f32>;' : ''}
@group(0) @binding(${bias ? 3 : 2}) var<storage, read_write> c: array<f32>;

var<private> a_base: u32;
var<private> b_base: u32;
var<private> col: u32;

fn a_at(i: u32) -> f32 { return a[i / 4u][i % 4u]; }
fn b_at(i: u32) -> f32 { return b[${bVec ? 'i / 4u][i % 4u' : 'i'}]; }

@compute @workgroup_size(${S})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(subgroup_invocation_id) sid: u32) {
  let flat = flat_workgroup(wid, nwg);
  let tile = min(flat, ${workgroups - 1}u);
  let entry = tile / (ROW_TILES * COL_TILES);
  let row0 = (tile / COL_TILES) % ROW_TILES * ${R}u;
  col = ((tile % COL_TILES) * ${S}u + sid) * 4u;
  a_base = entry * M * K;
  b_base = ${broadcastB ? '0u' : 'entry * K * N'};
  // Out-of-range rows and columns read clamped, in-bounds data; their results are never stored.
  let col_v = min(col, max(N, 4u) - 4u);
${rows.map((r) => `  var acc${r} = vec4<f32>(0.0);`).join('\n')}
  var kk = 0u;
  for (; kk + 4u <= K; kk += 4u) {
${aLoads.join('\n')}
${bBlock}
${taps.map((t) => rows.map((r) => `    acc${r} += ${aValue(r, t)} * b${t};`).join('\n')).join('\n')}
  }
  for (; kk < K; kk++) {
    var bk = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) { bk[j] = b_at(${bIndex('kk', 'min(col + j, N - 1u)')}); }
${rows.map((r) => `    acc${r} += a_at(${aIndex(`min(row0 + ${r}u, M - 1u)`, 'kk')}) * bk;`).join('\n')}
  }
  if (col >= N || flat != tile) { return; }
  let c_base = entry * M * N;
${rows.map((r) => `  if (row0 + ${r}u < M) { store_row(c_base + (row0 + ${r}u) * N, acc${r}); }`).join('\n')}
}

fn store_row(base: u32, v: vec4<f32>) {
  for (var j = 0u; j < 4u; j++) {
    if (col + j < N) { c[base + col + j] = activate(v[j]${bias ? ' + bias[col + j]' : ''}); }
  }
}
`;
  return {
    name: `matmul_sg${transposeA ? '_ta' : ''}${transposeB ? '_tb' : ''}${bias ? '_bias' : ''}${activation === 'linear' ? '' : `_${activation}`}`,
    code,
    bindings: bias ? ['read', 'read', 'read', 'write'] : ['read', 'read', 'write'],
    workgroupSize: [S, 1, 1],
    dispatch: foldWorkgroups(workgroups, limits),
  };
}
