// The graph: every op, eager or traced, goes through `apply`. Eagerly it dispatches the op's
// kernels at once; inside a trace it records a node over symbolic tensors, and `toProgram`
// later hands the recorded nodes to the scheduler (src/gpu/scheduler.ts) as one program.

import { runtime } from '../gpu/device.js';
import { storageUsage } from '../gpu/pool.js';
import type { Program, ProgramBuffer, ProgramStep } from '../gpu/scheduler.js';
import type { Kernel, KernelLimits, Tunable } from '../shaders/kernel.js';
import { opTable, type OpAttrs, type OpKind } from './op-table.js';
import { emptyTensor, type DType, Tensor, type TraceRef } from './tensor.js';

/** Temporary memory a kernel needs for one op (partial sums), freed after it. */
export class Scratch {
  constructor(readonly bytes: number) {}
}

/** One kernel dispatch of an op: its storage bindings are node tensors or scratch memory. */
export interface Dispatch {
  readonly kernel: Kernel;
  /** The kernel's variants, where an autotune may choose among them. */
  readonly tuning?: Tunable;
  readonly args: readonly (Tensor | Scratch)[];
}

export interface Shaped {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export interface Node<K extends OpKind = OpKind> {
  readonly kind: K;
  readonly inputs: readonly Tensor[];
  readonly attrs: OpAttrs[K];
  readonly outputs: readonly Tensor[];
}

/**
 * An op kind: the shapes it produces (checking its inputs), the kernels that compute it, and the
 * gradient of its inputs given the gradients of its outputs (null where none flows), written
 * with the same ops, so gradients can themselves be traced and planned.
 */
export interface OpDef<A> {
  outputs(inputs: readonly Tensor[], attrs: A): Shaped[];
  lower(node: { inputs: readonly Tensor[]; outputs: readonly Tensor[]; attrs: A }, limits: KernelLimits): Dispatch[];
  grad(dys: readonly (Tensor | null)[], node: { inputs: readonly Tensor[]; outputs: readonly Tensor[]; attrs: A }): (Tensor | null)[];
  /** Output 0 is input 0's memory under another shape (reshape): no kernel inside a plan. */
  readonly alias?: true;
  /** Whether the op also updates an input in place (a metrics accumulator), so it runs even when no output is needed. */
  effect?(attrs: A): boolean;
  /** The public op's name in messages (`sf.<name>: ...`) where it is not the kind's. */
  name?(attrs: A): string;
}

/** The ops recorded while a function runs symbolically. */
export class Trace implements TraceRef {
  readonly nodes: Node[] = [];
  /** Symbolic inputs, filled in by each run of a plan. */
  readonly placeholders: Tensor[] = [];
  constructor(readonly name: string) {}
}

let active: Trace | null = null;
const producers = new WeakMap<Tensor, Node>();

/** The traced node that produced `t`, if a trace recorded one. */
export function producerOf(t: Tensor): Node | undefined {
  return producers.get(t);
}

/** The value every element of `t` holds when a traced fill made it, else undefined. */
export function constantValue(t: Tensor): number | undefined {
  const node = producers.get(t);
  return node?.kind === 'fill' ? (node.attrs as OpAttrs['fill']).value : undefined;
}

/** The trace recording ops now, if any. */
export function activeTrace(): Trace | null {
  return active;
}

/** Runs `fn` with every op recorded into a new trace instead of dispatched. */
export function trace<T>(name: string, fn: (trace: Trace) => T): { trace: Trace; result: T } {
  if (active) throw new Error(`${name}: cannot start a trace inside ${active.name}`);
  const t = new Trace(name);
  active = t;
  try {
    return { trace: t, result: fn(t) };
  } finally {
    active = null;
  }
}

/** A symbolic input of the active trace, given values by each run. */
export function placeholder(shape: readonly number[], dtype: DType, where: string): Tensor {
  const t = active;
  if (!t) throw new Error(`${where}: placeholders exist only inside a trace`);
  const p = new Tensor(runtime(), null, shape, dtype, t);
  t.placeholders.push(p);
  return p;
}

/** Applies op `kind`: dispatches it now, or records it when a trace is active. */
export function apply<K extends OpKind>(kind: K, inputs: readonly Tensor[], attrs: OpAttrs[K]): Tensor[] {
  const def = opTable[kind] as unknown as OpDef<OpAttrs[K]>;
  for (const t of inputs) {
    if (t.trace && t.trace !== active) {
      throw new Error(`${kind}: ${t.describe()} is symbolic and belongs to ${t.trace.name}, which has ended; use tensors from outside the traced function, or its results`);
    }
  }
  const shapes = atTheDoor(kind, def, attrs, () => def.outputs(inputs, attrs));
  if (active) {
    const trace = active;
    const rt = runtime();
    const outputs = shapes.map((s) => new Tensor(rt, null, s.shape, s.dtype, trace));
    const node = { kind, inputs, attrs, outputs } as Node;
    trace.nodes.push(node);
    for (const o of outputs) producers.set(o, node);
    return outputs;
  }
  const outputs = shapes.map((s) => emptyTensor(s.shape, s.dtype, kind));
  const rt = outputs[0]?.runtime ?? runtime();
  if (def.alias) {
    const [from, to] = [inputs[0], outputs[0]];
    if (to.size) rt.copy(from.buffer, 0, to.buffer, 0, to.byteLength, kind);
    return outputs;
  }
  // Outputs with no elements have nothing to compute (softmax of an empty batch is empty, as TF.js).
  if (outputs.length > 0 && outputs.every((t) => t.size === 0)) return outputs;
  const scratch = new Map<Scratch, GPUBuffer>();
  try {
    for (const d of def.lower({ inputs, outputs, attrs }, rt.limits)) {
      const buffers = d.args.map((a) => {
        if (a instanceof Tensor) return a.buffer;
        if (!scratch.has(a)) scratch.set(a, rt.allocate(a.bytes, `${kind} scratch`, storageUsage));
        return scratch.get(a)!;
      });
      rt.dispatch(d.kernel, buffers);
    }
  } catch (error) {
    for (const t of outputs) t.dispose();
    throw error;
  } finally {
    for (const buffer of scratch.values()) rt.release(buffer);
  }
  return outputs;
}

/**
 * Records op `kind` over `inputs` in place of the traced `node`, producing the same tensors: for
 * an op that a later one folds into (a batch's metrics into its loss kernel), after gradient
 * rules have already read those tensors. The new inputs must exist where the node stands.
 */
export function rerecord<K extends OpKind>(node: Node, kind: K, inputs: readonly Tensor[], attrs: OpAttrs[K]): void {
  const trace = active;
  const at = trace ? trace.nodes.indexOf(node) : -1;
  if (!trace || at < 0) throw new Error(`${kind}: only a node of the active trace can be recorded again`);
  const def = opTable[kind] as unknown as OpDef<OpAttrs[K]>;
  const shapes = atTheDoor(kind, def, attrs, () => def.outputs(inputs, attrs));
  const same = shapes.length === node.outputs.length && shapes.every((s, k) => s.dtype === node.outputs[k].dtype && s.shape.join() === node.outputs[k].shape.join());
  if (!same) throw new Error(`${kind}: recorded again, it must produce the tensors ${node.outputs.map((t) => t.describe()).join(', ')}`);
  for (const t of inputs) {
    const producer = producers.get(t);
    if (producer && trace.nodes.indexOf(producer) > at) throw new Error(`${kind}: ${t.describe()} is produced after the node it would feed`);
  }
  const next = { kind, inputs, attrs, outputs: node.outputs } as Node;
  trace.nodes[at] = next;
  for (const o of next.outputs) producers.set(o, next);
}

/**
 * Runs an op's input checks (its `outputs`), so that what they refuse reaches the user as
 * `sf.<op>: ...`, the op they called, whichever helper found the fault.
 */
function atTheDoor<A>(kind: OpKind, def: OpDef<A>, attrs: A, check: () => Shaped[]): Shaped[] {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof Error) || error.message.startsWith('sf.')) throw error;
    throw new Error(`sf.${def.name?.(attrs) ?? kind}: ${error.message.replace(/^\w+: /, '')}`);
  }
}

/**
 * The nodes that `outputs` or a side effect (an optimizer update, a metrics accumulation: the
 * nodes without outputs) need, in recorded order. Gradient rules compute some gradients nobody
 * asked for (a network's input); this is where they go.
 */
function liveNodes(nodes: readonly Node[], outputs: readonly Tensor[]): Node[] {
  const needed = new Set(outputs);
  const live: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    const effect = (opTable[node.kind] as unknown as OpDef<unknown>).effect?.(node.attrs) ?? false;
    if (node.outputs.length > 0 && !effect && !node.outputs.some((o) => needed.has(o))) continue;
    live.push(node);
    for (const t of node.inputs) needed.add(t);
  }
  return live.reverse();
}

/**
 * Turns a trace into a program for the scheduler. Tensors from outside the trace (parameters,
 * constants) become external buffers; placeholders, inputs; `outputs`, buffers kept after the
 * run (copied where an output is another buffer's memory); everything else, temps. Returns the
 * buffer of every tensor and, in order, of each output.
 */
export function toProgram(trace: Trace, outputs: readonly Tensor[], limits: KernelLimits): { program: Program; index: Map<Tensor, number>; outputs: number[] } {
  const buffers: ProgramBuffer[] = [];
  const steps: ProgramStep[] = [];
  const index = new Map<Tensor, number>();
  const wanted = new Set(outputs);
  const add = (buffer: ProgramBuffer): number => buffers.push(buffer) - 1;
  const placeholders = new Set(trace.placeholders);
  for (const p of trace.placeholders) index.set(p, add({ bytes: p.byteLength, label: `input ${p.describe()}`, role: 'input' }));
  const bufferOf = (t: Tensor, where: string): number => {
    const known = index.get(t);
    if (known !== undefined) return known;
    if (t.isSymbolic) {
      throw new Error(`${trace.name}: ${where} uses ${t.describe()}, which no recorded op produced${placeholders.size ? '' : ' and which is not an input'}`);
    }
    const k = add({ bytes: t.byteLength, label: t.describe(), role: 'external', external: t.buffer });
    index.set(t, k);
    return k;
  };
  for (const node of liveNodes(trace.nodes, outputs)) {
    const def = opTable[node.kind] as unknown as OpDef<unknown>;
    const inputs = node.inputs.map((t) => bufferOf(t, node.kind));
    if (def.alias) {
      index.set(node.outputs[0], add({ bytes: node.outputs[0].byteLength, label: `${node.kind} ${node.outputs[0].describe()}`, role: 'temp', aliasOf: inputs[0] }));
      continue;
    }
    for (const t of node.outputs) {
      const own = wanted.has(t) && !index.has(t);
      index.set(t, add({ bytes: t.byteLength, label: `${node.kind} ${t.describe()}`, role: own ? 'output' : 'temp' }));
    }
    if (node.outputs.length > 0 && node.outputs.every((t) => t.size === 0)) continue; // nothing to compute
    const scratch = new Map<Scratch, number>();
    for (const d of def.lower(node, limits)) {
      const args = d.args.map((a) => {
        if (a instanceof Tensor) return index.get(a)!;
        if (!scratch.has(a)) scratch.set(a, add({ bytes: a.bytes, label: `${node.kind} scratch`, role: 'temp' }));
        return scratch.get(a)!;
      });
      steps.push({ kernel: d.kernel, args, ...(d.tuning ? { tuning: d.tuning } : {}) });
    }
  }
  // Outputs that are not buffers of their own (an input, a parameter, a reshape) get a copy.
  const result = new Map<Tensor, number>();
  for (const t of outputs) {
    const k = bufferOf(t, 'the outputs');
    if (buffers[k].role === 'output') {
      result.set(t, k);
      continue;
    }
    const copy = add({ bytes: t.byteLength, label: `output ${t.describe()}`, role: 'output' });
    steps.push({ copy: [k, copy], bytes: t.byteLength });
    result.set(t, copy);
  }
  // `index` keeps each tensor's own buffer (an input's is where runs write it), so an output
  // that is an input, as a model of one inference-time Dropout returns, is found as both.
  return { program: { buffers, steps }, index, outputs: outputs.map((t) => result.get(t)!) };
}
