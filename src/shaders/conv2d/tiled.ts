// The register-tile kernels of conv2d as implicit GEMM, forward, backward-input and
// backward-filter side by side; index.ts picks the tile and the contraction each one takes.

import { activationFunctions, type Activation } from '../activation.js';
import { foldWorkgroups } from '../grid.js';
import type { Kernel, KernelLimits } from '../kernel.js';
import { enableHalves, preamble } from '../preamble.js';
import { sumParts } from '../reduce.js';
import { type Conv2dGeometry, constants, list } from './geometry.js';
import { type BatchTile, batchRows, enables, type GemmTile, gemmMain, loadColumns, sharedRows, storeRow } from './tile.js';

/**
 * Forward: rows are output pixels (b, oh, ow), or with a batch tile (batchTile) images of the
 * batch at one pixel; columns are output channels; the contraction runs over the window's taps
 * and input channels. The bias and the activation are applied as each row is stored.
 */
export function forwardTiled(g: Conv2dGeometry, t: GemmTile | BatchTile, bias: boolean, activation: Activation, limits: KernelLimits, halfFilter = false): Kernel {
  const rows = g.B * g.OH * g.OW;
  const bt = 'bSpan' in t ? t : undefined;
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
  const fType = halfFilter ? 'f16' : 'f32';
  const code = /* wgsl */ `${enables(t)}${enableHalves(halfFilter)}${preamble}
${activationFunctions(activation)}
${constants(g)}
@group(0) @binding(0) var<storage, read> x: array<${vecX ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read> f: array<${vecF ? `vec4<${fType}>` : fType}>;
${bias ? '@group(0) @binding(2) var<storage, read> bias: array<f32>;' : ''}
@group(0) @binding(${bias ? 3 : 2}) var<storage, read_write> y: array<${vecF ? 'vec4<f32>' : 'f32'}>;
var<private> col: u32;

// Filter values for output channels col..col+3 at flat offset base.
${loadColumns('load_f', 'f', vecF, halfFilter)}
${bias ? `// The bias of output channels col..col+3.\n${loadColumns('load_bias', 'bias', false)}` : ''}

${storeRow('y', 'CO', vecF, true)}
${gemmMain(t, 1, bt ? t.rowTiles * t.R * (t.parts ?? 1) : rows, rowsBody, contraction, store, head).replace('let col = ', 'col = ')}
`;
  return {
    name: `conv2d${halfFilter ? '_hf' : ''}${bias ? '_bias' : ''}${activation === 'linear' ? '' : `_${activation}`}`,
    code,
    bindings: bias ? ['read', 'read', 'read', 'write'] : ['read', 'read', 'write'],
    workgroupSize: [t.lanes, 1, 1],
    dispatch: foldWorkgroups(t.rowTiles * t.colTiles, limits),
  };
}

/**
 * Backward-input: rows are input pixels (b, ih, iw), or with a batch tile images of the batch at
 * one pixel; columns are input channels; each row gathers dy from the output pixels whose
 * windows cover it, through the filter.
 */
export function backwardInputTiled(g: Conv2dGeometry, t: GemmTile | BatchTile, limits: KernelLimits): Kernel {
  const rows = g.B * g.H * g.W;
  const vecO = g.CO % 4 === 0; // dy pixels and filter rows over output channels are whole vec4s
  const unitStride = g.SH === 1 && g.SW === 1; // no divisibility tests (integer division is slow on CPU drivers)
  const bt = 'bSpan' in t ? t : undefined;
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

/**
 * How a backward-filter tile contracts (index.ts picks it): `blocked`, the tile's rows are
 * channels of one tap, sharing (kh, kw) (see filterRows); `taps`, on a subgroup, a tile of
 * several taps' channels, each lane loading its chunk's tap's pixel; `rows`, each row decodes
 * its own (kh, kw, ci) and tests its bounds.
 */
export type FilterContraction = 'blocked' | 'taps' | 'rows';

/**
 * Backward-filter: rows are the filter's (kh, kw, ci), columns its output channels; the
 * contraction runs over the batch and the output pixels, the batch split into `splits` parts
 * (one kernel when there is one part, else partial sums and sumParts).
 */
export function backwardFilterTiled(g: Conv2dGeometry, t: GemmTile, splits: number, kind: FilterContraction, limits: KernelLimits): Kernel[] {
  const rows = g.KH * g.KW * g.CI;
  const size = rows * g.CO;
  const perSplit = Math.ceil(g.B / splits);
  const vecO = g.CO % 4 === 0;
  const R = list(t.R);
  const blocked = kind === 'blocked';
  const multiTap = kind === 'taps';
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
