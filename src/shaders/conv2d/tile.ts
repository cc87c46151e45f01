// The register tile of the implicit GEMM that the tiled kernels (tiled.ts) share: how a tile is
// sized for each pass, how a subgroup shares its rows' loads, its column loads and stores, and main().

import { linearWorkgroupSize } from '../grid.js';
import type { KernelLimits } from '../kernel.js';
import { widen } from '../preamble.js';
import { type Conv2dGeometry, list } from './geometry.js';

export interface GemmTile {
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
export function tile(rows: number, cols: number, tileRows: number | undefined, limits: KernelLimits): GemmTile {
  const R = Math.max(1, Math.min(tileRows ?? 8, rows));
  if (cols <= 4) {
    const lanes = linearWorkgroupSize(limits, Math.min(32, Math.ceil(rows / R)));
    return { R, lanes, rowTiles: Math.ceil(rows / (R * lanes)), colTiles: 1, rowLanes: true };
  }
  const lanes = linearWorkgroupSize(limits, Math.min(32, Math.ceil(cols / 4)));
  return { R, lanes, rowTiles: Math.ceil(rows / R), colTiles: Math.ceil(cols / (4 * lanes)), rowLanes: false };
}

/** A batchTile: `bSpan` rows a pixel, its batch padded to whole tiles. */
export type BatchTile = GemmTile & { bSpan: number };

/**
 * Forward and backward-input tiles of R images of the batch at one pixel (rows ordered pixel,
 * then image): the tile's rows then share their window's position, so the taps that fall in
 * the padding are skipped by loop bounds computed once, instead of being loaded, tested and
 * multiplied by zero per row (a 5x5 'same' window over a 4x4 image is half padding). Needs a
 * batch that fills the tile, lanes over at least one vec4 of columns, and a contraction over
 * whole vec4s of channels: with fewer channels per tap, the loops with bounds known only at
 * run time cost more than the padding taps (the fixed 5x5 loops unroll into straight code).
 * Undefined otherwise. On a subgroup (of `subgroup` lanes) the tile is 16 images tall, since its
 * loads are shared.
 */
export function batchTile(B: number, pixels: number, cols: number, inner: number, tileRows: number | undefined, limits: KernelLimits, subgroup: number | undefined): BatchTile | undefined {
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
export function batchRows(t: BatchTile, pixel: 'input' | 'output', shared: string, base: string, imageSize: string): { head: string; rowsBody: (r: number) => string } {
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
export function sharedRows(t: GemmTile, name: string, buffer: string, offset: string): string {
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
export function enables(t: GemmTile): string {
  return t.subgroup ? 'enable subgroups;\n' : '';
}

/**
 * WGSL `fn name(base) -> vec4<f32>`: `buffer` at base + col..col+3, output channels past CO
 * reading 0; `half`: the buffer holds f16s, widened as they are loaded.
 */
export function loadColumns(name: string, buffer: string, vec: boolean, half = false): string {
  return `fn ${name}(base: u32) -> vec4<f32> {
${vec ? `  return ${widen(`${buffer}[(base + min(col, CO - 4u)) / 4u]`, half, 'vec4<f32>')};` : `  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (col + j < CO) { v[j] = ${widen(`${buffer}[base + col + j]`, half, 'f32')}; } }
  return v;`}
}`;
}

/**
 * WGSL `fn store_row(base, v)`: the columns col..col+3 below `limit` of v (through the
 * activation when `activate`) into `buffer` at base; one vec4 store when the rows are whole
 * vec4s (`vec`: `buffer` is then an array of vec4s), which is one per-lane loop on CPU drivers
 * instead of four, and less code to compile.
 */
export function storeRow(buffer: string, limit: string, vec: boolean, activate = false): string {
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
export function gemmMain(t: GemmTile, extraTiles: number, rowsTotal: number, rowsBody: (r: number) => string, contraction: string, store: string, head = ''): string {
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

/** The backward-filter tile, and the parts its sum over the batch is split into (filterSplits). */
export function filterTile(g: Conv2dGeometry, tileRows: number | undefined, limits: KernelLimits, subgroup: number | undefined): { t: GemmTile; splits: number } {
  const rows = g.KH * g.KW * g.CI;
  const S = subgroup ?? 0;
  // With subgroups, the channel-blocked tile's R/4 input vec4s per pixel are loaded one per lane
  // and broadcast. With fewer channels than the tile's rows (at most 32, one vec4 a lane), the
  // tile spans several taps (multiTap).
  const tall = Math.min(4 * S, 32);
  const R = S >= 4 && g.CI % 4 === 0 && g.CI < tall && tall % g.CI === 0 && tileRows === undefined ? tall : filterRows(g, tileRows, S);
  const t: GemmTile = S >= 4 && R !== undefined && g.CI % 4 === 0 && R % 4 === 0 && R / 4 <= S
    ? { R, lanes: S, rowTiles: Math.ceil(rows / R), colTiles: Math.ceil(g.CO / (4 * S)), rowLanes: false, subgroup: S }
    : tile(rows, g.CO, R, limits);
  return { t, splits: filterSplits(g, t) };
}
