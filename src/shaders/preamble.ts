// WGSL shared by every kernel (index helpers, numerically safe functions), the packing of
// uniform parameters, binding declarations and the one-invocation-per-element kernel wrapper,
// so no kernel pastes its own copy.

import { linearGrid } from './grid.js';
import type { BindingKind, Kernel, KernelLimits } from './kernel.js';

/** Helpers every kernel may call. Unused functions cost nothing in WGSL. */
export const preamble = /* wgsl */ `
// The flat index of this workgroup in a grid folded by foldWorkgroups.
fn flat_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + nwg.x * (wid.y + nwg.y * wid.z);
}
`;

/** WGSL reading element `index` of a `u32x8` uniform field (uniform arrays need 16-byte strides). */
export function at8(field: string, index: string): string {
  return `${field}[(${index}) >> 2u][(${index}) & 3u]`;
}

/** The WGSL entry-point header for a 1-D kernel: `i` is the flat element index. */
export function linearMain(workgroupSize: number): string {
  return /* wgsl */ `@compute @workgroup_size(${workgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = flat_workgroup(wid, nwg) * ${workgroupSize}u + lid;`;
}

/** A uniform field: a scalar, or up to 8 u32 values packed as `array<vec4<u32>, 2>` (read with `at8`). */
export type UniformField =
  | readonly [name: string, type: 'u32' | 'i32' | 'f32', value: number]
  | readonly [name: string, type: 'u32x8', value: readonly number[]];

export interface Uniforms {
  /** `struct Params { ... }` for the WGSL module. */
  readonly struct: string;
  /** The bytes to bind, laid out by WGSL's uniform alignment rules. */
  readonly data: ArrayBuffer;
}

/** Lays out uniform fields as a WGSL struct `Params` and the matching bytes. */
export function packUniforms(fields: readonly UniformField[]): Uniforms {
  const members: string[] = [];
  const writes: ((view: DataView) => void)[] = [];
  let offset = 0;
  for (const [name, type, value] of fields) {
    if (type === 'u32x8') {
      const values = value as readonly number[];
      if (values.length > 8) throw new Error(`packUniforms: field '${name}' holds at most 8 values, got ${values.length}`);
      offset = Math.ceil(offset / 16) * 16;
      const at = offset;
      writes.push((view) => values.forEach((v, k) => view.setUint32(at + 4 * k, v, true)));
      members.push(`${name}: array<vec4<u32>, 2>`);
      offset += 32;
    } else {
      const at = offset;
      const v = value as number;
      if (type === 'u32') writes.push((view) => view.setUint32(at, v, true));
      else if (type === 'i32') writes.push((view) => view.setInt32(at, v, true));
      else writes.push((view) => view.setFloat32(at, v, true));
      members.push(`${name}: ${type}`);
      offset += 4;
    }
  }
  const data = new ArrayBuffer(Math.max(16, Math.ceil(offset / 16) * 16));
  const view = new DataView(data);
  for (const write of writes) write(view);
  return { struct: `struct Params {\n  ${members.join(',\n  ')},\n}`, data };
}

/** A storage binding: its WGSL name, whether the kernel only reads it, and its element type. */
export type StorageBuffer = readonly [name: string, access: 'read' | 'write', type: 'f32' | 'i32' | 'u32' | 'f16' | 'vec4<f32>' | 'vec4<i32>'];

export interface Bindings {
  /** `@group(0) @binding(k)` declarations, in order, ending with `p: Params` when there is a uniform. */
  readonly wgsl: string;
  readonly bindings: BindingKind[];
}

/** Declares `buffers` as bindings 0, 1, ... of group 0, then the uniform `p: Params` when `uniform`. */
export function declareBindings(buffers: readonly StorageBuffer[], uniform: boolean): Bindings {
  const lines = buffers.map(([name, access, type], k) =>
    `@group(0) @binding(${k}) var<storage, ${access === 'read' ? 'read' : 'read_write'}> ${name}: array<${type}>;`);
  if (uniform) lines.push(`@group(0) @binding(${buffers.length}) var<uniform> p: Params;`);
  return {
    wgsl: lines.join('\n'),
    bindings: [...buffers.map(([, access]) => access), ...(uniform ? ['uniform' as const] : [])],
  };
}

export interface LinearKernelParams {
  name: string;
  /** Invocations: the body runs once for each flat index `i` < count. */
  count: number;
  limits: KernelLimits;
  /** Storage bindings, in binding order. */
  buffers: readonly StorageBuffer[];
  /**
   * Fields of the uniform `p`, bound after the buffers. Without fields (and without
   * `countUniform`) the kernel has no uniform binding.
   */
  fields?: readonly UniformField[];
  /**
   * Pass `count` as the first uniform field `p.n` rather than as a WGSL constant, so that every
   * size shares one pipeline.
   */
  countUniform?: boolean;
  /** Module-scope WGSL the body calls: functions, constants, private variables. */
  functions?: string;
  /** WGSL statements run for element `i`. */
  body: string;
}

/** `enable f16;` for a module that reads halves (`half`), else ''. */
export function enableHalves(half: boolean): string {
  return half ? 'enable f16;\n' : '';
}

/** A load from a buffer of halves (`half`) widened to `type`, or the load as it is. */
export function widen(load: string, half: boolean, type: 'f32' | 'vec4<f32>'): string {
  return half ? `${type}(${load})` : load;
}

/** `enable f16;` when any of `buffers` holds halves (the device then has 'shader-f16'), else ''. */
function enables(buffers: readonly StorageBuffer[]): string {
  return enableHalves(buffers.some(([, , type]) => type === 'f16'));
}

/** A kernel with one invocation per element of a flat range: `i` is the element, bounds-checked. */
export function linearKernel({ name, count, limits, buffers, fields = [], countUniform = false, functions = '', body }: LinearKernelParams): Kernel {
  const grid = linearGrid(count, limits);
  const allFields: readonly UniformField[] = countUniform ? [['n', 'u32', count], ...fields] : fields;
  const uniforms = allFields.length > 0 ? packUniforms(allFields) : undefined;
  const { wgsl, bindings } = declareBindings(buffers, uniforms !== undefined);
  const code = /* wgsl */ `${enables(buffers)}${preamble}${functions}
${uniforms ? `${uniforms.struct}\n` : ''}${wgsl}

${linearMain(grid.workgroupSize[0])}
  if (i >= ${countUniform ? 'p.n' : `${count}u`}) { return; }
${body}
}
`;
  return { name, code, bindings, ...(uniforms ? { uniforms: uniforms.data } : {}), ...grid };
}
