// A Dataset's node graph (how it was built, which residentSource() reads) and its verbs as
// generator functions over an upstream factory, shared by Dataset and the resident index pipeline.

import { mix32, Random } from '../nn/random.js';
import { disposeTensors, fromHostCopy, toHostCopy } from './elements.js';
import type { Column, Template } from './slices.js';

export interface ShuffleState {
  seed: number;
  iterations: number;
  reshuffleEachIteration: boolean;
}

/** @internal How a Dataset was built: residentSource() reads it. */
export type Node =
  | { kind: 'source'; columns: Column[]; template: Template }
  | { kind: 'map'; up: Node; fn: (element: unknown) => unknown }
  | { kind: 'filter'; up: Node }
  | { kind: 'shuffle'; up: Node; bufferSize: number; state: ShuffleState }
  | { kind: 'batch'; up: Node; size: number; dropRemainder: boolean }
  | { kind: 'repeat'; up: Node; count: number }
  | { kind: 'take'; up: Node; count: number }
  | { kind: 'skip'; up: Node; count: number }
  | { kind: 'concatenate'; up: Node; other: Node }
  | { kind: 'prefetch'; up: Node }
  | { kind: 'cache'; up: Node }
  | { kind: 'other' };

export type Make<T> = () => AsyncIterator<T>;

export async function* iterate<T>(make: Make<T>): AsyncGenerator<T> {
  const it = make();
  let finished = false;
  try {
    while (true) {
      const r = await it.next();
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!finished) await it.return?.();
  }
}

export async function* shuffleGen<T>(make: Make<T>, bufferSize: number, state: ShuffleState): AsyncGenerator<T> {
  // tf.data's buffered shuffle: fill a buffer, then emit a random buffered element and put the
  // next input in its place; at the end, drain the buffer in random order.
  const seed = state.reshuffleEachIteration ? mix32(state.seed, state.iterations++) : state.seed;
  const random = new Random(seed);
  const buffer: T[] = [];
  try {
    for await (const element of iterate(make)) {
      if (buffer.length < bufferSize) {
        buffer.push(element);
        continue;
      }
      const j = random.int(buffer.length);
      const out = buffer[j];
      buffer[j] = element;
      yield out;
    }
    while (buffer.length > 0) {
      const j = random.int(buffer.length);
      const out = buffer[j];
      buffer[j] = buffer[buffer.length - 1];
      buffer.pop();
      yield out;
    }
  } finally {
    buffer.forEach(disposeTensors);
  }
}

export async function* repeatGen<T>(make: Make<T>, count: number): AsyncGenerator<T> {
  for (let epoch = 0; count < 0 || epoch < count; epoch++) {
    let any = false;
    for await (const element of iterate(make)) {
      any = true;
      yield element;
    }
    // An empty dataset repeated forever is empty, not a hang (as in tf.data).
    if (!any) return;
  }
}

export async function* takeGen<T>(make: Make<T>, count: number): AsyncGenerator<T> {
  if (count === 0) return;
  let n = 0;
  for await (const element of iterate(make)) {
    yield element;
    if (++n === count) return;
  }
}

export async function* skipGen<T>(make: Make<T>, count: number): AsyncGenerator<T> {
  let n = 0;
  for await (const element of iterate(make)) {
    if (count < 0 || n < count) {
      n++;
      disposeTensors(element);
      continue;
    }
    yield element;
  }
}

export async function* concatGen<T>(first: Make<T>, second: Make<T>): AsyncGenerator<T> {
  yield* iterate(first);
  yield* iterate(second);
}

export async function* prefetchGen<T>(make: Make<T>, bufferSize: number): AsyncGenerator<T> {
  // Ask upstream for the next elements before handing this one over, so producing them
  // (reading, decoding, uploading) overlaps with the consumer's work.
  const it = make();
  const queue: Promise<IteratorResult<T>>[] = [];
  let done = false;
  const fill = (): void => {
    while (!done && queue.length < bufferSize) {
      const p = it.next();
      p.catch(() => {}); // handled where it is awaited; this only keeps Node from calling it unhandled
      queue.push(p);
    }
  };
  try {
    fill();
    while (queue.length > 0) {
      const r = await queue.shift()!;
      if (r.done) {
        done = true;
        return;
      }
      fill();
      yield r.value;
    }
  } finally {
    for (const p of queue) {
      try {
        const r = await p;
        if (!r.done) disposeTensors(r.value);
      } catch {
        // The consumer already stopped; an error from an element it never asked for is moot.
      }
    }
    if (!done) await it.return?.();
  }
}

export function cacheGen<T>(make: Make<T>): Make<T> {
  // The first complete pass fills the cache; later passes replay it. A pass stopped early
  // leaves the cache empty, as in tf.data.
  let cached: unknown[] | null = null;
  return async function* () {
    if (cached) {
      for (const element of cached) yield fromHostCopy(element) as T;
      return;
    }
    const filling: unknown[] = [];
    for await (const element of iterate(make)) {
      filling.push(await toHostCopy(element));
      yield element;
    }
    cached = filling;
  };
}
