// Reverse-mode autodiff over a trace, and TF.js's gradient functions on top of it: sf.grad,
// sf.grads, sf.valueAndGrad, sf.valueAndGrads trace the function, add its gradient ops, and run
// the whole graph as one plan, the same way a training step runs.

import { runtime } from '../gpu/device.js';
import { Plan } from '../gpu/scheduler.js';
import { activeTrace, type OpDef, toProgram, trace, type Trace } from './graph.js';
import { opTable } from './op-table.js';
import { add, check, ones } from './ops.js';
import { Tensor } from './tensor.js';

/**
 * Adds to `trace` the ops computing d(Σ y·dy)/dx for each x in `xs` (dy defaults to ones): the
 * recorded nodes are visited last to first, each passing its outputs' gradients to its inputs
 * through its rule; a tensor used twice gets the sum. Only nodes that depend on some x are
 * differentiated; a gradient rule may still compute an input's gradient nobody needs, which the
 * program drops as dead code. Null where y does not depend on x.
 */
export function gradients(trace: Trace, y: Tensor, xs: readonly Tensor[], dy?: Tensor): (Tensor | null)[] {
  const nodes = trace.nodes.slice();
  const depends = new Set<Tensor>(xs);
  for (const node of nodes) {
    if (node.inputs.some((t) => depends.has(t))) for (const o of node.outputs) depends.add(o);
  }
  const grads = new Map<Tensor, Tensor>();
  if (!depends.has(y)) return xs.map(() => null);
  grads.set(y, dy ?? ones(y.shape));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!node.inputs.some((t) => depends.has(t))) continue;
    const dys = node.outputs.map((o) => grads.get(o) ?? null);
    if (dys.every((d) => d === null)) continue;
    const rule = (opTable[node.kind] as unknown as OpDef<unknown>).grad;
    const dxs = rule(dys, node);
    node.inputs.forEach((t, k) => {
      const g = dxs[k];
      if (!g || !depends.has(t)) return;
      const previous = grads.get(t);
      grads.set(t, previous ? add(previous, g) : g);
    });
  }
  return xs.map((x) => grads.get(x) ?? null);
}

/** Runs `fn` as one traced plan and returns its results as tensors of their own. */
export function runTraced(name: string, fn: (trace: Trace) => Tensor[]): Tensor[] {
  if (activeTrace()) return fn(activeTrace()!); // already tracing (a compiled step): just record
  const { trace: t, result } = trace(name, fn);
  const rt = runtime();
  const { program, outputs } = toProgram(t, result, rt.limits);
  const plan = new Plan(rt, program, name);
  try {
    plan.run();
    const taken = new Map<number, GPUBuffer>();
    return result.map((r, i) => {
      const k = outputs[i];
      if (taken.has(k)) throw new Error(`${name}: the same result appears twice`);
      const buffer = plan.take(k);
      taken.set(k, buffer);
      return new Tensor(rt, buffer, r.shape, r.dtype);
    });
  } finally {
    plan.dispose();
  }
}

function checkFunction(f: unknown, name: string): void {
  if (typeof f !== 'function') throw new Error(`sf.${name}: expected a function, got ${typeof f}`);
}

function checkResult(y: unknown, name: string): asserts y is Tensor {
  if (!(y instanceof Tensor)) throw new Error(`sf.${name}: the function must return a Tensor, got ${y === null ? 'null' : typeof y}`);
}

function checkDy(dy: Tensor | undefined, y: Tensor, name: string): void {
  if (dy === undefined) return;
  check(dy, name, 'dy');
  if (dy.rank !== y.rank || dy.shape.some((d, k) => d !== y.shape[k])) {
    throw new Error(`sf.${name}: dy must have the shape of f's result [${y.shape.join(', ')}], got [${dy.shape.join(', ')}]`);
  }
}

function valueAndGradsOf(name: string, f: (...xs: Tensor[]) => Tensor, xs: readonly Tensor[], dy: Tensor | undefined): { value: Tensor; grads: Tensor[] } {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error(`sf.${name}: expected a non-empty array of Tensors to differentiate by, got ${Array.isArray(xs) ? 'an empty array' : typeof xs}`);
  xs.forEach((x, k) => check(x, name, `args[${k}]`));
  const [value, ...grads] = runTraced(`sf.${name}`, (t) => {
    const y = f(...xs);
    checkResult(y, name);
    checkDy(dy, y, name);
    const gs = gradients(t, y, xs, dy);
    const missing = gs.findIndex((g) => g === null);
    if (missing >= 0) {
      throw new Error(
        `sf.${name}: cannot compute the gradient of y = f(x) with respect to argument ${missing} (${xs[missing].describe()}): ` +
          'y does not depend on it through ops inside f',
      );
    }
    return [y, ...(gs as Tensor[])];
  });
  return { value, grads };
}

/** f ↦ (x, dy?) ↦ df/dx, as tf.grad. */
export function grad(f: (x: Tensor) => Tensor): (x: Tensor, dy?: Tensor) => Tensor {
  checkFunction(f, 'grad');
  return (x, dy) => {
    const { value, grads } = valueAndGradsOf('grad', f, [x], dy);
    value.dispose();
    return grads[0];
  };
}

/** f ↦ (args, dy?) ↦ [df/dargs[0], ...], as tf.grads. */
export function grads(f: (...args: Tensor[]) => Tensor): (args: Tensor[], dy?: Tensor) => Tensor[] {
  checkFunction(f, 'grads');
  return (args, dy) => {
    const { value, grads: gs } = valueAndGradsOf('grads', f, args, dy);
    value.dispose();
    return gs;
  };
}

/** f ↦ (x, dy?) ↦ { value: f(x), grad: df/dx }, as tf.valueAndGrad. */
export function valueAndGrad(f: (x: Tensor) => Tensor): (x: Tensor, dy?: Tensor) => { value: Tensor; grad: Tensor } {
  checkFunction(f, 'valueAndGrad');
  return (x, dy) => {
    const { value, grads: gs } = valueAndGradsOf('valueAndGrad', f, [x], dy);
    return { value, grad: gs[0] };
  };
}

/** f ↦ (args, dy?) ↦ { value: f(...args), grads }, as tf.valueAndGrads. */
export function valueAndGrads(f: (...args: Tensor[]) => Tensor): (args: Tensor[], dy?: Tensor) => { value: Tensor; grads: Tensor[] } {
  checkFunction(f, 'valueAndGrads');
  return (args, dy) => valueAndGradsOf('valueAndGrads', f, args, dy);
}
