// A compiled step: a function of tensors traced once per input shape into a plan, which then
// runs as one command buffer per call with every tensor resident on the GPU. model.fit runs its
// training step this way; tests and benchmarks use it directly.

import { runtime } from '../gpu/device.js';
import { Plan, type Profile, type RingReader } from '../gpu/scheduler.js';
import { placeholder, toProgram, trace } from './graph.js';
import { type DType, Tensor } from './tensor.js';

export interface InputSpec {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** One input shape's plan: the program's input and output buffers and the plan running them. */
export class PlannedStep {
  /** @internal Set by the first compile(); later calls for the same shapes await it, not the cache. */
  compiled: Promise<void> | null = null;

  constructor(
    readonly plan: Plan,
    private readonly inputs: readonly number[],
    private readonly outputs: readonly { index: number; shape: readonly number[]; dtype: DType }[],
    private readonly index: Map<Tensor, number>,
  ) {}

  /** Writes the inputs (host arrays, or tensors copied on the GPU) and submits one run. */
  run(values: readonly (Tensor | ArrayBufferView)[]): void {
    this.write(values);
    this.plan.run();
  }

  private write(values: readonly (Tensor | ArrayBufferView)[]): void {
    if (values.length !== this.inputs.length) throw new Error(`${this.plan.label}: expected ${this.inputs.length} inputs, got ${values.length}`);
    const rt = this.plan.runtime;
    values.forEach((v, k) => {
      const target = this.plan.buffer(this.inputs[k]);
      if (v instanceof Tensor) {
        if (v.size) rt.copy(v.buffer, 0, target, 0, v.byteLength, 'input copy');
      } else {
        rt.write(target, v);
      }
    });
  }

  /** The GPU buffer of input `k`, for a caller that fills it on the GPU before `plan.run()`. */
  inputBuffer(k: number): GPUBuffer {
    return this.plan.buffer(this.inputs[k]);
  }

  /** The GPU buffer holding output `k` after each run (until the next). */
  outputBuffer(k: number): GPUBuffer {
    return this.plan.buffer(this.outputs[k].index);
  }

  /** Reads output `k` of the last run. */
  async read(k: number): Promise<Float32Array | Int32Array> {
    const { index, dtype, shape } = this.outputs[k];
    const bytes = await this.plan.runtime.read(this.plan.buffer(index), shape.reduce((n, d) => n * d, 1) * 4);
    return dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes);
  }

  /** Samples a tensor of the step (a metrics accumulator) after every run through a ring of staging buffers. */
  watch(t: Tensor): RingReader {
    const k = this.index.get(t);
    if (k === undefined) throw new Error(`${this.plan.label}: ${t.describe()} is not used by the step`);
    return this.plan.watch(k, t.byteLength);
  }

  /**
   * Runs one step (on `values`, or on the last inputs) with GPU timestamps around every
   * dispatch; print the result for a table.
   */
  profile(values?: readonly (Tensor | ArrayBufferView)[]): Promise<Profile> {
    if (values) this.write(values);
    return this.plan.profile();
  }
}

/**
 * Traces `fn` with symbolic inputs of each new input shape, plans it, and reuses that plan for
 * every later call with the same shapes (so a last partial batch gets a plan of its own).
 * `fn` returns the tensors to keep readable after each run; tensors it uses from outside (the
 * parameters) are bound as they are, and ops without outputs (optimizer updates, metrics) run
 * for their effect.
 */
export class CompiledStep {
  private readonly plans = new Map<string, PlannedStep>();

  constructor(readonly name: string, private readonly fn: (...inputs: Tensor[]) => Tensor[] | void) {}

  /** The plan for inputs of these shapes, made on first use. */
  planFor(specs: readonly InputSpec[]): PlannedStep {
    const key = specs.map((s) => `${s.dtype}[${s.shape.join(',')}]`).join(' ');
    let planned = this.plans.get(key);
    if (planned) return planned;
    const { trace: t, result } = trace(this.name, () => {
      const inputs = specs.map((s) => placeholder(s.shape, s.dtype, this.name));
      return { inputs, outputs: this.fn(...inputs) ?? [] };
    });
    const rt = runtime();
    const { program, index, outputs } = toProgram(t, result.outputs, rt.limits);
    const plan = new Plan(rt, program, `${this.name} ${key}`);
    planned = new PlannedStep(
      plan,
      result.inputs.map((p) => index.get(p)!),
      result.outputs.map((o, k) => ({ index: outputs[k], shape: o.shape, dtype: o.dtype })),
      index,
    );
    this.plans.set(key, planned);
    return planned;
  }

  /** Plans for these shapes and compiles every pipeline in parallel, before the first run. */
  async compile(specs: readonly InputSpec[]): Promise<PlannedStep> {
    const planned = this.planFor(specs);
    await (planned.compiled ??= planned.plan.compile());
    return planned;
  }

  /** Runs once on `inputs` (tensors, or host arrays with their specs). */
  run(inputs: readonly Tensor[]): PlannedStep {
    const planned = this.planFor(inputs.map((t) => ({ shape: t.shape, dtype: t.dtype })));
    planned.run(inputs);
    return planned;
  }

  /** How many input shapes have a plan. */
  get planCount(): number {
    return this.plans.size;
  }

  dispose(): void {
    for (const planned of this.plans.values()) planned.plan.dispose();
    this.plans.clear();
  }
}

/** Compiles `fn` into a step that runs as one plan per input shape. */
export function compile(name: string, fn: (...inputs: Tensor[]) => Tensor[] | void): CompiledStep {
  if (typeof fn !== 'function') throw new Error(`sf.compile: expected a function, got ${typeof fn}`);
  return new CompiledStep(name, fn);
}
