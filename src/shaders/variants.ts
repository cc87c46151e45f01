// The variant table: for each kernel family an autotune may choose for, the builder options it
// times against the built-in choice (the empty variant). The table is data: an adapter that
// wants other tiles is a new row here, not new code. Rows that build the same WGSL as another
// are timed once.

import type { Kernel, KernelLimits, Tunable, Variant } from './kernel.js';

export type TunedFamily = 'matmul' | 'conv2d_forward' | 'conv2d_backward_input';

export const variantTable: Record<TunedFamily, readonly Variant[]> = {
  // Small products take the one-element kernel by default; any tile row forces the register tile.
  matmul: [{}, { tileRows: 4 }, { tileRows: 8 }, { tileRows: 16 }, { tileRows: 32 }, { subgroups: false }],
  conv2d_forward: [{}, { tileRows: 4 }, { tileRows: 16 }, { tileRows: 32 }, { subgroups: false }],
  conv2d_backward_input: [{}, { tileRows: 4 }, { tileRows: 16 }, { tileRows: 32 }, { subgroups: false }],
};

/** The limits a variant builds under: without a subgroup size where it asks for none. */
function limitsFor(variant: Variant, limits: KernelLimits): KernelLimits {
  if (variant.subgroups !== false || limits.subgroupSize === undefined) return limits;
  const { subgroupSize: _, ...rest } = limits;
  return rest;
}

/**
 * A kernel of `family` for `shape`: the variant the device's autotune chose (limits.tuned), else
 * the built-in one, and every row of the table as alternatives for an autotune to time.
 * `build` makes the kernel for one variant's options and limits.
 */
export function tunable(family: TunedFamily, shape: object, limits: KernelLimits, build: (variant: Variant, limits: KernelLimits) => Kernel): { kernel: Kernel; tuning: Tunable } {
  const key = `${family} ${JSON.stringify(shape)}`;
  const make = (variant: Variant): Kernel => build(variant, limitsFor(variant, limits));
  const variants = (): { variant: Variant; kernel: Kernel }[] => {
    const distinct = new Map<string, { variant: Variant; kernel: Kernel }>();
    for (const variant of variantTable[family]) {
      const kernel = make(variant);
      if (!distinct.has(kernel.code)) distinct.set(kernel.code, { variant, kernel });
    }
    return [...distinct.values()];
  };
  return { kernel: make(limits.tuned?.chosen(key) ?? {}), tuning: { key, variants, build: make } };
}
