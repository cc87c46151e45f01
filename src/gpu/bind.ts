// The one place bind groups are made, for eager dispatches (runtime.ts) and prepared plans
// (scheduler.ts) alike: a kernel's storage bindings from the caller's buffers or arena ranges,
// its uniform binding from a pooled buffer holding `kernel.uniforms`.

import type { Kernel } from '../shaders/kernel.js';
import type { PipelineCache } from './pipelines.js';
import { type BufferPool, BufferUsage } from './pool.js';

/** A kernel ready to dispatch, and the uniform buffer its bind group holds (null without one). */
export interface BoundKernel {
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  /** Acquired from the pool here; the caller releases it once no command can still read it. */
  readonly uniformBuffer: GPUBuffer | null;
}

/** How many storage buffers `kernel` binds: its bindings other than the uniform one. */
export function storageBindingCount(kernel: Kernel): number {
  return kernel.bindings.filter((b) => b !== 'uniform').length;
}

/**
 * Binds `resources` to the storage bindings of `kernel`, in order, and its uniforms to a fresh
 * uniform buffer. The caller checks the count of `resources` first, with its own message.
 */
/** What binding needs of the runtime. */
export interface BindContext {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
}

export function bindKernel(runtime: BindContext, kernel: Kernel, resources: readonly GPUBufferBinding[]): BoundKernel {
  const { device, pool, pipelines } = runtime;
  const { pipeline, layout } = pipelines.get(kernel);
  let uniformBuffer: GPUBuffer | null = null;
  let next = 0;
  const entries = kernel.bindings.map((kind, binding): GPUBindGroupEntry => {
    if (kind !== 'uniform') return { binding, resource: resources[next++] };
    if (!kernel.uniforms) throw new Error(`Kernel '${kernel.name}' declares a uniform binding but no uniforms`);
    if (!uniformBuffer) {
      uniformBuffer = pool.acquire(kernel.uniforms.byteLength, BufferUsage.UNIFORM | BufferUsage.COPY_DST, `${kernel.name} params`);
      device.queue.writeBuffer(uniformBuffer, 0, kernel.uniforms);
    }
    return { binding, resource: { buffer: uniformBuffer } };
  });
  const bindGroup = device.createBindGroup({ label: kernel.name, layout, entries });
  return { pipeline, bindGroup, uniformBuffer };
}
