// Runs one kernel builder's output on the real device: uploads inputs, poisons outputs (NaN for
// floats, a sentinel for ints) so an element the kernel never writes fails the comparison,
// dispatches, and reads every output back.

import { ready, runtime } from '../src/gpu/device.js';
import { storageUsage } from '../src/gpu/pool.js';
import type { Kernel } from '../src/shaders/kernel.js';

export const intPoison = -0x5a5a5a5a;

export type HostArray = Float32Array | Int32Array | Uint32Array;

export interface OutputSpec {
  size: number;
  dtype?: 'float32' | 'int32' | 'uint32';
  /** Initial contents instead of poison, for kernels that accumulate into or update their output. */
  init?: HostArray;
}

/**
 * Dispatches `kernel` (or several in order) with `inputs` then `outputs` bound in that order,
 * and returns the outputs. With several kernels, `bind[i]` lists the buffers (indices into
 * inputs followed by outputs) kernel i binds; by default each binds all of them.
 */
export async function runKernel(kernel: Kernel | Kernel[], inputs: HostArray[], outputs: OutputSpec[], bind?: number[][]): Promise<HostArray[]> {
  await ready();
  const rt = runtime();
  const buffers: GPUBuffer[] = [];
  try {
    for (const data of inputs) {
      const buffer = rt.allocate(data.byteLength, 'input', storageUsage);
      buffers.push(buffer);
      if (data.length) rt.write(buffer, data);
    }
    for (const spec of outputs) {
      const buffer = rt.allocate(spec.size * 4, 'output', storageUsage);
      buffers.push(buffer);
      const init = spec.init ?? (spec.dtype && spec.dtype !== 'float32' ? new Int32Array(spec.size).fill(intPoison) : new Float32Array(spec.size).fill(NaN));
      if (spec.size) rt.write(buffer, init);
    }
    (Array.isArray(kernel) ? kernel : [kernel]).forEach((k, i) => rt.dispatch(k, bind ? bind[i].map((b) => buffers[b]) : buffers));
    return await Promise.all(
      outputs.map(async (spec, k) => {
        const bytes = await rt.read(buffers[inputs.length + k], spec.size * 4);
        return spec.dtype === 'int32' ? new Int32Array(bytes) : spec.dtype === 'uint32' ? new Uint32Array(bytes) : new Float32Array(bytes);
      }),
    );
  } finally {
    for (const buffer of buffers) rt.release(buffer);
  }
}
