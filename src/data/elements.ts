// Walking a pipeline's elements: disposing the Tensors a verb drops, stacking a batch into
// Tensors (one upload per leaf), and the host copies that cache() replays.

import { emptyTensor, Tensor } from '../nn/tensor.js';
import { describe } from './source.js';
import { checkDtype, hostData, isHostArray, isPlainObject, sizeOf, type Slice } from './slices.js';

/** Disposes the Tensors in an element the pipeline drops (skip, filter, buffers left behind). */
export function disposeTensors(element: unknown): void {
  if (element instanceof Tensor) element.dispose();
  else if (Array.isArray(element)) element.forEach(disposeTensors);
  else if (isPlainObject(element) && !isHostArray(element)) Object.values(element).forEach(disposeTensors);
}

export function collectTensors(element: unknown, into: Set<Tensor>): Set<Tensor> {
  if (element instanceof Tensor) into.add(element);
  else if (Array.isArray(element)) element.forEach((e) => collectTensors(e, into));
  else if (isPlainObject(element) && !isHostArray(element)) Object.values(element).forEach((e) => collectTensors(e, into));
  return into;
}

/** A leaf of a batch, on the host: a Slice, or a Tensor read back. */
async function toSlice(leaf: unknown, where: string): Promise<Slice> {
  if (isHostArray(leaf)) {
    const dtype = leaf.dtype ?? (leaf.data instanceof Int32Array ? 'int32' : 'float32');
    checkDtype(dtype, where);
    if (sizeOf(leaf.shape) !== leaf.data.length) throw new Error(`${where}: shape [${leaf.shape}] holds ${sizeOf(leaf.shape)} values, but data has ${leaf.data.length}`);
    return { data: hostData(leaf.data, dtype), shape: [...leaf.shape], dtype };
  }
  if (typeof leaf === 'number') return { data: Float32Array.of(leaf), shape: [], dtype: 'float32' };
  if (leaf instanceof Tensor) {
    // Batching Tensors (a map before batch that made them) reads them back: correct, but slow.
    const data = await leaf.data();
    const slice: Slice = { data, shape: [...leaf.shape], dtype: leaf.dtype };
    leaf.dispose();
    return slice;
  }
  throw new Error(`${where}: cannot batch ${describe(leaf)}; elements must hold Slices ({ data, shape, dtype }), numbers or Tensors`);
}

/** Stacks the leaves of `elements` (all of one structure) into Tensors with a leading batch dimension. */
export async function stackBatch(elements: readonly unknown[]): Promise<unknown> {
  const walk = async (items: readonly unknown[], path: string): Promise<unknown> => {
    const first = items[0];
    if (Array.isArray(first)) {
      items.forEach((it, i) => {
        if (!Array.isArray(it) || it.length !== first.length) {
          throw new Error(`batch: element ${i} of the batch has a different structure at ${path || 'the top'} than element 0 (an array of ${first.length})`);
        }
      });
      const out: unknown[] = [];
      for (let k = 0; k < first.length; k++) out.push(await walk(items.map((it) => (it as unknown[])[k]), `${path}[${k}]`));
      return out;
    }
    if (isPlainObject(first) && !isHostArray(first)) {
      const keys = Object.keys(first);
      const out: Record<string, unknown> = {};
      for (const key of keys) {
        out[key] = await walk(
          items.map((it, i) => {
            if (!isPlainObject(it) || !(key in it)) throw new Error(`batch: element ${i} of the batch has no '${key}' at ${path || 'the top'}`);
            return it[key];
          }),
          `${path}.${key}`,
        );
      }
      return out;
    }
    const where = `batch (component ${path || 'x'})`;
    const slices: Slice[] = [];
    for (const leaf of items) slices.push(await toSlice(leaf, where));
    const { shape, dtype } = slices[0];
    const step = sizeOf(shape);
    const data = dtype === 'int32' ? new Int32Array(step * slices.length) : new Float32Array(step * slices.length);
    slices.forEach((s, i) => {
      if (s.dtype !== dtype || s.shape.length !== shape.length || s.shape.some((d, k) => d !== shape[k])) {
        throw new Error(`${where}: element ${i} of the batch is ${s.dtype} [${s.shape}], but element 0 is ${dtype} [${shape}]; all elements of a batch must match`);
      }
      data.set(s.data, i * step);
    });
    const t = emptyTensor([slices.length, ...shape], dtype, 'sf.data batch');
    if (data.length > 0) t.runtime.write(t.buffer, data);
    return t;
  };
  return walk(elements, '');
}

/** Host copies of an element's Tensors, so cache() can hand out fresh Tensors each epoch. */
class HostTensor {
  constructor(readonly data: Float32Array | Int32Array, readonly shape: readonly number[], readonly dtype: 'float32' | 'int32') {}
}

export async function toHostCopy(element: unknown): Promise<unknown> {
  if (element instanceof Tensor) return new HostTensor(await element.data(), element.shape, element.dtype);
  if (Array.isArray(element)) return Promise.all(element.map(toHostCopy));
  if (isPlainObject(element) && !isHostArray(element)) {
    const entries = await Promise.all(Object.entries(element).map(async ([k, v]) => [k, await toHostCopy(v)] as const));
    return Object.fromEntries(entries);
  }
  return element;
}

export function fromHostCopy(element: unknown): unknown {
  if (element instanceof HostTensor) {
    const t = emptyTensor(element.shape, element.dtype, 'sf.data cache');
    if (element.data.length > 0) t.runtime.write(t.buffer, element.data);
    return t;
  }
  if (Array.isArray(element)) return element.map(fromHostCopy);
  if (isPlainObject(element) && !isHostArray(element)) return Object.fromEntries(Object.entries(element).map(([k, v]) => [k, fromHostCopy(v)]));
  return element;
}
