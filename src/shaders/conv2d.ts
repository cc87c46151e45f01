// 2-D convolution (NHWC input, HWIO filter) as implicit GEMM: forward with a fused bias and
// activation epilogue, backward-input, and backward-filter split across workgroups. Small
// filters (a first layer over a few channels) take sliding-window kernels instead.

import { activationFunctions, type Activation } from './activation.js';
import { foldWorkgroups, linearWorkgroupSize } from './grid.js';
import { defaultLimits, type Kernel, type KernelLimits } from './kernel.js';
import { preamble } from './preamble.js';
import { sumParts } from './reduce.js';
import { type Padding, windowAxis } from './window.js';

export interface Conv2dShape {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  filterHeight: number;
  filterWidth: number;
  outChannels: number;
  strides?: [number, number];
  padding?: Padding;
  /**
   * Register-tile height: rows of the implicit GEMM per workgroup (default 8, 16 on a
   * subgroup). For the small-filter kernels, the pixels of a forward run along a row and the
   * input rows of a backward-input band; their backward-filter ignores it.
   */
  tileRows?: number;
  limits?: KernelLimits;
}

export interface Conv2dGeometry {
  B: number; H: number; W: number; CI: number; KH: number; KW: number; CO: number;
  OH: number; OW: number; SH: number; SW: number; PT: number; PL: number;
}

/** Output shape [batch, outHeight, outWidth, outChannels] and padding, by TF.js's rules. */
export function conv2dGeometry(s: Conv2dShape): Conv2dGeometry {
  for (const [name, v] of Object.entries({
    batch: s.batch, inHeight: s.inHeight, inWidth: s.inWidth, inChannels: s.inChannels,
    filterHeight: s.filterHeight, filterWidth: s.filterWidth, outChannels: s.outChannels,
  })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`conv2d: ${name} must be a positive integer, got ${v}`);
  }
  const [SH, SW] = s.strides ?? [1, 1];
  const padding = s.padding ?? 'valid';
  const h = windowAxis(s.inHeight, s.filterHeight, SH, padding);
  const w = windowAxis(s.inWidth, s.filterWidth, SW, padding);
  return {
    B: s.batch, H: s.inHeight, W: s.inWidth, CI: s.inChannels, KH: s.filterHeight, KW: s.filterWidth,
    CO: s.outChannels, OH: h.out, OW: w.out, SH, SW, PT: h.padBefore, PL: w.padBefore,
  };
}

export function conv2dOutputShape(s: Conv2dShape): [number, number, number, number] {
  const g = conv2dGeometry(s);
  return [g.B, g.OH, g.OW, g.CO];
}

function constants(g: Conv2dGeometry): string {
  return Object.entries(g).map(([k, v]) => `const ${k} = ${v}u;`).join('\n');
}

interface GemmTile {
  /** Rows each invocation accumulates (a tile has R · parts rows). */
  R: number;
  lanes: number;
  rowTiles: number;
  colTiles: number;
  /** Lanes take separate row blocks instead of separate columns (there is one column group). */
  rowLanes: boolean;
  /**
   * The workgroup is one subgroup of this many lanes: the rows' operand is loaded once, spread
   * over the lanes, and handed to every lane by subgroupBroadcast or subgroupShuffle (see sharedRows).
   */
  subgroup?: number;
  /**
   * Lane groups that take the same columns for different rows (default 1): when a subgroup is
   * wider than the columns' vec4s, its lanes split the tile's rows, interleaved (see sharedRows).
   */
  parts?: number;
}

/**
 * Tiles of R rows × (lanes · 4) columns; lanes cover the columns, up to 32. With at most 4
 * columns (a few-channel image's backward-input at strides), spreading lanes over columns would leave one
 * lane in a workgroup, so most of each SIMD vector idle; the lanes then take R rows each.
 */
function tile(rows: number, cols: number, tileRows: number | undefined, limits: KernelLimits): GemmTile {
  const R = Math.max(1, Math.min(tileRows ?? 8, rows));
  if (cols <= 4) {
    const lanes = linearWorkgroupSize(limits, Math.min(32, Math.ceil(rows / R)));
    return { R, lanes, rowTiles: Math.ceil(rows / (R * lanes)), colTiles: 1, rowLanes: true };
  }
  const lanes = linearWorkgroupSize(limits, Math.min(32, Math.ceil(cols / 4)));
  return { R, lanes, rowTiles: Math.ceil(rows / R), colTiles: Math.ceil(cols / (4 * lanes)), rowLanes: false };
}

/**
 * Forward and backward-input tiles of R images of the batch at one pixel (rows ordered pixel,
 * then image): the tile's rows then share their window's position, so the taps that fall in
 * the padding are skipped by loop bounds computed once, instead of being loaded, tested and
 * multiplied by zero per row (a 5x5 'same' window over a 4x4 image is half padding). Needs a
 * batch that fills the tile, lanes over at least one vec4 of columns, and a contraction over
 * whole vec4s of channels: with fewer channels per tap, the loops with bounds known only at
 * run time cost more than the padding taps (the fixed 5x5 loops unroll into straight code).
 * Undefined otherwise. On a subgroup the tile is 16 images tall, since its loads are shared.
 */
function batchTile(B: number, pixels: number, cols: number, inner: number, tileRows: number | undefined, limits: KernelLimits): (GemmTile & { bSpan: number }) | undefined {
  const subgroup = limits.subgroupSize !== undefined && limits.subgroupSize >= 4 ? limits.subgroupSize : undefined;
  const R = Math.max(1, tileRows ?? (subgroup ? 16 : 8));
  if (cols <= 4 || B < R || inner % 4 !== 0) return undefined;
  const lanes = subgroup ?? linearWorkgroupSize(limits, Math.min(32, Math.ceil(cols / 4)));
  // Lanes beyond the columns' vec4s take more rows instead: a power of two of parts, within the batch.
  let parts = 1;
  while (subgroup && Math.ceil(cols / 4) * parts * 2 <= subgroup && R * parts * 2 <= B) parts *= 2;
  const span = R * parts; // rows of a tile
  const bSpan = Math.ceil(B / span) * span; // rows per pixel, padded so no tile spans two pixels
  return { R, lanes, rowTiles: pixels * bSpan / span, colTiles: Math.ceil(cols / (4 * lanes / parts)), rowLanes: false, bSpan, subgroup, parts };
}

/**
 * The head and row decoding of a batch tile: its rows are images b_first.. of the batch at one
 * pixel `pix`; row r is image `b{r}`, whose operand starts at `${base}{r}` (`imageSize` elements
 * an image); on a subgroup, also the offsets of the images this lane loads (sharedRowOffsets).
 */
function batchRows(t: GemmTile & { bSpan: number }, pixel: 'input' | 'output', shared: string, base: string, imageSize: string): { head: string; rowsBody: (r: number) => string } {
  return {
    head: `  // Rows are images b_first.. of the batch at ${pixel} pixel pix.
  let pix = first_row / ${t.bSpan}u;
  let b_first = first_row % ${t.bSpan}u;
${sharedRowOffsets(t, shared, imageSize)}`,
    rowsBody: (r) => `  let b${r} = min(b_first + ${(t.parts ?? 1) * r}u + part, B - 1u);
  let ${base}${r} = b${r} * ${imageSize};`,
  };
}

/**
 * For a subgroup tile whose rows are images b_first.. of the batch: `${name}s{q}`, the offset
 * of image b_first + q·S + lane (times `imageSize`), for the chunks q this lane loads.
 */
function sharedRowOffsets(t: GemmTile, name: string, imageSize: string): string {
  const S = t.subgroup ?? 1;
  return list(Math.ceil(t.R * (t.parts ?? 1) / S)).map((q) => `  let ${name}s${q} = min(b_first + ${q * S}u + lane, B - 1u) * ${imageSize};`).join('\n');
}

/**
 * Row r's vec4 of the shared operand, `name{r}`: each lane loads its chunks `${name}q{q}` from
 * `${name}s{q} + offset`, and tile row g comes from lane g % S of chunk ⌊g / S⌋, by broadcast
 * or, when lanes split the rows into P parts, by shuffle: this lane's row r is tile row
 * g = P·r + part, in the same chunk for every part as P divides S. On CPU drivers a per-lane
 * load is a scalar loop over the lanes, a broadcast or shuffle a register permute.
 */
function sharedRows(t: GemmTile, name: string, buffer: string, offset: string): string {
  const S = t.subgroup ?? 1;
  const P = t.parts ?? 1;
  return [
    ...list(Math.ceil(t.R * P / S)).map((q) => `        let ${name}q${q} = ${buffer}[(${name}s${q} + ${offset}) / 4u];`),
    ...list(t.R).map((r) => P === 1
      ? `        let ${name}${r} = subgroupBroadcast(${name}q${Math.floor(r / S)}, ${r % S}u);`
      : `        let ${name}${r} = subgroupShuffle(${name}q${Math.floor(P * r / S)}, ${(P * r) % S}u + part);`),
  ].join('\n');
}

/** The module's first line when the tile uses subgroup operations. */
function enables(t: GemmTile): string {
  return t.subgroup ? 'enable subgroups;\n' : '';
}

const list = (n: number) => Array.from({ length: n }, (_, i) => i);

/** WGSL `fn name(base) -> vec4<f32>`: `buffer` at base + col..col+3, output channels past CO reading 0. */
function loadColumns(name: string, buffer: string, vec: boolean): string {
  return `fn ${name}(base: u32) -> vec4<f32> {
${vec ? `  return ${buffer}[(base + min(col, CO - 4u)) / 4u];` : `  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (col + j < CO) { v[j] = ${buffer}[base + col + j]; } }
  return v;`}
}`;
}

/**
 * WGSL `fn store_row(base, v)`: the columns col..col+3 below `limit` of v (through the
 * activation when `activate`) into `buffer` at base; one vec4 store when the rows are whole
 * vec4s (`vec`: `buffer` is then an array of vec4s), which is one per-lane loop on CPU drivers
 * instead of four, and less code to compile.
 */
function storeRow(buffer: string, limit: string, vec: boolean, activate = false): string {
  return `fn store_row(base: u32, v: vec4<f32>) {
${vec ? `  ${buffer}[(base + col) / 4u] = ${activate ? 'activate4(v)' : 'v'};` : `  for (var j = 0u; j < 4u; j++) {
    if (col + j < ${limit}) { ${buffer}[base + col + j] = ${activate ? 'activate(v[j])' : 'v[j]'}; }
  }`}
}`;
}

/**
 * The register tile shared by the three passes: `acc0..acc{R-1}` (vec4 each) for rows
 * first_row + r and the 4 columns col..col+3 of this invocation; `rows_body` decodes row r into
 * whatever the contraction needs, `contraction` adds into the accumulators.
 */
function gemmMain(t: GemmTile, extraTiles: number, rowsTotal: number, rowsBody: (r: number) => string, contraction: string, store: string, head = ''): string {
  return /* wgsl */ `
@compute @workgroup_size(${t.lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(${t.subgroup ? 'subgroup_invocation_id' : 'local_invocation_index'}) lane: u32) {
  let tile = flat_workgroup(wid, nwg);
  if (tile >= ${t.rowTiles * t.colTiles * extraTiles}u) { return; }
  let split = tile / ${t.rowTiles * t.colTiles}u;
${t.rowLanes ? `  let first_row = (tile % ${t.rowTiles}u * ${t.lanes}u + lane) * ${t.R}u;
  let col = 0u;` : `  let first_row = (tile / ${t.colTiles}u) % ${t.rowTiles}u * ${t.R * (t.parts ?? 1)}u;
  let part = lane / ${t.lanes / (t.parts ?? 1)}u;
  let col = ((tile % ${t.colTiles}u) * ${t.lanes / (t.parts ?? 1)}u + lane % ${t.lanes / (t.parts ?? 1)}u) * 4u;`}
${head}
${list(t.R).map((r) => `  let row${r} = min(first_row + ${r}u, ${rowsTotal - 1}u);\n${rowsBody(r)}`).join('\n')}
${list(t.R).map((r) => `  var acc${r} = vec4<f32>(0.0);`).join('\n')}
${contraction}
${store}
}`;
}

/**
 * Whether a filter takes the sliding-window kernels (forwardSlide, filterSlide,
 * backwardInputSlide): a first layer over at most 4 channels whose filter fits in the shader's
 * code, a line per filter vec4 and a variable per window value (conv1 of the seed CNN: 100
 * vec4s, 25 values; 3x3 RGB into 32 channels: 216, 27). Compile time grows faster than the
 * code: 250 vec4s take 3.5 s on lavapipe, a window of 128 values 14 s.
 */
function slideFits(g: Conv2dGeometry): boolean {
  return g.CI <= 4 && g.KH * g.KW * g.CI * Math.ceil(g.CO / 4) <= 256 && g.KH * g.KW * g.CI <= 100;
}

/** Lanes of a sliding-window kernel's workgroup: one subgroup where the device has one size. */
function slideLanes(limits: KernelLimits): number {
  return linearWorkgroupSize(limits, limits.subgroupSize ?? 64);
}

/** The small filter as WGSL values read at constant offsets: `name(kh, kw, ci, c)` holds output channels 4c..4c+3 (0 past CO). */
function filterValues(g: Conv2dGeometry): { name: (kh: number, kw: number, ci: number, c: number) => string; loads: string } {
  const name = (kh: number, kw: number, ci: number, c: number) => `f${kh}_${kw}_${ci}_${c}`;
  const loads = filterTaps(g).flatMap(([kh, kw, ci]) => list(Math.ceil(g.CO / 4)).map((c) => {
    const at = ((kh * g.KW + kw) * g.CI + ci) * g.CO + 4 * c;
    return `  let ${name(kh, kw, ci, c)} = ${channelVec4(g, c, (j) => `f[${at + j}u]`)};`;
  }));
  return { name, loads: loads.join('\n') };
}

/** Every (kh, kw, ci) of the filter, in its order. */
const filterTaps = (g: Conv2dGeometry) => list(g.KH).flatMap((kh) => list(g.KW).flatMap((kw) => list(g.CI).map((ci) => [kh, kw, ci] as const)));

/**
 * The input window of one output row that the sliding-window kernels move along it:
 * `value(kh, kw, ci)` names a window variable; `rows(boh)` decodes output row boh = b·OH + oh
 * into the input rows of the filter rows; `prefill(ow0)` declares the window of pixel ow0 − 1
 * (the columns a step keeps); `step(ow)` moves it to pixel ow, loading the columns that enter
 * it (one per filter row and channel at unit stride). Needs the module's `loadX`.
 */
function slideWindow(g: Conv2dGeometry) {
  const KH = list(g.KH);
  const KW = list(g.KW);
  const CI = list(g.CI);
  const kept = Math.max(g.KW - g.SW, 0);
  const value = (kh: number, kw: number, ci: number) => `x${kh}_${kw}_${ci}`;
  const load = (kh: number, kw: number, ci: number, ow: string) => `load_x(xr${kh}, ${ow} * ${g.SW} + ${kw - g.PL}, ${ci}u, rok${kh})`;
  return {
    value,
    taps: filterTaps(g),
    rows: (boh: string, indent: string) => KH.map((kh) => `${indent}let iy${kh} = i32(${boh} % OH * SH) + ${kh - g.PT};
${indent}let rok${kh} = iy${kh} >= 0 && iy${kh} < i32(H);
${indent}let xr${kh} = (${boh} / OH * H + u32(clamp(iy${kh}, 0, i32(H) - 1))) * W;`).join('\n'),
    prefill: (ow0: string, indent: string) => KH.flatMap((kh) => KW.flatMap((kw) => CI.map((ci) =>
      `${indent}var ${value(kh, kw, ci)} = ${kw >= g.SW ? load(kh, kw, ci, `(i32(${ow0}) - 1)`) : '0.0'};`))).join('\n'),
    step: (ow: string, indent: string) => KH.flatMap((kh) => [
      ...list(kept).flatMap((kw) => CI.map((ci) => `${indent}${value(kh, kw, ci)} = ${value(kh, kw + g.SW, ci)};`)),
      ...KW.slice(kept).flatMap((kw) => CI.map((ci) => `${indent}${value(kh, kw, ci)} = ${load(kh, kw, ci, `i32(${ow})`)};`)),
    ]).join('\n'),
  };
}

/** WGSL `load_x` of the sliding-window kernels: channel ci of input pixel ix of a row, 0 outside the image (or when the row is). */
const loadX = /* wgsl */ `fn load_x(row: u32, ix: i32, ci: u32, row_ok: bool) -> f32 {
  let ok = row_ok && ix >= 0 && ix < i32(W);
  return select(0.0, x[select(0u, (row + u32(ix)) * CI + ci, ok)], ok);
}`;

/**
 * WGSL `load_dy` of the sliding-window backward passes: output channels 4·group.. of output
 * pixel ox of a row (flat pixel index `row`), 0 past CO or outside the output.
 */
const loadDy = (vec: boolean) => /* wgsl */ `fn load_dy(row: u32, ox: i32, group: u32, row_ok: bool) -> vec4<f32> {
  let ok = row_ok && ox >= 0 && ox < i32(OW);
  let pixel = row + u32(select(0, ox, ok));
${vec ? '  return select(vec4<f32>(0.0), dy[pixel * CO / 4u + group], ok);' : `  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (ok && group * 4u + j < CO) { v[j] = dy[pixel * CO + group * 4u + j]; } }
  return v;`}
}`;

/** `vec4<f32>(...)` of the 4 values `at(j)` for output channels 4c + j, 0 past CO. */
const channelVec4 = (g: Conv2dGeometry, c: number, at: (j: number) => string) =>
  `vec4<f32>(${[0, 1, 2, 3].map((j) => (4 * c + j < g.CO ? at(j) : '0.0')).join(', ')})`;

/**
 * Forward of a small filter (slideFits). Each lane takes a run of output pixels along one
 * row, all output channels, and slides its window along the run: a step loads the input
 * columns that enter the window and multiplies the whole window by the whole filter.
 *
 * The filter is read once, at the top, at constant offsets: every lane reads the same address,
 * which CPU drivers load once and broadcast, where a load at a computed offset is a loop over
 * the lanes. So the filter costs nothing per pixel, and a step's loads are KH·CI (at unit
 * stride) for KH·KW·CI·CO multiply-adds.
 */
function forwardSlide(g: Conv2dGeometry, tileRows: number | undefined, bias: boolean, activation: Activation, limits: KernelLimits): Kernel {
  const groups = Math.ceil(g.CO / 4);
  const vecY = g.CO % 4 === 0;
  // Whole rows, or shorter runs when the rows are too few to give the device ~64 lanes.
  const length = tileRows ? Math.min(tileRows, g.OW) : Math.ceil(g.OW / Math.min(g.OW, Math.ceil(64 / (g.B * g.OH))));
  const perRow = Math.ceil(g.OW / length);
  const runs = g.B * g.OH * perRow;
  const lanes = slideLanes(limits);
  const w = slideWindow(g);
  const C = list(groups);
  const filter = filterValues(g);
  const biasLoads = bias ? C.map((c) => `  let bias${c} = ${channelVec4(g, c, (j) => `bias[${4 * c + j}u]`)};`) : [];
  const store = (c: number) => vecY
    ? `      y[yo + ${c}u] = a;`
    : [0, 1, 2, 3].filter((j) => 4 * c + j < g.CO).map((j) => `      y[yo + ${4 * c + j}u] = a[${j}];`).join('\n');
  const code = /* wgsl */ `${preamble}
${activationFunctions(activation)}
${constants(g)}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> f: array<f32>;
${bias ? '@group(0) @binding(2) var<storage, read> bias: array<f32>;' : ''}
@group(0) @binding(${bias ? 3 : 2}) var<storage, read_write> y: array<${vecY ? 'vec4<f32>' : 'f32'}>;

${loadX}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
${filter.loads}
${biasLoads.join('\n')}
  let slot = flat_workgroup(wid, nwg) * ${lanes}u + lane;
  // This lane's pixels: ow0.. of output row boh = b·OH + oh.
  let run = min(slot, ${runs - 1}u);
  let ow0 = run % ${perRow}u * ${length}u;
  let boh = run / ${perRow}u;
${w.rows('boh', '  ')}
${w.prefill('ow0', '  ')}
  let ow_end = select(min(ow0 + ${length}u, OW), ow0, slot >= ${runs}u);
  for (var ow = ow0; ow < ow_end; ow++) {
${w.step('ow', '    ')}
    let yo = (boh * OW + ow) * ${vecY ? groups : g.CO}u;
${C.map((c) => `    {
      var a = ${bias ? `bias${c}` : 'vec4<f32>(0.0)'};
${w.taps.map(([kh, kw, ci]) => `      a = fma(vec4<f32>(${w.value(kh, kw, ci)}), ${filter.name(kh, kw, ci, c)}, a);`).join('\n')}
      a = activate4(a);
${store(c)}
    }`).join('\n')}
  }
}
`;
  return {
    name: `conv2d${bias ? '_bias' : ''}${activation === 'linear' ? '' : `_${activation}`}`,
    code,
    bindings: bias ? ['read', 'read', 'read', 'write'] : ['read', 'read', 'write'],
    workgroupSize: [lanes, 1, 1],
    dispatch: foldWorkgroups(Math.ceil(runs / lanes), limits),
  };
}

/** y = activation(conv2d(x, filter) + bias). Bindings: x, filter, (bias), y. */
export function conv2dForward(s: Conv2dShape & { bias?: boolean; activation?: Activation }): Kernel {
  const g = conv2dGeometry(s);
  const { bias = false, activation = 'linear', limits = defaultLimits } = s;
  const rows = g.B * g.OH * g.OW;
  const bt = batchTile(g.B, g.OH * g.OW, g.CO, g.CI, s.tileRows, limits);
  if (!bt && slideFits(g)) return forwardSlide(g, s.tileRows, bias, activation, limits);
  const t = bt ?? tile(rows, g.CO, s.tileRows, limits);
  const vecF = g.CO % 4 === 0; // filter rows over output channels are whole vec4s
  const vecX = g.CI % 4 === 0; // input pixels' channels are whole vec4s
  const R = list(t.R);
  const taps = vecX ? [0, 1, 2, 3] : [0];
  // The bias is loaded once, after the contraction, and added to each row before its store.
  const biasValues = bias ? '  let bias_v = load_bias(0u);' : '';
  const plusBias = bias ? ' + bias_v' : '';
  // Sums input channels at input offsets xo{r} + ci (0 where ok{r} is false) into the tile.
  const channels = (ok: boolean) => `      let fo = (kh * KW + kw) * CI * CO;
      for (var ci = 0u; ci < CI; ci += ${taps.length}u) {
${taps.map((q) => `        let f${q} = load_f(fo + (ci + ${q}u) * CO);`).join('\n')}
${t.subgroup ? sharedRows(t, 'xv', 'x', 'po + ci') : R.map((r) => {
    const load = vecX ? `x[(xo${r} + ci) / 4u]` : `vec4<f32>(x[xo${r} + ci])`;
    return `        let xv${r} = ${ok ? `select(vec4<f32>(0.0), ${load}, ok${r})` : load};`;
  }).join('\n')}
${taps.map((q) => R.map((r) => `        acc${r} = fma(vec4<f32>(xv${r}[${q}]), f${q}, acc${r});`).join('\n')).join('\n')}
      }`;
  let head = '';
  let rowsBody: (r: number) => string;
  let contraction: string;
  let store: string;
  if (bt) {
    ({ head, rowsBody } = batchRows(bt, 'output', 'xv', 'xb', 'H * W * CI'));
    contraction = /* wgsl */ `
  let ih0 = i32((pix / OW) * SH) - i32(PT);
  let iw0 = i32((pix % OW) * SW) - i32(PL);
  // Taps (kh, kw) whose input pixel (ih0 + kh, iw0 + kw) lies inside the image.
  let kh_end = u32(clamp(i32(H) - ih0, 0, i32(KH)));
  let kw_begin = u32(max(-iw0, 0));
  let kw_end = u32(clamp(i32(W) - iw0, 0, i32(KW)));
  for (var kh = u32(max(-ih0, 0)); kh < kh_end; kh++) {
    for (var kw = kw_begin; kw < kw_end; kw++) {
      let po = (u32(ih0 + i32(kh)) * W + u32(iw0 + i32(kw))) * CI;
${R.map((r) => `      let xo${r} = xb${r} + po;`).join('\n')}
${channels(false)}
    }
  }`;
    store = `  if (col >= CO) { return; }
${biasValues}
${R.map((r) => `  if (b_first + ${(t.parts ?? 1) * r}u + part < B) { store_row((b${r} * OH * OW + pix) * CO, acc${r}${plusBias}); }`).join('\n')}`;
  } else {
    rowsBody = (r) => `  let ow${r} = row${r} % OW;
  let oh${r} = (row${r} / OW) % OH;
  let ih${r} = i32(oh${r} * SH) - i32(PT);
  let iw${r} = i32(ow${r} * SW) - i32(PL);
  let xb${r} = (row${r} / (OW * OH)) * H * W * CI;`;
    contraction = /* wgsl */ `
  for (var kh = 0u; kh < KH; kh++) {
    for (var kw = 0u; kw < KW; kw++) {
${R.map((r) => `      let y${r} = ih${r} + i32(kh);
      let x${r} = iw${r} + i32(kw);
      let ok${r} = y${r} >= 0 && y${r} < i32(H) && x${r} >= 0 && x${r} < i32(W);
      let xo${r} = select(0u, xb${r} + (u32(y${r}) * W + u32(x${r})) * CI, ok${r});`).join('\n')}
${channels(true)}
    }
  }`;
    store = `  if (col >= CO) { return; }
${biasValues}
${R.map((r) => `  if (first_row + ${r}u < ${rows}u) { store_row(row${r} * CO, acc${r}${plusBias}); }`).join('\n')}`;
  }
  const code = /* wgsl */ `${enables(t)}${preamble}
${activationFunctions(activation)}
${constants(g)}
@group(0) @binding(0) var<storage, read> x: array<${vecX ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> f: array<${vecF ? 'vec4<f32>' : 'f32'}>;
${bias ? '@group(0) @binding(2) var<storage, read> bias: array<f32>;' : ''}
@group(0) @binding(${bias ? 3 : 2}) var<storage, read_write> y: array<${vecF ? 'vec4<f32>' : 'f32'}>;
var<private> col: u32;

// Filter values for output channels col..col+3 at flat offset base.
${loadColumns('load_f', 'f', vecF)}
${bias ? `// The bias of output channels col..col+3.\n${loadColumns('load_bias', 'bias', false)}` : ''}

${storeRow('y', 'CO', vecF, true)}
${gemmMain(t, 1, bt ? t.rowTiles * t.R * (t.parts ?? 1) : rows, rowsBody, contraction, store, head).replace('let col = ', 'col = ')}
`;
  return {
    name: `conv2d${bias ? '_bias' : ''}${activation === 'linear' ? '' : `_${activation}`}`,
    code,
    bindings: bias ? ['read', 'read', 'read', 'write'] : ['read', 'read', 'write'],
    workgroupSize: [t.lanes, 1, 1],
    dispatch: foldWorkgroups(t.rowTiles * t.colTiles, limits),
  };
}

/**
 * Backward-input of a small filter (slideFits) at unit strides. A lane takes a band of Q input
 * rows of one image and walks along them: step s loads dy column s + PL of the Q + KH − 1
 * output rows that reach the band, and adds each dy pixel, dotted with the filter taps over
 * its output channels, into the input pixels s..s + KW − 1 it reaches. Pixel s then has all
 * of its terms: it is stored, and the window of partial sums moves on by one.
 *
 * As in forwardSlide, the filter is read once at constant offsets (one load for all lanes on
 * CPU drivers), and a dy pixel, loaded once a band, feeds up to KH·KW taps.
 */
function backwardInputSlide(g: Conv2dGeometry, tileRows: number | undefined, limits: KernelLimits): Kernel {
  const groups = Math.ceil(g.CO / 4);
  // Bands of at most 8 rows and 40 partial sums, low enough for ~64 bands in all; split evenly.
  const most = Math.max(1, Math.min(8, Math.floor(40 / (g.KW * g.CI)), Math.ceil(g.H / Math.ceil(64 / g.B))));
  const Q = Math.max(1, Math.min(tileRows ?? Math.ceil(g.H / Math.ceil(g.H / most)), g.H));
  const perImage = Math.ceil(g.H / Q);
  const bands = g.B * perImage;
  const lanes = slideLanes(limits);
  const dyRows = list(Q + g.KH - 1); // output rows oy0 + j reaching the band
  const bandRows = list(Q);
  const KW = list(g.KW);
  const CI = list(g.CI);
  const C = list(groups);
  const filter = filterValues(g);
  // acc{q}_{kw}_{ci}: channel ci of input pixel s + kw of band row q.
  const acc = (q: number, kw: number, ci: number) => `acc${q}_${kw}_${ci}`;
  // Tap-major, so a tap's filter values stay in registers across the band's rows.
  const terms = filterTaps(g).flatMap(([kh, kw, ci]) => bandRows.map((q) => {
    const j = q + g.KH - 1 - kh; // band row q reads output row oy0 + j through filter row kh
    return `    ${acc(q, kw, ci)} += ${C.map((c) => `dot(d${j}_${c}, ${filter.name(kh, kw, ci, c)})`).join(' + ')};`;
  }));
  const code = /* wgsl */ `${preamble}
${constants(g)}
@group(0) @binding(0) var<storage, read> dy: array<${g.CO % 4 === 0 ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> f: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

${loadDy(g.CO % 4 === 0)}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
${filter.loads}
  let slot = flat_workgroup(wid, nwg) * ${lanes}u + lane;
  // This lane's band: input rows ih0.. of image b, reached by output rows oy0.. (oy = ih + PT − kh).
  let band = min(slot, ${bands - 1}u);
  let b = band / ${perImage}u;
  let ih0 = band % ${perImage}u * ${Q}u;
  let oy0 = i32(ih0 + PT) - ${g.KH - 1};
${dyRows.map((j) => `  let rok${j} = oy0 + ${j} >= 0 && oy0 + ${j} < i32(OH);
  let row${j} = (b * OH + u32(clamp(oy0 + ${j}, 0, i32(OH) - 1))) * OW;`).join('\n')}
${bandRows.flatMap((q) => KW.flatMap((kw) => CI.map((ci) => `  var ${acc(q, kw, ci)} = 0.0;`))).join('\n')}
  // Steps s < 0 only gather the terms of the first pixels.
  let s_end = select(i32(W), ${-(g.KW - 1)}, slot >= ${bands}u);
  for (var s = ${-(g.KW - 1)}; s < s_end; s++) {
${dyRows.flatMap((j) => C.map((c) => `    let d${j}_${c} = load_dy(row${j}, s + ${g.PL}, ${c}u, rok${j});`)).join('\n')}
${terms.join('\n')}
    if (s >= 0) {
${bandRows.flatMap((q) => CI.map((ci) => `      if (ih0 + ${q}u < H) { dx[((b * H + ih0 + ${q}u) * W + u32(s)) * CI + ${ci}u] = ${acc(q, 0, ci)}; }`)).join('\n')}
    }
${bandRows.flatMap((q) => KW.flatMap((kw) => CI.map((ci) => `    ${acc(q, kw, ci)} = ${kw + 1 < g.KW ? acc(q, kw + 1, ci) : '0.0'};`))).join('\n')}
  }
}
`;
  return {
    name: 'conv2d_backward_input',
    code,
    bindings: ['read', 'read', 'write'],
    workgroupSize: [lanes, 1, 1],
    dispatch: foldWorkgroups(Math.ceil(bands / lanes), limits),
  };
}

/**
 * dx = the gradient of Σ dy·conv2d(x, filter) with respect to x: each input pixel gathers dy
 * from the output pixels whose windows cover it, through the filter. Bindings: dy, filter, dx.
 */
export function conv2dBackwardInput(s: Conv2dShape): Kernel {
  const g = conv2dGeometry(s);
  const limits = s.limits ?? defaultLimits;
  const rows = g.B * g.H * g.W;
  const vecO = g.CO % 4 === 0; // dy pixels and filter rows over output channels are whole vec4s
  const unitStride = g.SH === 1 && g.SW === 1; // no divisibility tests (integer division is slow on CPU drivers)
  const bt = batchTile(g.B, g.H * g.W, g.CI, g.CO, s.tileRows, limits);
  if (!bt && unitStride && slideFits(g)) return backwardInputSlide(g, s.tileRows, limits);
  const t = bt ?? tile(rows, g.CI, s.tileRows, limits);
  const R = list(t.R);
  const taps = vecO ? [0, 1, 2, 3] : [0];
  // Sums output channels at dy offsets dyo{r} + co (0 where ok{r} is false) into the tile.
  // c{j}: the filter's output channels co..co+3 for input channel col + j. Lanes split into
  // parts share their columns, so each part loads 4 / P of the four and takes the rest from the
  // lane with the same columns in the other parts.
  const P = t.parts ?? 1;
  const filterColumns = () => {
    const column = (j: string) => `f[(fo + min(col + ${j}, CI - 1u) * CO + co) / 4u]`;
    if (P === 1 || P > 4) return [0, 1, 2, 3].map((j) => `        let c${j} = ${column(`${j}u`)};`).join('\n');
    const own = 4 / P;
    const laneOf = t.lanes / P;
    return [
      ...list(own).map((m) => `        let cl${m} = ${column(`part * ${own}u + ${m}u`)};`),
      ...[0, 1, 2, 3].map((j) => `        let c${j} = subgroupShuffle(cl${j % own}, ${Math.floor(j / own) * laneOf}u + lane % ${laneOf}u);`),
    ].join('\n');
  };
  const channels = (ok: boolean) => `      let fo = (kh * KW + kw) * CI * CO;
      for (var co = 0u; co < CO; co += ${taps.length}u) {
${vecO
    ? `${filterColumns()}
${taps.map((q) => `        let f${q} = vec4<f32>(c0[${q}], c1[${q}], c2[${q}], c3[${q}]);`).join('\n')}
${t.subgroup ? sharedRows(t, 'd', 'dy', 'po + co') : R.map((r) => `        let d${r} = ${ok ? `select(vec4<f32>(0.0), dy[(dyo${r} + co) / 4u], ok${r})` : `dy[(dyo${r} + co) / 4u]`};`).join('\n')}`
    : `        let f0 = load_ft(fo + co);
${R.map((r) => `        let d${r} = vec4<f32>(${ok ? `select(0.0, dy[dyo${r} + co], ok${r})` : `dy[dyo${r} + co]`});`).join('\n')}`}
${taps.map((q) => R.map((r) => `        acc${r} = fma(vec4<f32>(d${r}[${q}]), f${q}, acc${r});`).join('\n')).join('\n')}
      }`;
  let head = '';
  let rowsBody: (r: number) => string;
  let contraction: string;
  let store: string;
  if (bt) {
    ({ head, rowsBody } = batchRows(bt, 'input', 'd', 'ob', 'OH * OW * CO'));
    // Output pixel oy reads input row ih through tap kh when oy·SH + kh = ih + PT with
    // 0 ≤ oy < OH: kh runs over [max(0, ny − (OH−1)·SH), min(KH − 1, ny)] in steps of SH,
    // from the first one congruent to ny; likewise kw. The bounds are shared by the tile.
    contraction = /* wgsl */ `
  let ny = i32(pix / W + PT);
  let nx = i32(pix % W + PL);
  let kh_low = max(0, ny - i32((OH - 1u) * SH));
  let kw_low = max(0, nx - i32((OW - 1u) * SW));
  let kh_end = min(i32(KH) - 1, ny) + 1;
  let kw_begin = kw_low + (nx - kw_low) % i32(SW);
  let kw_end = min(i32(KW) - 1, nx) + 1;
  for (var kh_i = kh_low + (ny - kh_low) % i32(SH); kh_i < kh_end; kh_i += i32(SH)) {
    let kh = u32(kh_i);
    let dy_row = u32(ny - kh_i) / SH * OW;
    for (var kw_i = kw_begin; kw_i < kw_end; kw_i += i32(SW)) {
      let kw = u32(kw_i);
      let po = (dy_row + u32(nx - kw_i) / SW) * CO;
${R.map((r) => `      let dyo${r} = ob${r} + po;`).join('\n')}
${channels(false)}
    }
  }`;
    store = `  if (col >= CI) { return; }
${R.map((r) => `  if (b_first + ${(t.parts ?? 1) * r}u + part < B) { store_row((b${r} * H * W + pix) * CI, acc${r}); }`).join('\n')}`;
  } else {
    rowsBody = (r) => `  let iw${r} = row${r} % W;
  let ih${r} = (row${r} / W) % H;
  let ob${r} = (row${r} / (W * H)) * OH * OW * CO;`;
    contraction = /* wgsl */ `
  for (var kh = 0u; kh < KH; kh++) {
    for (var kw = 0u; kw < KW; kw++) {
${R.map((r) => `      // Output pixel (oy, ox) reads this input pixel through tap (kh, kw) when oy·SH − PT + kh = ih.
      let ny${r} = i32(ih${r} + PT) - i32(kh);
      let nx${r} = i32(iw${r} + PL) - i32(kw);
${unitStride ? `      let oy${r} = ny${r};
      let ox${r} = nx${r};
      let ok${r} = ny${r} >= 0 && nx${r} >= 0 && oy${r} < i32(OH) && ox${r} < i32(OW);` : `      let oy${r} = ny${r} / i32(SH);
      let ox${r} = nx${r} / i32(SW);
      let ok${r} = ny${r} >= 0 && nx${r} >= 0 && ny${r} % i32(SH) == 0 && nx${r} % i32(SW) == 0 && oy${r} < i32(OH) && ox${r} < i32(OW);`}
      let dyo${r} = select(0u, ob${r} + (u32(oy${r}) * OW + u32(ox${r})) * CO, ok${r});`).join('\n')}
${channels(true)}
    }
  }`;
    store = `  if (col >= CI) { return; }
${R.map((r) => `  if (first_row + ${r}u < ${rows}u) { store_row(row${r} * CI, acc${r}); }`).join('\n')}`;
  }
  const code = /* wgsl */ `${enables(t)}${preamble}
${constants(g)}
@group(0) @binding(0) var<storage, read> dy: array<${vecO ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> f: array<${vecO ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read_write> dx: array<${g.CI % 4 === 0 ? 'vec4<f32>' : 'f32'}>;
var<private> col: u32;

${vecO ? '' : `// filter[.., ci, co] for input channels ci = col..col+3 at one output channel; past CI reads 0.
fn load_ft(base: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (col + j < CI) { v[j] = f[base + (col + j) * CO]; } }
  return v;
}`}

${storeRow('dx', 'CI', g.CI % 4 === 0)}
${gemmMain(t, 1, bt ? t.rowTiles * t.R * (t.parts ?? 1) : rows, rowsBody, contraction, store, head).replace('let col = ', 'col = ')}
`;
  return {
    name: 'conv2d_backward_input',
    code,
    bindings: ['read', 'read', 'write'],
    workgroupSize: [t.lanes, 1, 1],
    dispatch: foldWorkgroups(t.rowTiles * t.colTiles, limits),
  };
}

/** How many parts the backward-filter reduction over the batch is split into. */
function filterSplits(g: Conv2dGeometry, t: GemmTile): number {
  // Enough workgroups to keep every core busy, but each still sums at least one image.
  return Math.max(1, Math.min(g.B, Math.ceil(256 / (t.rowTiles * t.colTiles))));
}

/**
 * Backward-filter rows are (kh, kw, ci). When the channels come in whole vec4s, a tile takes
 * R consecutive channels of one tap (R divides CI), so the tile shares one input pixel per
 * output pixel: one address, R/4 vec4 loads, and loop bounds instead of per-row bounds tests.
 */
function filterRows(g: Conv2dGeometry, tileRows: number | undefined, subgroup: number): number | undefined {
  if (g.CI % 4 !== 0) return tileRows;
  if (tileRows !== undefined && tileRows % 4 === 0 && g.CI % tileRows === 0) return tileRows;
  // Taller tiles when a subgroup's lanes share the loads (at most one vec4 per lane): 32 rows on lavapipe.
  const most = subgroup >= 8 ? 32 : 16;
  return [32, 16, 8, 4].find((r) => r <= most && g.CI % r === 0);
}

function filterTile(s: Conv2dShape): { g: Conv2dGeometry; t: GemmTile; splits: number } {
  const g = conv2dGeometry(s);
  const limits = s.limits ?? defaultLimits;
  const rows = g.KH * g.KW * g.CI;
  const S = limits.subgroupSize ?? 0;
  // With subgroups, the channel-blocked tile's R/4 input vec4s per pixel are loaded one per lane
  // and broadcast. With fewer channels than the tile's rows (at most 32, one vec4 a lane), the
  // tile spans several taps (multiTap).
  const tall = Math.min(4 * S, 32);
  const R = S >= 4 && g.CI % 4 === 0 && g.CI < tall && tall % g.CI === 0 && s.tileRows === undefined ? tall : filterRows(g, s.tileRows, S);
  const t: GemmTile = S >= 4 && R !== undefined && g.CI % 4 === 0 && R % 4 === 0 && R / 4 <= S
    ? { R, lanes: S, rowTiles: Math.ceil(rows / R), colTiles: Math.ceil(g.CO / (4 * S)), rowLanes: false, subgroup: S }
    : tile(rows, g.CO, R, limits);
  return { g, t, splits: filterSplits(g, t) };
}

/**
 * How filterSlide splits a small filter's gradient (slideFits, at most 50 accumulated vec4s a
 * lane): a lane sums the window ⊗ dy products of `perLane` channel vec4s over `perChunk`
 * output rows; a chunk of rows takes `slices` lanes, one per slice of the channel vec4s; the
 * `chunks` (~256 lanes in all) give the partial sums sumParts adds up.
 */
interface SlideSplit {
  perLane: number;
  slices: number;
  perChunk: number;
  chunks: number;
}

function filterSlideSplit(g: Conv2dGeometry): SlideSplit | undefined {
  const taps = g.KH * g.KW * g.CI;
  if (!slideFits(g) || taps > 50) return undefined;
  const groups = Math.ceil(g.CO / 4);
  const perLane = Math.min(groups, Math.floor(50 / taps));
  const slices = Math.ceil(groups / perLane);
  const rows = g.B * g.OH;
  const perChunk = Math.ceil(rows / Math.min(rows, Math.ceil(256 / slices)));
  return { perLane, slices, perChunk, chunks: Math.ceil(rows / perChunk) };
}

/** Elements of the scratch buffer conv2dBackwardFilter's partial sums need (0: none). */
export function conv2dScratchSize(s: Conv2dShape): number {
  const g = conv2dGeometry(s);
  const splits = filterSlideSplit(g)?.chunks ?? filterTile(s).splits;
  return splits > 1 ? splits * g.KH * g.KW * g.CI * g.CO : 0;
}

/**
 * Backward filter of a small filter (slideFits). A lane takes a chunk of output rows and a few
 * channel vec4s, and slides forwardSlide's window along each row: a step loads the columns
 * entering the window and the pixel's dy, and adds window ⊗ dy into one accumulator per
 * (tap, channel vec4). A lane loads each dy once and each input pixel once per output row that
 * reads it, where a lane per filter row and channel vec4 would load each dy KH times and each
 * input pixel KW times more, once per channel vec4. The accumulators outnumber the registers,
 * but spilled ones cost a plain load and store, a computed-offset load a loop over the lanes.
 */
function filterSlide(g: Conv2dGeometry, split: SlideSplit, limits: KernelLimits): Kernel[] {
  const { perLane, slices, perChunk, chunks } = split;
  const groups = Math.ceil(g.CO / 4);
  const size = g.KH * g.KW * g.CI * g.CO;
  const rows = g.B * g.OH;
  const lanes = slideLanes(limits);
  const w = slideWindow(g);
  const C = list(perLane);
  const acc = (kh: number, kw: number, ci: number, c: number) => `a${kh}_${kw}_${ci}_${c}`;
  const out = chunks > 1 ? 'scratch' : 'df';
  const vecO = g.CO % 4 === 0;
  const partial: Kernel = {
    name: chunks > 1 ? 'conv2d_backward_filter_partial' : 'conv2d_backward_filter',
    code: /* wgsl */ `${preamble}
${constants(g)}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<${vecO ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read_write> ${out}: array<${vecO ? 'vec4<f32>' : 'f32'}>;

${loadX}

${loadDy(vecO)}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
  let slot = flat_workgroup(wid, nwg) * ${lanes}u + lane;
  // This lane: output rows chunk·${perChunk}.. and channel vec4s slice·${perLane}..
  let chunk = slot / ${slices}u;
  let slice = slot % ${slices}u;
${C.map((c) => `  let group${c} = min(slice * ${perLane}u + ${c}u, ${groups - 1}u);`).join('\n')}
${w.taps.flatMap(([kh, kw, ci]) => C.map((c) => `  var ${acc(kh, kw, ci, c)} = vec4<f32>(0.0);`)).join('\n')}
  let r_end = select(min((chunk + 1u) * ${perChunk}u, ${rows}u), 0u, chunk >= ${chunks}u);
  for (var r = chunk * ${perChunk}u; r < r_end; r++) {
${w.rows('r', '    ')}
${w.prefill('0u', '    ')}
    for (var ow = 0u; ow < OW; ow++) {
${w.step('ow', '      ')}
${C.map((c) => `      let d${c} = load_dy(r * OW, i32(ow), group${c}, true);`).join('\n')}
${w.taps.flatMap(([kh, kw, ci]) => C.map((c) => `      ${acc(kh, kw, ci, c)} = fma(vec4<f32>(${w.value(kh, kw, ci)}), d${c}, ${acc(kh, kw, ci, c)});`)).join('\n')}
    }
  }
  if (chunk >= ${chunks}u) { return; }
${C.map((c) => `  if (slice * ${perLane}u + ${c}u < ${groups}u) {
${w.taps.map(([kh, kw, ci]) => `    store4(${chunks > 1 ? `chunk * ${size}u + ` : ''}${((kh * g.KW + kw) * g.CI + ci) * g.CO}u + group${c} * 4u, ${acc(kh, kw, ci, c)});`).join('\n')}
  }`).join('\n')}
}

// The channels 4·group.. below CO of v, at flat offset at of the filter gradient (group: at % CO / 4).
fn store4(at: u32, v: vec4<f32>) {
${vecO ? `  ${out}[at / 4u] = v;` : `  for (var j = 0u; j < 4u; j++) { if (at % CO + j < CO) { ${out}[at + j] = v[j]; } }`}
}
`,
    bindings: ['read', 'read', 'write'],
    workgroupSize: [lanes, 1, 1],
    dispatch: foldWorkgroups(Math.ceil(chunks * slices / lanes), limits),
  };
  return chunks > 1 ? [partial, sumParts('conv2d_backward_filter_reduce', size, chunks, limits)] : [partial];
}

/**
 * dfilter = Σ over batch and output pixels of x-patch ⊗ dy. The batch is split into parts
 * summed by separate workgroups into a scratch buffer, then added up by a second kernel:
 * [partial: x, dy → scratch, reduce: scratch → dfilter], or one kernel [x, dy → dfilter]
 * when a single part fills the device (conv2dScratchSize is then 0).
 */
export function conv2dBackwardFilter(s: Conv2dShape): Kernel[] {
  const limits = s.limits ?? defaultLimits;
  const geometry = conv2dGeometry(s);
  const slide = filterSlideSplit(geometry);
  if (slide) return filterSlide(geometry, slide, limits);
  const { g, t, splits } = filterTile(s);
  const rows = g.KH * g.KW * g.CI;
  const size = rows * g.CO;
  const perSplit = Math.ceil(g.B / splits);
  const vecO = g.CO % 4 === 0;
  const R = list(t.R);
  // The channel-blocked path (see filterRows): the tile's rows share (kh, kw).
  const blocked = g.CI % 4 === 0 && g.CI % t.R === 0 && t.R % 4 === 0;
  // On a subgroup, a tile of several taps' channels: each lane loads its chunk's tap's pixel.
  const multiTap = !blocked && t.subgroup !== undefined && g.CI % 4 === 0 && t.R % g.CI === 0 && t.R / 4 <= t.subgroup;
  const rowsBody = (r: number) => blocked || multiTap ? '' : `  let ci${r} = row${r} % CI;
  let kw${r} = (row${r} / CI) % KW;
  let kh${r} = row${r} / (CI * KW);`;
  const chunksPerTap = g.CI / 4;
  const contraction = multiTap ? /* wgsl */ `
  // Lane i loads chunk i of the tile: channels ci..ci+3 of tap (kh, kw). Pixels outside
  // the input read zero rather than narrowing the loops, so every lane takes part in every broadcast.
  let tap = min(first_row / CI + lane / ${chunksPerTap}u, KH * KW - 1u);
  let kh = i32(tap / KW);
  let kw = i32(tap % KW);
  let ci = lane % ${chunksPerTap}u * 4u;
  let b_end = min((split + 1u) * ${perSplit}u, B);
  for (var b = split * ${perSplit}u; b < b_end; b++) {
    for (var oh = 0; oh < i32(OH); oh++) {
      let iy = oh * i32(SH) + kh - i32(PT);
      let row_ok = iy >= 0 && iy < i32(H);
      let x_row = (b * H + u32(clamp(iy, 0, i32(H) - 1))) * W;
      let dy_row = (b * OH + u32(oh)) * OW;
      for (var ow = 0; ow < i32(OW); ow++) {
        let d = load_dy((dy_row + u32(ow)) * CO);
        let ix = ow * i32(SW) + kw - i32(PL);
        let ok = row_ok && ix >= 0 && ix < i32(W);
        let xl = select(vec4<f32>(0.0), x[((x_row + u32(clamp(ix, 0, i32(W) - 1))) * CI + ci) / 4u], ok);
${list(t.R / 4).map((q) => `        let xq${q} = subgroupBroadcast(xl, ${q}u);`).join('\n')}
${R.map((r) => `        acc${r} = fma(vec4<f32>(xq${r >> 2}[${r % 4}]), d, acc${r});`).join('\n')}
      }
    }
  }` : blocked ? /* wgsl */ `
  let ci0 = first_row % CI;
  let kw = i32((first_row / CI) % KW);
  let kh = i32(first_row / (CI * KW));
  // Output pixels whose window puts tap (kh, kw) inside the input: y = oh·SH − PT + kh ∈ [0, H).
  let oh_begin = select(0, (i32(PT) - kh + i32(SH) - 1) / i32(SH), i32(PT) > kh);
  let oh_last = i32(H) - 1 + i32(PT) - kh;
  let oh_end = select(0, min(i32(OH), oh_last / i32(SH) + 1), oh_last >= 0);
  let ow_begin = select(0, (i32(PL) - kw + i32(SW) - 1) / i32(SW), i32(PL) > kw);
  let ow_last = i32(W) - 1 + i32(PL) - kw;
  let ow_end = select(0, min(i32(OW), ow_last / i32(SW) + 1), ow_last >= 0);
  let b_end = min((split + 1u) * ${perSplit}u, B);
  for (var b = split * ${perSplit}u; b < b_end; b++) {
    for (var oh = oh_begin; oh < oh_end; oh++) {
      let x_row = (b * H + u32(oh * i32(SH) + kh - i32(PT))) * W;
      let dy_row = (b * OH + u32(oh)) * OW;
      for (var ow = ow_begin; ow < ow_end; ow++) {
        let d = load_dy((dy_row + u32(ow)) * CO);
        let xo = ((x_row + u32(ow * i32(SW) + kw - i32(PL))) * CI + ci0) / 4u;
${t.subgroup
    ? [`        let xl = x[xo + lane % ${t.R / 4}u];`, ...list(t.R / 4).map((q) => `        let xq${q} = subgroupBroadcast(xl, ${q}u);`)].join('\n')
    : list(t.R / 4).map((q) => `        let xq${q} = x[xo + ${q}u];`).join('\n')}
${R.map((r) => `        acc${r} = fma(vec4<f32>(xq${r >> 2}[${r % 4}]), d, acc${r});`).join('\n')}
      }
    }
  }` : /* wgsl */ `
  let b_end = min((split + 1u) * ${perSplit}u, B);
  for (var b = split * ${perSplit}u; b < b_end; b++) {
    for (var oh = 0u; oh < OH; oh++) {
${R.map((r) => `      let y${r} = i32(oh * SH + kh${r}) - i32(PT);`).join('\n')}
      for (var ow = 0u; ow < OW; ow++) {
        let d = load_dy(((b * OH + oh) * OW + ow) * CO);
${R.map((r) => `        let x${r} = i32(ow * SW + kw${r}) - i32(PL);
        let ok${r} = y${r} >= 0 && y${r} < i32(H) && x${r} >= 0 && x${r} < i32(W);
        let xv${r} = select(0.0, x[select(0u, ((b * H + u32(y${r})) * W + u32(x${r})) * CI + ci${r}, ok${r})], ok${r});
        acc${r} = fma(vec4<f32>(xv${r}), d, acc${r});`).join('\n')}
      }
    }
  }`;
  const out = splits > 1 ? 'scratch' : 'df';
  const store = `  if (col >= CO) { return; }
${R.map((r) => `  if (first_row + ${r}u < ${rows}u) { store_row(split * ${size}u + row${r} * CO, acc${r}); }`).join('\n')}`;
  const partial: Kernel = {
    name: splits > 1 ? 'conv2d_backward_filter_partial' : 'conv2d_backward_filter',
    code: /* wgsl */ `${enables(t)}${preamble}
${constants(g)}
@group(0) @binding(0) var<storage, read> x: array<${blocked || multiTap ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> dy: array<${vecO ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read_write> ${out}: array<${vecO ? 'vec4<f32>' : 'f32'}>;
var<private> col: u32;

// dy at one output pixel for output channels col..col+3.
${loadColumns('load_dy', 'dy', vecO)}

${storeRow(out, 'CO', vecO)}
${gemmMain(t, splits, rows, rowsBody, contraction, store).replace('let col = ', 'col = ')}
`,
    bindings: ['read', 'read', 'write'],
    workgroupSize: [t.lanes, 1, 1],
    dispatch: foldWorkgroups(t.rowTiles * t.colTiles * splits, limits),
  };
  return splits > 1 ? [partial, sumParts('conv2d_backward_filter_reduce', size, splits, limits)] : [partial];
}
