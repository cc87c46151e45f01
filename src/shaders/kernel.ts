// The contract between kernel builders and the GPU runtime: a builder is a pure function from
// static parameters to WGSL source, its bindings and its dispatch geometry.

/** How a kernel binds one buffer: storage it reads, storage it writes, or its uniform params. */
export type BindingKind = 'read' | 'write' | 'uniform';

export interface Kernel {
  /** Short name, used as the label of GPU objects and in error messages and profiles. */
  readonly name: string;
  /** Complete WGSL module. The pipeline cache keys on this text. */
  readonly code: string;
  /** One entry per `@binding(i)` of group 0, in order. */
  readonly bindings: readonly BindingKind[];
  /** Bytes of the uniform binding, when `bindings` has one. Not part of the code: new values reuse the pipeline. */
  readonly uniforms?: ArrayBuffer;
  readonly workgroupSize: readonly [number, number, number];
  /** Workgroup counts; [0, 0, 0] means there is nothing to do. */
  readonly dispatch: readonly [number, number, number];
}

/** The device limits that shape kernels. The runtime passes the device's own values. */
export interface KernelLimits {
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupSizeY: number;
  readonly maxComputeWorkgroupStorageSize: number;
  /** Storage buffers one kernel may bind: how many parameters one optimizer dispatch updates. */
  readonly maxStorageBuffersPerShaderStage: number;
  /**
   * The lanes of every subgroup, when the device has the 'subgroups' feature and a single
   * subgroup size; kernels then share loads across a subgroup. Absent otherwise.
   */
  readonly subgroupSize?: number;
  /** The variants an autotune chose on this device, by tuning key (src/shaders/variants.ts). */
  readonly tuned?: TunedChoices;
}

/** One row of the variant table: builder options that change how a kernel computes, never what. */
export interface Variant {
  /** Rows of the register tile. */
  readonly tileRows?: number;
  /** Invocations per workgroup (matmul without a subgroup). */
  readonly lanes?: number;
  /** false: build as if the device had no subgroups (per-lane loads instead of broadcasts). */
  readonly subgroups?: false;
}

/** The choices an autotune made, by tuning key: undefined where none was made. */
export interface TunedChoices {
  chosen(key: string): Variant | undefined;
}

/**
 * Kernels that compute the same thing over the same bindings, built from the rows of the
 * variant table: an autotune may time them on the real buffers and keep the fastest.
 */
export interface Tunable {
  /** The kernel family and its shape: what a choice is cached under, with the adapter. */
  readonly key: string;
  /** Each distinct kernel the table's rows build, the default (the empty variant) first. */
  variants(): readonly { readonly variant: Variant; readonly kernel: Kernel }[];
  /** The kernel of one variant. */
  build(variant: Variant): Kernel;
}

/** The WebGPU defaults every adapter supports; builders use them when no limits are given. */
export const defaultLimits: KernelLimits = {
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBuffersPerShaderStage: 8,
};

/**
 * Element types. 'float16' is internal: the half copies of weights that forward products read
 * where a model is compiled with `forwardWeights: 'float16'`, two elements per 32-bit word.
 */
export type DType = 'float32' | 'int32' | 'float16';

/** The WGSL scalar type that stores a dtype (float16 only in kernels that declare `enable f16`). */
export function wgslType(dtype: DType): 'f32' | 'i32' {
  if (dtype === 'float16') throw new Error('float16 tensors are read only by the forward products of a compiled step, not by elementwise kernels');
  return dtype === 'float32' ? 'f32' : 'i32';
}

/** Bytes a tensor of `size` elements of `dtype` takes: whole 32-bit words. */
export function byteSize(size: number, dtype: DType): number {
  return dtype === 'float16' ? Math.ceil(size / 2) * 4 : size * 4;
}
