// conv2d's builders (NHWC input, HWIO filter): forward with a fused bias and activation, backward-
// input and backward-filter, and the choice, made here, of the kernel variant each shape takes.
//
// For each pass the first variant whose condition holds is built. R is a register tile's rows
// (tileRows, else the default given); S, the device's one subgroup size (limits.subgroupSize),
// where it has one of at least 4 lanes (subgroupLanes).
//
// Forward, conv2dForward:
//  1. Register tile over the batch, on a subgroup (tiled.ts forwardTiled, tile.ts batchTile):
//     more than 4 output channels, input channels in whole vec4s, S, and at least R = 16 images.
//     A tile is R images at one output pixel, so the taps in the padding are skipped by loop
//     bounds; each row's input vec4 is loaded once a subgroup and broadcast (or shuffled, where
//     the lanes outnumber the columns' vec4s and split the rows).
//  2. Register tile over the batch: the same without S, at least R = 8 images; per-lane loads.
//  3. Sliding window (sliding.ts forwardSlide): slideFits, a first layer: at most 4 input
//     channels, a filter of at most 256 vec4s (KH·KW·CI·⌈CO/4⌉), a window of at most 100 values
//     (KH·KW·CI). A lane slides a window along a run of output pixels, all output channels.
//  4. Register tile over output pixels (forwardTiled, tile.ts tile): otherwise. A tile is R = 8
//     pixels; with at most 4 output channels the lanes take rows instead of columns.
//
// Backward-input, conv2dBackwardInput:
//  5. Register tile over the batch, on a subgroup (backwardInputTiled, batchTile): more than 4
//     input channels, output channels in whole vec4s, S, and at least R = 16 images; as 1, and the
//     lanes that split the rows also share the filter's columns by shuffle.
//  6. Register tile over the batch: the same without S, at least R = 8 images.
//  7. Sliding window (backwardInputSlide): unit strides and slideFits. A lane walks a band of
//     input rows, adding each dy pixel into the input pixels it reaches.
//  8. Register tile over input pixels (backwardInputTiled, tile): otherwise; the stride's
//     divisibility tests only at strides above 1.
//
// Backward-filter, conv2dBackwardFilter: when one part of the sum (over the batch, or over
// chunks of output rows for 9) would leave the device idle, the parts go into a scratch buffer
// of conv2dScratchSize elements and sumParts adds them up (kernels `_partial` and `_reduce`).
//  9. Sliding window (filterSlide, filterSlideSplit): slideFits and a window of at most 50 values.
// 10. Channel-blocked tile on a subgroup (backwardFilterTiled 'blocked', tile.ts filterTile):
//     input channels in whole vec4s and S, where 12 does not apply. A tile is R channels of one
//     tap (R divides CI: up to 32 at S ≥ 8, else 16), whose R/4 input vec4s the lanes load one
//     each and broadcast.
// 11. Channel-blocked tile: input channels in whole vec4s without S (or a tileRows above 4S);
//     each lane loads the R/4 vec4s itself.
// 12. Tile across taps on a subgroup ('taps'): input channels in whole vec4s, S, no tileRows, and
//     fewer channels than min(4S, 32), dividing it: a tile spans several taps, one vec4 a lane.
// 13. Tile of rows that decode their own tap ('rows'): otherwise (input channels not in whole
//     vec4s); each row tests its window's bounds.

import type { Activation } from '../activation.js';
import { defaultLimits, type Kernel, type KernelLimits } from '../kernel.js';
import { type Conv2dGeometry, conv2dGeometry, type Conv2dShape } from './geometry.js';
import { backwardInputSlide, filterSlide, filterSlideSplit, forwardSlide, slideFits, type SlideSplit } from './sliding.js';
import { batchTile, filterTile, type GemmTile, tile } from './tile.js';
import { backwardFilterTiled, backwardInputTiled, type FilterContraction, forwardTiled } from './tiled.js';

export { conv2dGeometry, conv2dOutputShape, type Conv2dGeometry, type Conv2dShape } from './geometry.js';

/** S above: the lanes of the device's subgroup, where it has one size of at least 4 lanes. */
function subgroupLanes(limits: KernelLimits): number | undefined {
  return limits.subgroupSize !== undefined && limits.subgroupSize >= 4 ? limits.subgroupSize : undefined;
}

/**
 * y = activation(conv2d(x, filter) + bias). Bindings: x, filter, (bias), y. `halfFilter`: the
 * filter holds f16s (src/shaders/half.ts), widened as loaded; needs 'shader-f16'.
 */
export function conv2dForward(s: Conv2dShape & { bias?: boolean; activation?: Activation; halfFilter?: boolean }): Kernel {
  const g = conv2dGeometry(s);
  const { bias = false, activation = 'linear', halfFilter = false, limits = defaultLimits } = s;
  const images = batchTile(g.B, g.OH * g.OW, g.CO, g.CI, s.tileRows, limits, subgroupLanes(limits));
  if (images) return forwardTiled(g, images, bias, activation, limits, halfFilter); // 1, 2
  if (slideFits(g)) return forwardSlide(g, s.tileRows, bias, activation, limits, halfFilter); // 3
  return forwardTiled(g, tile(g.B * g.OH * g.OW, g.CO, s.tileRows, limits), bias, activation, limits, halfFilter); // 4
}

/**
 * dx = the gradient of Σ dy·conv2d(x, filter) with respect to x: each input pixel gathers dy
 * from the output pixels whose windows cover it, through the filter. Bindings: dy, filter, dx.
 */
export function conv2dBackwardInput(s: Conv2dShape): Kernel {
  const g = conv2dGeometry(s);
  const limits = s.limits ?? defaultLimits;
  const images = batchTile(g.B, g.H * g.W, g.CI, g.CO, s.tileRows, limits, subgroupLanes(limits));
  if (images) return backwardInputTiled(g, images, limits); // 5, 6
  if (g.SH === 1 && g.SW === 1 && slideFits(g)) return backwardInputSlide(g, s.tileRows, limits); // 7
  return backwardInputTiled(g, tile(g.B * g.H * g.W, g.CI, s.tileRows, limits), limits); // 8
}

/** The backward-filter variant of a shape (9 to 13), with the parts its sum is split into. */
type FilterPlan = { slide: SlideSplit } | { t: GemmTile; splits: number; kind: FilterContraction };

function filterPlan(g: Conv2dGeometry, tileRows: number | undefined, limits: KernelLimits): FilterPlan {
  const slide = filterSlideSplit(g);
  if (slide) return { slide }; // 9
  const { t, splits } = filterTile(g, tileRows, limits, subgroupLanes(limits));
  // The tile's rows are channels of one tap: 10 when t.subgroup, else 11.
  if (g.CI % 4 === 0 && g.CI % t.R === 0 && t.R % 4 === 0) return { t, splits, kind: 'blocked' };
  if (t.subgroup !== undefined && g.CI % 4 === 0 && t.R % g.CI === 0 && t.R / 4 <= t.subgroup) return { t, splits, kind: 'taps' }; // 12
  return { t, splits, kind: 'rows' }; // 13
}

/** Elements of the scratch buffer conv2dBackwardFilter's partial sums need (0: none). */
export function conv2dScratchSize(s: Conv2dShape): number {
  const g = conv2dGeometry(s);
  const plan = filterPlan(g, s.tileRows, s.limits ?? defaultLimits);
  const splits = 'slide' in plan ? plan.slide.chunks : plan.splits;
  return splits > 1 ? splits * g.KH * g.KW * g.CI * g.CO : 0;
}

/**
 * dfilter = Σ over batch and output pixels of x-patch ⊗ dy. The batch is split into parts
 * summed by separate workgroups into a scratch buffer, then added up by a second kernel:
 * [partial: x, dy → scratch, reduce: scratch → dfilter], or one kernel [x, dy → dfilter]
 * when a single part fills the device (conv2dScratchSize is then 0).
 */
export function conv2dBackwardFilter(s: Conv2dShape): Kernel[] {
  const g = conv2dGeometry(s);
  const limits = s.limits ?? defaultLimits;
  const plan = filterPlan(g, s.tileRows, limits);
  return 'slide' in plan ? filterSlide(g, plan.slide, limits) : backwardFilterTiled(g, plan.t, plan.splits, plan.kind, limits);
}
