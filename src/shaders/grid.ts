// Workgroup sizing and dispatch grids. Every kernel sizes itself here, so device limits are
// respected in one place: more workgroups than one dimension allows fold into the next.

import type { KernelLimits } from './kernel.js';

export interface Grid {
  readonly workgroupSize: readonly [number, number, number];
  readonly dispatch: readonly [number, number, number];
}

/** The invocations per workgroup for 1-D kernels: 256 where the device allows it. */
export function linearWorkgroupSize(limits: KernelLimits, preferred = 256): number {
  return Math.max(1, Math.min(preferred, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX));
}

/**
 * Folds `workgroups` into an (x, y, z) grid under maxComputeWorkgroupsPerDimension.
 * Kernels recover the flat index with `flat_workgroup` from the preamble; the few spare
 * workgroups of the last row must bounds-check.
 */
export function foldWorkgroups(workgroups: number, limits: KernelLimits): [number, number, number] {
  if (workgroups <= 0) return [0, 0, 0];
  const max = limits.maxComputeWorkgroupsPerDimension;
  if (workgroups <= max) return [workgroups, 1, 1];
  const y = Math.ceil(workgroups / max);
  if (y <= max) return [Math.ceil(workgroups / y), y, 1];
  const z = Math.ceil(y / max);
  if (z > max) throw new Error(`foldWorkgroups: ${workgroups} workgroups exceed the device's ${max}³ grid`);
  return [max, Math.ceil(y / z), z];
}

/** One invocation per element of a flat range of `count` elements. */
export function linearGrid(count: number, limits: KernelLimits, preferred = 256): Grid {
  const size = linearWorkgroupSize(limits, preferred);
  return { workgroupSize: [size, 1, 1], dispatch: foldWorkgroups(Math.ceil(count / size), limits) };
}
