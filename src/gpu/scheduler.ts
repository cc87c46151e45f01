// The scheduler: turns a program (buffers and an ordered list of kernel dispatches) into a plan
// whose memory is laid out once by liveness, whose pipelines, bind groups and uniform buffers are
// made once, and which each run encodes into one command buffer and submits without waiting.

import type { Kernel, Tunable } from '../shaders/kernel.js';
import { bindKernel, storageBindingCount } from './bind.js';
import { BufferUsage, sizeClass, storageUsage } from './pool.js';
import type { Runtime } from './runtime.js';

/**
 * One buffer of a program. 'external' buffers belong to someone else (parameters, optimizer
 * state, constants) and are bound as they are; 'input' buffers are written before each run;
 * 'output' buffers keep their contents after a run for reading; 'temp' buffers are
 * intermediates, whose memory is shared once they are dead.
 */
export interface ProgramBuffer {
  readonly bytes: number;
  readonly label: string;
  readonly role: 'external' | 'input' | 'output' | 'temp';
  readonly external?: GPUBuffer;
  /** The same memory as that buffer (a reshape): its index in the program's buffers. */
  readonly aliasOf?: number;
}

export type ProgramStep =
  | {
      readonly kernel: Kernel;
      /** The program buffers bound to the kernel's storage bindings, in order. */
      readonly args: readonly number[];
      /** The kernel's variants, where an autotune may choose among them (src/gpu/tuning.ts). */
      readonly tuning?: Tunable;
    }
  | { readonly copy: readonly [from: number, to: number]; readonly bytes: number };

export interface Program {
  readonly buffers: readonly ProgramBuffer[];
  readonly steps: readonly ProgramStep[];
}

export interface MemoryPlan {
  /** Physical buffer of each program buffer (aliases resolved); −1 for externals. */
  readonly assignment: readonly number[];
  /** Byte offset of each program buffer within its physical buffer. */
  readonly offsets: readonly number[];
  /** Bytes of each physical buffer the plan owns (inputs, outputs, then the arenas of temps). */
  readonly sizes: readonly number[];
  /** Bytes the plan holds on the device: the sum of `sizes`. */
  readonly peakBytes: number;
  /** Bytes all intermediates would take if none shared memory. */
  readonly intermediateBytes: number;
  /** The most bytes of intermediates alive at any one step: what a perfect planner would need for them. */
  readonly liveBytes: number;
}

function rootOf(buffers: readonly ProgramBuffer[], index: number): number {
  let k = index;
  for (let hops = 0; buffers[k].aliasOf !== undefined; hops++) {
    if (hops > buffers.length) throw new Error(`planMemory: buffer ${index} ('${buffers[index].label}') aliases itself`);
    k = buffers[k].aliasOf!;
  }
  return k;
}

function stepBuffers(step: ProgramStep): readonly number[] {
  return 'copy' in step ? step.copy : step.args;
}

/** Storage buffer binding offsets must be multiples of this (WebGPU's minStorageBufferOffsetAlignment default). */
const offsetAlignment = 256;

const align = (n: number, to = offsetAlignment): number => Math.ceil(n / to) * to;

/**
 * Lays out every buffer of `program` in physical memory. A temp lives from the first step that
 * touches it (or an alias of it) to the last. Temps are placed largest first, each at the lowest
 * offset of an arena where nothing alive at the same time lies (TFLite's "greedy by size" arena
 * planner): the forward activations' memory serves the backward pass's gradients, and two small
 * temps can share the space of one large dead one. Arenas grow up to `maxBufferBytes`, then a
 * new one starts. Inputs and outputs get buffers of their own, externals none (−1).
 */
export function planMemory(program: Program, maxBufferBytes = Infinity): MemoryPlan {
  const { buffers, steps } = program;
  const roots = buffers.map((_, k) => rootOf(buffers, k));
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  steps.forEach((step, s) => {
    for (const b of stepBuffers(step)) {
      if (b < 0 || b >= buffers.length) throw new Error(`planMemory: step ${s} binds buffer ${b}, but the program has ${buffers.length}`);
      const r = roots[b];
      if (!first.has(r)) first.set(r, s);
      last.set(r, s);
    }
  });
  const sizes: number[] = [];
  const physical = new Array<number>(buffers.length).fill(-1);
  const offsets = new Array<number>(buffers.length).fill(0);
  for (const [k, buffer] of buffers.entries()) {
    if (roots[k] !== k || (buffer.role !== 'input' && buffer.role !== 'output')) continue;
    physical[k] = sizes.push(sizeClass(buffer.bytes)) - 1;
  }
  const temps = buffers
    .map((buffer, k) => ({ k, bytes: align(Math.max(buffer.bytes, 1)), role: buffer.role }))
    .filter(({ k, role }) => roots[k] === k && role === 'temp' && first.has(k))
    .sort((a, b) => b.bytes - a.bytes || first.get(a.k)! - first.get(b.k)!);
  // WebGPU forbids binding one buffer as writable storage and again in the same dispatch, even
  // at disjoint ranges: temps that meet in a step never share an arena.
  const together = new Map<number, Set<number>>();
  for (const step of steps) {
    const here = new Set(stepBuffers(step).map((b) => roots[b]));
    for (const r of here) {
      const set = together.get(r) ?? new Set<number>();
      for (const o of here) if (o !== r) set.add(o);
      together.set(r, set);
    }
  }
  type Placed = { k: number; offset: number; bytes: number; from: number; to: number };
  const arenas: { index: number; placed: Placed[]; extent: number }[] = [];
  for (const { k, bytes } of temps) {
    const [from, to] = [first.get(k)!, last.get(k)!];
    let placedIn: (typeof arenas)[number] | undefined;
    let offset = 0;
    for (const arena of arenas) {
      offset = 0;
      if (arena.placed.some((p) => together.get(k)?.has(p.k))) continue;
      const overlapping = arena.placed.filter((p) => p.from <= to && p.to >= from).sort((a, b) => a.offset - b.offset);
      for (const p of overlapping) {
        if (offset + bytes <= p.offset) break;
        offset = Math.max(offset, p.offset + p.bytes);
      }
      if (offset + bytes <= maxBufferBytes) {
        placedIn = arena;
        break;
      }
    }
    if (!placedIn) {
      if (bytes > maxBufferBytes) throw new Error(`planMemory: an intermediate of ${bytes} bytes exceeds the device's largest buffer (${maxBufferBytes} bytes)`);
      placedIn = { index: -1, placed: [], extent: 0 };
      arenas.push(placedIn);
      offset = 0;
    }
    placedIn.placed.push({ k, offset, bytes, from, to });
    placedIn.extent = Math.max(placedIn.extent, offset + bytes);
    offsets[k] = offset;
    physical[k] = arenas.indexOf(placedIn); // an arena number for now
  }
  const arenaBase = sizes.length;
  for (const arena of arenas) sizes.push(arena.extent);
  for (const { k } of temps) physical[k] += arenaBase;
  const intermediateBytes = temps.reduce((n, t) => n + t.bytes, 0);
  const alive = new Array<number>(steps.length).fill(0);
  for (const { k, bytes } of temps) for (let s = first.get(k)!; s <= last.get(k)!; s++) alive[s] += bytes;
  const liveBytes = Math.max(0, ...alive);
  const assignment = buffers.map((buffer, k) => (buffer.role === 'external' && roots[k] === k ? -1 : physical[roots[k]]));
  return {
    assignment,
    offsets: buffers.map((_, k) => offsets[roots[k]]),
    sizes,
    peakBytes: sizes.reduce((a, b) => a + b, 0),
    intermediateBytes,
    liveBytes,
  };
}

export interface ProfileRow {
  kernel: string;
  dispatches: number;
  /** GPU time of all its dispatches in one run, from timestamp queries; NaN where the adapter has none. */
  milliseconds: number;
}

/** One profiled run of a plan: per-kernel dispatch counts and GPU times, and the plan's memory. */
export interface Profile {
  readonly label: string;
  readonly rows: readonly ProfileRow[];
  readonly dispatches: number;
  readonly milliseconds: number;
  readonly memory: MemoryPlan;
  /** A table: kernel, dispatches, GPU ms and share, then the totals and the planned memory. */
  toString(): string;
}

function formatProfile(p: Omit<Profile, 'toString'>): string {
  const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const width = Math.max(6, ...p.rows.map((r) => r.kernel.length));
  const lines = [`${p.label}`, `${'kernel'.padEnd(width)}  dispatches  GPU ms   share`];
  for (const r of p.rows) {
    const share = p.milliseconds > 0 ? `${((100 * r.milliseconds) / p.milliseconds).toFixed(1)}%` : '–';
    lines.push(`${r.kernel.padEnd(width)}  ${String(r.dispatches).padStart(10)}  ${r.milliseconds.toFixed(2).padStart(7)}  ${share.padStart(6)}`);
  }
  lines.push(`${'total'.padEnd(width)}  ${String(p.dispatches).padStart(10)}  ${p.milliseconds.toFixed(2).padStart(7)}`);
  lines.push(
    `memory: ${mb(p.memory.peakBytes)} planned (intermediates ${mb(p.memory.intermediateBytes)} if unshared, ` +
      `${mb(p.memory.liveBytes)} alive at most at once)`,
  );
  return lines.join('\n');
}

/** Reads a small GPU buffer through a ring of staging buffers: sampled each run, never awaited. */
export class RingReader {
  private readonly slots: { buffer: GPUBuffer; state: 'free' | 'copied' | 'mapping' }[];
  /** The newest values read back and the run they were copied at (−1 before the first). */
  latest: { values: Float32Array; run: number } | null = null;

  constructor(private readonly runtime: Runtime, private readonly source: GPUBuffer, private readonly bytes: number, slots = 3) {
    this.slots = Array.from({ length: slots }, () => ({
      buffer: runtime.pool.acquire(bytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'ring readback'),
      state: 'free' as const,
    }));
  }

  /** Copies the source into a free slot, if one is free, within the run's command buffer. */
  encode(encoder: GPUCommandEncoder): void {
    const slot = this.slots.find((s) => s.state === 'free');
    if (!slot) return;
    encoder.copyBufferToBuffer(this.source, 0, slot.buffer, 0, this.bytes);
    slot.state = 'copied';
  }

  /** After the submit: maps the slot copied in this run; its values arrive a few runs later. */
  submitted(run: number): void {
    const slot = this.slots.find((s) => s.state === 'copied');
    if (!slot) return;
    slot.state = 'mapping';
    slot.buffer.mapAsync(0x0001 /* GPUMapMode.READ */, 0, this.bytes).then(
      () => {
        const values = new Float32Array(slot.buffer.getMappedRange(0, this.bytes).slice(0));
        slot.buffer.unmap();
        slot.state = 'free';
        if (!this.latest || run > this.latest.run) this.latest = { values, run };
      },
      () => undefined, // the device was lost: the runtime reports it
    );
  }

  /** The exact current values, waiting for all submitted work. */
  async exact(): Promise<Float32Array> {
    return new Float32Array(await this.runtime.read(this.source, this.bytes));
  }

  dispose(): void {
    for (const slot of this.slots) if (slot.state !== 'mapping') this.runtime.pool.release(slot.buffer);
  }
}

interface PreparedDispatch {
  readonly kernel: Kernel;
  readonly bindGroup: GPUBindGroup;
  readonly pipeline: GPUComputePipeline;
}

type Located = { buffer: GPUBuffer; offset?: number };
type PreparedStep = PreparedDispatch | { readonly copy: readonly [Located, Located]; readonly bytes: number };

/** A program made ready to run again and again. */
export class Plan {
  readonly memory: MemoryPlan;
  /** Kernel dispatches per run. */
  readonly dispatches: number;
  private readonly physical: GPUBuffer[];
  private readonly uniformBuffers: GPUBuffer[] = [];
  private prepared: PreparedStep[] | null = null;
  private readonly readers: RingReader[] = [];
  private runs = 0;
  private disposed = false;

  constructor(readonly runtime: Runtime, readonly program: Program, readonly label: string) {
    this.memory = planMemory(program, runtime.pool.maxBufferSize);
    this.dispatches = program.steps.filter((s) => !('copy' in s)).length;
    this.physical = this.memory.sizes.map((bytes) => runtime.allocate(bytes, label, storageUsage));
  }

  /** Runs submitted so far. */
  get runCount(): number {
    return this.runs;
  }

  /**
   * Compiles every pipeline of the plan in parallel, without blocking the thread; then, in
   * 'tune' mode, times the variants of each tunable kernel the adapter has no choice for yet in
   * place, on the plan's own buffers before its first run, and keeps the fastest.
   */
  async compile(): Promise<void> {
    const kernels = this.program.steps.flatMap((s) => ('copy' in s ? [] : [s.kernel]));
    await Promise.all(kernels.map((k) => this.runtime.pipelines.compile(k)));
    const { tuning } = this.runtime;
    if (this.prepared || !this.program.steps.some((s) => !('copy' in s) && s.tuning && tuning.needs(s.tuning))) return;
    const roots = this.program.buffers.map((_, k) => this.program.buffers[rootOf(this.program.buffers, k)]);
    const dispatches = this.program.steps.flatMap((step) => {
      if ('copy' in step) return [];
      const kernel = this.kernelOf(step);
      const writes = kernel.bindings.filter((b) => b !== 'uniform');
      return [{
        kernel,
        bindings: step.args.map((k) => this.binding(k)),
        ...(step.tuning ? { tuning: step.tuning } : {}),
        writesOutside: step.args.some((k, b) => writes[b] === 'write' && roots[k].role === 'external'),
      }];
    });
    await tuning.exclusive(() => tuning.tuneInPlace(this.runtime, dispatches));
  }

  /** The kernel a step runs: the adapter's chosen variant where it has one, else the one lowered. */
  private kernelOf(step: Exclude<ProgramStep, { copy: unknown }>): Kernel {
    return (step.tuning && this.runtime.tuning.kernelFor(step.tuning)) || step.kernel;
  }

  /** The GPU buffer behind program buffer `index` (inputs, outputs and externals have one to themselves). */
  buffer(index: number): GPUBuffer {
    return this.binding(index).buffer;
  }

  /** Where program buffer `index` lies: its GPU buffer, and for a temp its range in an arena. */
  private binding(index: number): { buffer: GPUBuffer; offset?: number; size?: number } {
    const buffer = this.program.buffers[index];
    if (buffer === undefined) throw new Error(`${this.label}: no buffer ${index}`);
    const root = this.program.buffers[rootOf(this.program.buffers, index)];
    if (root.role === 'external') return { buffer: root.external! };
    const physical = this.physical[this.memory.assignment[index]];
    if (root.role !== 'temp') return { buffer: physical };
    return { buffer: physical, offset: this.memory.offsets[index], size: Math.max(4, Math.ceil(buffer.bytes / 4) * 4) };
  }

  /** Writes a run's input (an 'input' buffer) before the next run. */
  write(index: number, data: ArrayBufferView): void {
    this.runtime.write(this.buffer(index), data);
  }

  /** Samples a buffer of this plan (a metrics accumulator) after every run, read a few runs late. */
  watch(index: number, bytes: number): RingReader {
    const reader = new RingReader(this.runtime, this.buffer(index), bytes);
    this.readers.push(reader);
    return reader;
  }

  private prepare(): PreparedStep[] {
    return this.program.steps.map((step) => {
      if ('copy' in step) {
        const [from, to] = step.copy.map((k) => this.binding(k));
        return { copy: [from, to] as const, bytes: step.bytes };
      }
      const kernel = this.kernelOf(step);
      const storage = storageBindingCount(kernel);
      if (storage !== step.args.length) {
        throw new Error(`${this.label}: kernel '${kernel.name}' binds ${storage} storage buffers, the program gives ${step.args.length}`);
      }
      const { pipeline, bindGroup, uniformBuffer } = bindKernel(this.runtime, kernel, step.args.map((k) => this.binding(k)));
      if (uniformBuffer) this.uniformBuffers.push(uniformBuffer);
      return { kernel, pipeline, bindGroup };
    });
  }

  /**
   * Encodes every step into the runtime's command encoder and submits it: one submit, no wait.
   * Pipelines not compiled by `compile()` are created on the spot.
   */
  run(): void {
    if (this.disposed) throw new Error(`${this.label} was disposed`);
    this.runtime.check();
    this.prepared ??= this.prepare();
    const run = this.runs++;
    this.runtime.encode((encoder) => {
      // One compute pass for all dispatches (WebGPU orders them and their memory); a copy ends it.
      let pass: GPUComputePassEncoder | null = null;
      for (const step of this.prepared!) {
        if ('copy' in step) {
          pass?.end();
          pass = null;
          const [from, to] = step.copy;
          encoder.copyBufferToBuffer(from.buffer, from.offset ?? 0, to.buffer, to.offset ?? 0, step.bytes);
          continue;
        }
        if (step.kernel.dispatch.some((n) => n === 0)) continue;
        pass ??= encoder.beginComputePass({ label: this.label });
        pass.setPipeline(step.pipeline);
        pass.setBindGroup(0, step.bindGroup);
        pass.dispatchWorkgroups(...step.kernel.dispatch);
      }
      pass?.end();
      for (const reader of this.readers) reader.encode(encoder);
    }, this.label);
    void this.runtime.flush();
    for (const reader of this.readers) reader.submitted(run);
  }

  /**
   * Runs one step with a timestamp around every dispatch and returns, per kernel, its dispatch
   * count and GPU time (slowest first). Without the adapter's 'timestamp-query' feature the
   * times are NaN. `String(profile)` prints it as a table with the plan's memory.
   */
  async profile(): Promise<Profile> {
    const rows = await this.profileRows();
    const summary = {
      label: this.label,
      rows,
      dispatches: this.dispatches,
      milliseconds: rows.reduce((n, r) => n + r.milliseconds, 0),
      memory: this.memory,
    };
    return { ...summary, toString: () => formatProfile(summary) };
  }

  private async profileRows(): Promise<ProfileRow[]> {
    this.prepared ??= this.prepare();
    const dispatches = this.prepared.filter((s): s is PreparedDispatch => !('copy' in s));
    const rows = new Map<string, ProfileRow>();
    for (const d of dispatches) {
      const row = rows.get(d.kernel.name) ?? { kernel: d.kernel.name, dispatches: 0, milliseconds: 0 };
      row.dispatches++;
      rows.set(d.kernel.name, row);
    }
    const device = this.runtime.device;
    if (!device.features.has('timestamp-query') || dispatches.length === 0) {
      this.run();
      for (const row of rows.values()) row.milliseconds = NaN;
      return [...rows.values()];
    }
    const count = 2 * dispatches.length;
    const querySet = device.createQuerySet({ type: 'timestamp', count });
    const resolved = device.createBuffer({ size: count * 8, usage: 0x0200 /* QUERY_RESOLVE */ | BufferUsage.COPY_SRC });
    try {
      this.runtime.encode((encoder) => {
        dispatches.forEach((d, i) => {
          const pass = encoder.beginComputePass({ label: d.kernel.name, timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
          if (d.kernel.dispatch.every((n) => n > 0)) {
            pass.setPipeline(d.pipeline);
            pass.setBindGroup(0, d.bindGroup);
            pass.dispatchWorkgroups(...d.kernel.dispatch);
          }
          pass.end();
        });
        encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
      }, `${this.label} (profiled)`);
      this.runs++;
      const times = new BigUint64Array(await this.runtime.read(resolved, count * 8));
      dispatches.forEach((d, i) => {
        rows.get(d.kernel.name)!.milliseconds += Number(times[2 * i + 1] - times[2 * i]) / 1e6;
      });
    } finally {
      querySet.destroy();
      resolved.destroy();
    }
    return [...rows.values()].sort((a, b) => b.milliseconds - a.milliseconds);
  }

  /** Gives the plan's buffer for program buffer `index` to the caller, who then owns it. */
  take(index: number): GPUBuffer {
    const p = this.memory.assignment[index];
    const buffer = this.physical[p];
    this.physical[p] = null as unknown as GPUBuffer;
    return buffer;
  }

  /** Returns every buffer the plan owns to the pool. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const buffer of this.physical) if (buffer) this.runtime.release(buffer);
    for (const buffer of this.uniformBuffers) this.runtime.release(buffer);
    for (const reader of this.readers) reader.dispose();
  }
}
