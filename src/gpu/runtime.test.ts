// The runtime's error paths on a real device: WGSL compilation errors with source lines,
// validation errors with the kernels involved, and the pipeline cache compiling nothing twice.

import * as sf from 'shaderflow';
import { beforeAll, describe, expect, it } from 'vitest';
import { binaryScalar } from '../shaders/elementwise.js';
import type { Kernel } from '../shaders/kernel.js';
import { runtime } from './device.js';
import { sizeClass, storageUsage } from './pool.js';
import { Plan } from './scheduler.js';

beforeAll(async () => {
  await sf.ready();
});

const broken: Kernel = {
  name: 'broken',
  code: `@group(0) @binding(0) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(1)
fn main() {
  out[0] = 1.0 +* 2.0;
}
`,
  bindings: ['write'],
  workgroupSize: [1, 1, 1],
  dispatch: [1, 1, 1],
};

describe('WGSL compilation errors', () => {
  it('reject an async compile with the message and the offending source line', async () => {
    const error = await runtime().pipelines.compile(broken).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(/WGSL compilation of kernel 'broken' failed/);
    expect(message).toMatch(/5:\d+ error: /);
    expect(message).toContain('>    5 |   out[0] = 1.0 +* 2.0;');
  });

  it('reject the next read after an eager dispatch, then throw at once on reuse', async () => {
    const kernel = { ...broken, code: broken.code.replace('2.0', '3.0') };
    const rt = runtime();
    const out = rt.allocate(4, 'out', storageUsage);
    rt.dispatch(kernel, [out]);
    await expect(rt.read(out, 4)).rejects.toThrow(/WGSL compilation of kernel 'broken' failed[\s\S]*1\.0 \+\* 3\.0/);
    expect(() => rt.dispatch(kernel, [out])).toThrow(/WGSL compilation of kernel 'broken' failed/);
    rt.release(out);
    // The runtime stays usable.
    const t = sf.add(sf.tensor([1]), 1);
    expect(Array.from(await t.data())).toEqual([2]);
  });
});

describe('validation errors', () => {
  it('surface at the next read, naming the kernels that ran', async () => {
    const rt = runtime();
    // A uniform-only buffer bound as storage is invalid.
    const wrong = rt.allocate(16, 'wrong usage', 0x40 | 0x08);
    const out = rt.allocate(16, 'out', storageUsage);
    rt.dispatch(binaryScalar({ op: 'add', dtype: 'float32', size: 4, scalar: 1 }), [wrong, out]);
    await expect(rt.read(out, 16)).rejects.toThrow(/WebGPU validation error while running kernels \[add_scalar\]/);
    rt.release(wrong);
    rt.release(out);
    const t = sf.tensor([5]);
    expect(Array.from(await t.data())).toEqual([5]);
  });

  it('checks the number of buffers a kernel binds', () => {
    const rt = runtime();
    expect(() => rt.dispatch(binaryScalar({ op: 'add', dtype: 'float32', size: 4, scalar: 1 }), [])).toThrow(
      "Kernel 'add_scalar' binds 2 storage buffers, got 0",
    );
  });
});

describe('copies', () => {
  it('copy between offsets in order with the work around it, and a later write waits for them', async () => {
    const rt = runtime();
    const [a, b] = [rt.allocate(16, 'a', storageUsage), rt.allocate(16, 'b', storageUsage)];
    rt.write(a, new Float32Array([1, 2, 3, 4]));
    rt.write(b, new Float32Array([0, 0, 0, 0]));
    rt.copy(a, 4, b, 8, 8, 'test copy');
    rt.copy(a, 0, b, 0, 0, 'empty copy');
    // queue.writeBuffer runs ahead of unsubmitted commands: without a flush first, b would get 9s.
    rt.write(a, new Float32Array([9, 9, 9, 9]));
    expect(Array.from(new Float32Array(await rt.read(b, 16)))).toEqual([0, 0, 2, 3]);
    rt.release(a);
    rt.release(b);
  });
});

describe('bind groups', () => {
  const add = binaryScalar({ op: 'add', dtype: 'float32', size: 4, scalar: 1 });

  it('refuse a uniform binding without uniforms, eagerly and in a plan', () => {
    const rt = runtime();
    const noUniforms = { ...add, uniforms: undefined };
    const [a, b] = [rt.allocate(16, 'a', storageUsage), rt.allocate(16, 'b', storageUsage)];
    expect(() => rt.dispatch(noUniforms, [a, b])).toThrow("Kernel 'add_scalar' declares a uniform binding but no uniforms");
    const plan = new Plan(rt, { buffers: [{ bytes: 16, label: 'x', role: 'input' }, { bytes: 16, label: 'y', role: 'output' }], steps: [{ kernel: noUniforms, args: [0, 1] }] }, 'p');
    expect(() => plan.run()).toThrow("Kernel 'add_scalar' declares a uniform binding but no uniforms");
    plan.dispose();
    rt.release(a);
    rt.release(b);
  });

  it('in a plan, check the number of buffers a kernel binds', () => {
    const plan = new Plan(runtime(), { buffers: [{ bytes: 16, label: 'x', role: 'input' }], steps: [{ kernel: add, args: [0] }] }, 'p');
    expect(() => plan.run()).toThrow("p: kernel 'add_scalar' binds 2 storage buffers, the program gives 1");
    plan.dispose();
  });

  it('a plan binds its uniforms once and runs like the eager dispatch', async () => {
    const rt = runtime();
    const plan = new Plan(rt, { buffers: [{ bytes: 16, label: 'x', role: 'input' }, { bytes: 16, label: 'y', role: 'output' }], steps: [{ kernel: add, args: [0, 1] }] }, 'p');
    plan.write(0, new Float32Array([1, 2, 3, 4]));
    plan.run();
    plan.run();
    expect(Array.from(new Float32Array(await rt.read(plan.buffer(1), 16)))).toEqual([2, 3, 4, 5]);
    plan.dispose();
  });
});

describe('pipeline cache', () => {
  it('compiles each WGSL source once, whatever the uniform values', async () => {
    const rt = runtime();
    const a = binaryScalar({ op: 'mul', dtype: 'float32', size: 10, scalar: 2 });
    const b = binaryScalar({ op: 'mul', dtype: 'float32', size: 99, scalar: -3 });
    expect(b.code).toBe(a.code);
    const before = rt.pipelines.compiled;
    const [p1, p2] = await Promise.all([rt.pipelines.compile(a), rt.pipelines.compile(b)]);
    expect(p1).toBe(p2);
    expect(rt.pipelines.compiled - before).toBeLessThanOrEqual(1);
    rt.pipelines.get(a);
    expect(rt.pipelines.compiled - before).toBeLessThanOrEqual(1);
  });
});

describe('buffer pool size classes', () => {
  it('rounds up by at most a quarter and reuses exact classes', () => {
    expect(sizeClass(1)).toBe(16);
    expect(sizeClass(100)).toBe(112);
    expect(sizeClass(4000)).toBe(4096);
    expect(sizeClass(4097)).toBe(5120);
    for (let n = 1; n < 1e7; n = Math.ceil(n * 1.37)) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c).toBeLessThanOrEqual(Math.max(16, n * 1.25 + 16));
      expect(sizeClass(c)).toBe(c);
    }
  });

  it('reuses a released buffer of the same class', () => {
    const pool = runtime().pool;
    const a = pool.acquire(1000, storageUsage);
    pool.release(a);
    const created = pool.created;
    const b = pool.acquire(1010, storageUsage);
    expect(b).toBe(a);
    expect(pool.created).toBe(created);
    pool.release(b);
    expect(() => pool.release(b)).toThrow(/released twice/);
  });
});

describe('submitting', () => {
  it('submits eager work after 128 dispatches even when nothing reads it back', async () => {
    const rt = runtime();
    await rt.flush();
    const x = sf.tensor(new Float32Array(8).fill(1));
    const submits = rt.counters.submits;
    let y = x;
    for (let k = 0; k < 300; k++) {
      const next = sf.add(y, 1);
      if (y !== x) y.dispose();
      y = next;
    }
    expect(rt.counters.submits - submits).toBe(2); // after dispatches 128 and 256, before any read
    expect(Array.from(await y.data())).toEqual(new Array(8).fill(301));
    for (const t of [x, y]) t.dispose();
  });
});
