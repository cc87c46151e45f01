// The sliding-window kernels of small filters (a first layer over a few channels): each lane
// moves a window along a row, with the whole filter held in values read at constant offsets.

import { activationFunctions, type Activation } from '../activation.js';
import { foldWorkgroups, linearWorkgroupSize } from '../grid.js';
import type { Kernel, KernelLimits } from '../kernel.js';
import { enableHalves, preamble, widen } from '../preamble.js';
import { sumParts } from '../reduce.js';
import { type Conv2dGeometry, constants, list } from './geometry.js';

/**
 * Whether a filter takes the sliding-window kernels (forwardSlide, filterSlide,
 * backwardInputSlide): a first layer over at most 4 channels whose filter fits in the shader's
 * code, a line per filter vec4 and a variable per window value (conv1 of the seed CNN: 100
 * vec4s, 25 values; 3x3 RGB into 32 channels: 216, 27). Compile time grows faster than the
 * code: 250 vec4s take 3.5 s on lavapipe, a window of 128 values 14 s.
 */
export function slideFits(g: Conv2dGeometry): boolean {
  return g.CI <= 4 && g.KH * g.KW * g.CI * Math.ceil(g.CO / 4) <= 256 && g.KH * g.KW * g.CI <= 100;
}

/** Lanes of a sliding-window kernel's workgroup: one subgroup where the device has one size. */
function slideLanes(limits: KernelLimits): number {
  return linearWorkgroupSize(limits, limits.subgroupSize ?? 64);
}

/** The small filter as WGSL values read at constant offsets: `name(kh, kw, ci, c)` holds output channels 4c..4c+3 (0 past CO). */
function filterValues(g: Conv2dGeometry, half = false): { name: (kh: number, kw: number, ci: number, c: number) => string; loads: string } {
  const name = (kh: number, kw: number, ci: number, c: number) => `f${kh}_${kw}_${ci}_${c}`;
  const loads = filterTaps(g).flatMap(([kh, kw, ci]) => list(Math.ceil(g.CO / 4)).map((c) => {
    const at = ((kh * g.KW + kw) * g.CI + ci) * g.CO + 4 * c;
    return `  let ${name(kh, kw, ci, c)} = ${channelVec4(g, c, (j) => widen(`f[${at + j}u]`, half, 'f32'))};`;
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
export function forwardSlide(g: Conv2dGeometry, tileRows: number | undefined, bias: boolean, activation: Activation, limits: KernelLimits, halfFilter = false): Kernel {
  const groups = Math.ceil(g.CO / 4);
  const vecY = g.CO % 4 === 0;
  // Whole rows, or shorter runs when the rows are too few to give the device ~64 lanes.
  const length = tileRows ? Math.min(tileRows, g.OW) : Math.ceil(g.OW / Math.min(g.OW, Math.ceil(64 / (g.B * g.OH))));
  const perRow = Math.ceil(g.OW / length);
  const runs = g.B * g.OH * perRow;
  const lanes = slideLanes(limits);
  const w = slideWindow(g);
  const C = list(groups);
  const filter = filterValues(g, halfFilter);
  const biasLoads = bias ? C.map((c) => `  let bias${c} = ${channelVec4(g, c, (j) => `bias[${4 * c + j}u]`)};`) : [];
  const store = (c: number) => vecY
    ? `      y[yo + ${c}u] = a;`
    : [0, 1, 2, 3].filter((j) => 4 * c + j < g.CO).map((j) => `      y[yo + ${4 * c + j}u] = a[${j}];`).join('\n');
  const code = /* wgsl */ `${enableHalves(halfFilter)}${preamble}
${activationFunctions(activation)}
${constants(g)}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> f: array<${halfFilter ? 'f16' : 'f32'}>;
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
    name: `conv2d${halfFilter ? '_hf' : ''}${bias ? '_bias' : ''}${activation === 'linear' ? '' : `_${activation}`}`,
    code,
    bindings: bias ? ['read', 'read', 'read', 'write'] : ['read', 'read', 'write'],
    workgroupSize: [lanes, 1, 1],
    dispatch: foldWorkgroups(Math.ceil(runs / lanes), limits),
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
export function backwardInputSlide(g: Conv2dGeometry, tileRows: number | undefined, limits: KernelLimits): Kernel {
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
 * How filterSlide splits a small filter's gradient (slideFits, at most 50 accumulated vec4s a
 * lane): a lane sums the window ⊗ dy products of `perLane` channel vec4s over `perChunk`
 * output rows; a chunk of rows takes `slices` lanes, one per slice of the channel vec4s; the
 * `chunks` (~256 lanes in all) give the partial sums sumParts adds up.
 */
export interface SlideSplit {
  perLane: number;
  slices: number;
  perChunk: number;
  chunks: number;
}

export function filterSlideSplit(g: Conv2dGeometry): SlideSplit | undefined {
  const taps = g.KH * g.KW * g.CI;
  if (!slideFits(g) || taps > 50) return undefined;
  const groups = Math.ceil(g.CO / 4);
  const perLane = Math.min(groups, Math.floor(50 / taps));
  const slices = Math.ceil(groups / perLane);
  const rows = g.B * g.OH;
  const perChunk = Math.ceil(rows / Math.min(rows, Math.ceil(256 / slices)));
  return { perLane, slices, perChunk, chunks: Math.ceil(rows / perChunk) };
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
export function filterSlide(g: Conv2dGeometry, split: SlideSplit, limits: KernelLimits): Kernel[] {
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
