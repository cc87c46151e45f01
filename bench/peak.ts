// The adapter's measured FMA peak: a kernel that keeps eight independent vec4 FMA chains in
// registers and touches memory once, so nothing but arithmetic limits it.

import type { Runtime } from '../src/gpu/runtime.js';
import { storageUsage } from '../src/gpu/pool.js';
import type { Kernel } from '../src/shaders/kernel.js';
import { time } from './timing.js';

const chains = 8;
const iterations = 2048;
const lanes = 256;
const workgroups = 512;

const peakKernel: Kernel = {
  name: 'fma_peak',
  code: /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${lanes})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
${Array.from({ length: chains }, (_, c) => `  var a${c} = vec4<f32>(f32(gid.x) * 1e-9 + ${c}.0);`).join('\n')}
  let m = vec4<f32>(0.9999, 0.9998, 0.9997, 0.9996);
  let b = vec4<f32>(1e-4, 2e-4, 3e-4, 4e-4);
  for (var k = 0u; k < ${iterations}u; k++) {
${Array.from({ length: chains }, (_, c) => `    a${c} = fma(a${c}, m, b);`).join('\n')}
  }
  out[gid.x] = ${Array.from({ length: chains }, (_, c) => `dot(a${c}, vec4<f32>(1.0))`).join(' + ')};
}`,
  bindings: ['write'],
  workgroupSize: [lanes, 1, 1],
  dispatch: [workgroups, 1, 1],
};

/** GFLOP/s of fused multiply-adds (2 FLOPs each) the adapter sustains. */
export async function measurePeak(rt: Runtime): Promise<number> {
  const out = rt.allocate(lanes * workgroups * 4, 'peak', storageUsage);
  try {
    const t = await time(async (count) => {
      for (let r = 0; r < count; r++) rt.dispatch(peakKernel, [out]);
      await rt.read(out, 4);
    });
    return (lanes * workgroups * iterations * chains * 4 * 2) / t.seconds / 1e9;
  } finally {
    rt.release(out);
  }
}
