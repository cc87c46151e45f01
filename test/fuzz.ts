// Seeded random calls of the public API, careless and hostile ones included: random shapes
// (empty ones too), dtypes, non-finite values, disposed tensors, wrong argument types. Every
// eager op call runs in TF.js (its CPU backend) as well, the oracle: where shaderflow returns,
// the result must match TF.js's in shape, dtype and values; where it throws, the Error must name
// the op (`sf.<op>: ...`) and say nothing of the engine's insides. fit, evaluate and predict on
// random data must resolve with finite numbers or reject with an Error in user terms, and leave
// the model usable. Used by test/fuzz.test.ts (a few hundred calls) and scripts/fuzz.ts (many).

import type * as Tf from '@tensorflow/tfjs';
import type * as Sf from '../src/index.js';

type DType = 'float32' | 'int32';

/** A tensor argument, made afresh in each library from the same values. */
interface TensorArg {
  readonly tensor: true;
  readonly shape: number[];
  readonly dtype: DType;
  readonly values: Float32Array | Int32Array;
  readonly disposed: boolean;
  readonly nonFinite: boolean;
}

type Arg = TensorArg | number | string | boolean | null | undefined | readonly unknown[] | Record<string, unknown>;

interface Case {
  op: string;
  args: Arg[];
  /** Compare values (false where the result is random, as dropout's). */
  values: boolean;
}

export interface FuzzReport {
  calls: number;
  /** Calls that returned a result (checked against TF.js). */
  returned: number;
  /** Calls that threw a clear Error. */
  refused: number;
  /** Of them, fits that resolved and fits that rejected clearly. */
  fitsResolved: number;
  fitsRejected: number;
  /** One message per kind of fault fit was given, to read. */
  fitMessages: Map<string, string>;
  /** Each a replayable description of what went wrong. */
  failures: string[];
}

/** A message that leaks the engine's insides instead of naming what the user gave. */
const internal = /cannot read|is not a function|is not iterable|of undefined|of null|gatherRows|rows must|kernel '|workgroup|wgsl|binding|pipeline|gpubuffer|got NaN|maximum call stack|WebGPU error/i;

export function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

class Gen {
  constructor(readonly r: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)];
  }
  dim(): number {
    return this.chance(0.1) ? 0 : this.int(1, 4);
  }
  shape(rank = this.int(0, 4)): number[] {
    return Array.from({ length: rank }, () => this.dim());
  }
  /** A shape that broadcasts against `s` most of the time. */
  partner(s: readonly number[]): number[] {
    if (this.chance(0.2)) return this.shape();
    const tail = s.slice(this.int(0, s.length));
    return tail.map((d) => (this.chance(0.3) ? 1 : d));
  }
  dtype(): DType {
    return this.chance(0.8) ? 'float32' : 'int32';
  }
  tensor(shape: number[], dtype: DType = this.dtype(), { lo = -3, hi = 3, finite = false } = {}): TensorArg {
    const size = shape.reduce((n, d) => n * d, 1);
    let values: Float32Array | Int32Array;
    let nonFinite = false;
    if (dtype === 'int32') {
      // Non-zero, so integer division never divides by zero (undefined in WGSL and TF.js alike).
      values = Int32Array.from({ length: size }, () => this.pick([-3, -2, -1, 1, 2, 3, 4]));
    } else {
      values = Float32Array.from({ length: size }, () => lo + (hi - lo) * this.r());
      if (size > 0 && !finite && this.chance(0.08)) {
        nonFinite = true;
        for (let k = this.int(1, 2); k > 0; k--) values[this.int(0, size - 1)] = this.pick([NaN, Infinity, -Infinity]);
      }
    }
    return { tensor: true, shape, dtype, values, disposed: this.chance(0.04), nonFinite };
  }
  /** Now and then something that is not a tensor at all. */
  maybeJunk(arg: Arg): Arg {
    return this.chance(0.04) ? this.pick([undefined, null, 'x', [1, 2], { shape: [2] }, 3]) : arg;
  }
}

const binaryOps = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'];
const unaryOps = ['neg', 'abs', 'square', 'relu', 'sigmoid', 'tanh'];

function makeCase(g: Gen): Case {
  const kind = g.int(0, 11);
  const v = (op: string, args: Arg[], values = true): Case => ({ op, args: args.map((a) => g.maybeJunk(a)), values });
  switch (kind) {
    case 0:
    case 1: {
      const op = g.pick(binaryOps);
      const a = g.shape();
      const dtype = g.dtype();
      const b = g.chance(0.2) ? g.pick([2, -0.5, 0]) : g.tensor(g.partner(a), g.chance(0.9) ? dtype : g.dtype());
      const first: Arg = g.chance(0.1) ? 3 : g.tensor(a, dtype);
      return v(op, g.chance(0.5) ? [first, b] : [b, first]);
    }
    case 2:
      return v(g.pick(unaryOps), [g.tensor(g.shape())]);
    case 3: {
      const x = g.tensor(g.shape(g.int(0, 3)), g.chance(0.9) ? 'float32' : 'int32');
      return v('softmax', g.chance(0.8) ? [x] : [x, g.pick([-1, 0, 1, 5])]);
    }
    case 4: {
      const x = g.tensor(g.shape(g.int(0, 3)));
      const size = x.shape.reduce((n, d) => n * d, 1);
      const target = g.pick([[size], [-1], [1, size], [size, -1], [-1, -1], g.shape(2), [2.5], [-2, size]]);
      return v('reshape', [x, target]);
    }
    case 5: {
      const [m, k, n] = [g.dim(), g.dim(), g.dim()];
      const [ta, tb] = [g.chance(0.3), g.chance(0.3)];
      const a = g.chance(0.85) ? (ta ? [k, m] : [m, k]) : g.shape();
      const b = g.chance(0.85) ? (tb ? [n, k] : [k, n]) : g.shape();
      return v('matMul', [g.tensor(a, g.chance(0.95) ? 'float32' : 'int32'), g.tensor(b, 'float32'), ta, tb]);
    }
    case 6: {
      const c = g.int(1, 3);
      const x = g.chance(0.85) ? [g.dim(), g.int(1, 6), g.int(1, 6), c] : g.shape();
      const f = g.chance(0.85) ? [g.int(1, 3), g.int(1, 3), g.chance(0.9) ? c : c + 1, g.int(1, 4)] : g.shape();
      return v('conv2d', [g.tensor(x, 'float32'), g.tensor(f, 'float32'), g.pick<Arg>([1, 2, [1, 2], 0, 'one']), g.pick<Arg>(['same', 'valid', 'same', 'full'])]);
    }
    case 7: {
      const x = g.chance(0.85) ? [g.dim(), g.int(1, 6), g.int(1, 6), g.int(1, 3)] : g.shape();
      const size = g.pick<Arg>([1, 2, 3, [2, 1], 0]);
      return v(g.pick(['maxPool', 'avgPool']), [g.tensor(x, 'float32'), size, g.pick<Arg>([1, 2, [2, 1], size]), g.pick<Arg>(['same', 'valid', 'same', 'casual'])]);
    }
    case 8:
    case 9: {
      const x = g.tensor(g.shape());
      const rank = x.shape.length;
      const axis = g.pick<Arg>([undefined, null, rank - 1, 0, -1, [0, rank - 1], rank, [0, 0], 1.5]);
      return v(g.pick(['sum', 'mean']), [x, axis, g.chance(0.3)]);
    }
    case 10: {
      const x = g.tensor(g.chance(0.9) ? [g.dim(), ...g.shape(g.int(0, 2))] : []);
      const rows = x.shape[0] ?? 0;
      const indices = Int32Array.from({ length: g.dim() }, () => g.int(0, Math.max(rows - 1, 0)));
      // Out of range only where x has no rows at all (a GPU gather cannot refuse an index it reads).
      const idx: TensorArg = { tensor: true, shape: [indices.length], dtype: g.chance(0.9) ? 'int32' : 'float32', values: indices, disposed: g.chance(0.04), nonFinite: false };
      return v('gather', [x, idx]);
    }
    default: {
      if (g.chance(0.5)) return v(g.pick(['zeros', 'ones']), [g.chance(0.9) ? g.shape() : g.pick([[-1], [1.5], 'x']), g.pick<Arg>(['float32', 'int32', undefined, 'bool'])]);
      const x = g.tensor(g.shape(), 'float32');
      const rate = g.pick<Arg>([0, 0.5, 0, -0.1, 1, 'half']);
      return v('dropout', [x, rate], rate === 0);
    }
  }
}

const isTensorArg = (a: Arg): a is TensorArg => !!a && typeof a === 'object' && 'tensor' in a && a.tensor === true;

function describe(c: Case): string {
  const arg = (a: Arg): string => {
    if (isTensorArg(a)) {
      return `${a.dtype}[${a.shape.join(',')}]${a.nonFinite ? ' (non-finite)' : ''}${a.disposed ? ' (disposed)' : ''}`;
    }
    return a === undefined ? 'undefined' : JSON.stringify(a);
  };
  return `sf.${c.op}(${c.args.map(arg).join(', ')})`;
}

type Made<T> = { args: unknown[]; tensors: T[] };

function make<T extends { dispose(): void }>(args: readonly Arg[], create: (a: TensorArg) => T): Made<T> {
  const tensors: T[] = [];
  const made = args.map((a) => {
    if (!isTensorArg(a)) return a;
    const t = create(a);
    if (a.disposed) t.dispose();
    else tensors.push(t);
    return t;
  });
  return { args: made, tensors };
}

function close(a: ArrayLike<number>, e: ArrayLike<number>): string | null {
  if (a.length !== e.length) return `${a.length} elements, expected ${e.length}`;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i], e[i]];
    const ok = Number.isNaN(y) ? Number.isNaN(x) : x === y || Math.abs(x - y) <= 1e-3 + 1e-3 * Math.abs(y);
    if (!ok) return `element ${i} is ${x}, expected ${y}`;
  }
  return null;
}

type Result = { shape: number[]; dtype: string; values: ArrayLike<number> };

/** Where shaderflow follows TensorFlow (Python) and NumPy rather than TF.js, on purpose. */
function asTensorFlow(c: Case, inputs: TensorArg[], expected: Result): Result {
  // The mean of no elements is NaN (0 / 0); TF.js gives 0.
  if (c.op === 'mean' && inputs[0]?.values.length === 0 && expected.values.length > 0) {
    return { ...expected, values: new Float32Array(expected.values.length).fill(NaN) };
  }
  // An int32 tensor and an integer number stay int32 (division floors); TF.js makes float32.
  const number = c.args.find((a) => typeof a === 'number');
  if (binaryOps.includes(c.op) && number !== undefined && inputs.length === 1 && inputs[0].dtype === 'int32' && expected.dtype === 'float32') {
    return { ...expected, dtype: 'int32', values: Int32Array.from(expected.values, (v) => Math.floor(v)) };
  }
  return expected;
}

function checkError(error: unknown, prefix: string): string | null {
  if (!(error instanceof Error)) return `threw ${String(error)}, not an Error`;
  if (!error.message.startsWith(prefix)) return `threw "${error.message}", which does not start with "${prefix}"`;
  if (internal.test(error.message)) return `threw "${error.message}", which speaks of the engine's insides`;
  return null;
}

/** Runs one op case in both libraries; returns what went wrong, if anything. */
async function runOp(sf: typeof Sf, tf: typeof Tf, c: Case): Promise<{ returned: boolean; failure?: string }> {
  const inputs = c.args.filter(isTensorArg);
  const anyNonFinite = inputs.some((a) => a.nonFinite);
  let expected: Result | Error;
  const tfMade = make(c.args, (a) => tf.tensor(a.values, a.shape, a.dtype));
  try {
    const y = (tf as unknown as Record<string, (...a: unknown[]) => Tf.Tensor>)[c.op](...tfMade.args);
    expected = asTensorFlow(c, inputs, { shape: y.shape, dtype: y.dtype, values: y.dataSync() });
    if (!tfMade.tensors.includes(y)) y.dispose();
  } catch (error) {
    expected = error as Error;
  } finally {
    for (const t of tfMade.tensors) t.dispose();
  }
  const sfMade = make(c.args, (a) => sf.tensor(a.values, a.shape, a.dtype));
  let y: unknown;
  try {
    y = (sf as unknown as Record<string, (...a: unknown[]) => unknown>)[c.op](...sfMade.args);
    if (!(y instanceof sf.Tensor)) return { returned: false, failure: `returned ${String(y)}, not a Tensor` };
    const values = await y.data();
    // TF.js crashing on an argument (strides left out of maxPool) gives no answer to compare with.
    if (expected instanceof Error && expected.name === 'TypeError') return { returned: true };
    if (expected instanceof Error) {
      return { returned: true, failure: `returned a ${y.dtype} tensor of shape [${y.shape.join(', ')}] where TF.js throws "${expected.message}"` };
    }
    if (y.shape.join() !== expected.shape.join() || y.dtype !== expected.dtype) {
      return { returned: true, failure: `returned ${y.dtype} [${y.shape.join(', ')}], TF.js ${expected.dtype} [${expected.shape.join(', ')}]` };
    }
    const wrong = c.values && !anyNonFinite ? close(values, expected.values) : null;
    return { returned: true, failure: wrong ? `wrong values: ${wrong}` : undefined };
  } catch (error) {
    return { returned: false, failure: checkError(error, `sf.${c.op}:`) ?? undefined };
  } finally {
    if (y instanceof sf.Tensor && !sfMade.tensors.includes(y)) y.dispose();
    for (const t of sfMade.tensors) t.dispose();
  }
}

/** A fit on random data: resolves with finite losses, or rejects in user terms; the model stays usable. */
const fitFaults = ['none', 'none', 'none', 'x shape', 'x dtype', 'empty', 'labels count', 'labels dtype', 'non-finite x', 'non-finite y', 'disposed x', 'disposed y', 'epochs', 'batchSize', 'validationSplit', 'no softmax'] as const;

/** Layer options as a careless user writes them: mostly right, now and then junk. */
function layerCase(g: Gen): { what: string; make: (sf: typeof Sf) => Sf.Layer } {
  const junk = (good: Arg): Arg => (g.chance(0.15) ? g.pick<Arg>([0, -2, 1.5, 'x', null, [2, 2, 2], {}]) : good);
  const options: Record<string, Arg> = {};
  const kind = g.pick(['dense', 'conv2d', 'maxPooling2d', 'averagePooling2d', 'dropout', 'flatten'] as const);
  if (kind === 'dense') Object.assign(options, { units: junk(g.int(1, 4)), activation: junk(g.pick(['relu', 'linear', 'softmax', 'tanh'])) });
  if (kind === 'conv2d') Object.assign(options, { filters: junk(g.int(1, 3)), kernelSize: junk(g.pick([1, 2, [2, 1]])), strides: junk(g.pick([1, 2])), padding: junk(g.pick(['same', 'valid'])), activation: junk('relu') });
  if (kind === 'maxPooling2d' || kind === 'averagePooling2d') Object.assign(options, { poolSize: junk(g.pick([1, 2, [2, 1]])), strides: junk(g.pick([undefined, 1, 2])), padding: junk(g.pick(['same', 'valid'])) });
  if (kind === 'dropout') options.rate = junk(g.pick([0, 0.3]));
  if (g.chance(0.1)) options.inputShape = g.pick<Arg>([[4], [2, 0], 'x', [-1]]);
  return { what: `sf.layers.${kind}(${JSON.stringify(options)})`, make: (sf) => (sf.layers as unknown as Record<string, (o: unknown) => Sf.Layer>)[kind](options) };
}

/** A few layers stacked on an image input and predicted on: the right shape of finite numbers, or a clear Error. */
async function runModel(sf: typeof Sf, g: Gen): Promise<{ what: string; returned: boolean; failure?: string }> {
  const cases = Array.from({ length: g.int(1, 3) }, () => layerCase(g));
  const shape = [g.int(1, 2), g.int(1, 5), g.int(1, 5), g.int(1, 2)];
  const what = `sequential([${cases.map((c) => c.what).join(', ')}]).predict(float32[${shape}])`;
  const x = sf.tensor(Float32Array.from({ length: shape.reduce((n, d) => n * d, 1) }, () => g.r() * 2 - 1), shape);
  let model: Sf.Sequential | undefined;
  const layers: Sf.Layer[] = [];
  try {
    for (const c of cases) layers.push(c.make(sf));
    model = sf.sequential(layers);
    const y = model.predict(x) as Sf.Tensor;
    const values = await y.data();
    y.dispose();
    if (y.shape[0] !== shape[0]) return { what, returned: true, failure: `predicted ${y.shape[0]} rows for ${shape[0]} examples` };
    if (values.some((v) => !Number.isFinite(v))) return { what, returned: true, failure: 'predicted non-finite values' };
    return { what, returned: true };
  } catch (error) {
    const bad = !(error instanceof Error) ? `threw ${String(error)}` : internal.test(error.message) || !error.message.trim() ? `threw "${error.message}"` : undefined;
    return { what, returned: false, failure: bad };
  } finally {
    x.dispose();
    if (model) model.dispose();
    else for (const layer of layers) layer.dispose();
  }
}

/** A fit with at most one thing wrong: without a fault it must train to finite losses. */
async function runFit(sf: typeof Sf, g: Gen, messages: Map<string, string>): Promise<{ what: string; returned: boolean; failure?: string }> {
  const fault = g.pick(fitFaults);
  const features = 4;
  const declared = g.chance(0.6);
  const loss = g.pick(['sparseCategoricalCrossentropy', 'categoricalCrossentropy', 'meanSquaredError']);
  const activation = fault === 'no softmax' || loss === 'meanSquaredError' ? 'linear' : 'softmax';
  const model = sf.sequential([
    sf.layers.dense({ units: 4, activation: 'relu', ...(declared ? { inputShape: [features] } : {}) }),
    sf.layers.dense({ units: 3, activation }),
  ]);
  const optimizer = g.pick(['adam', 'sgd', 'rmsprop']);
  const n = fault === 'empty' ? 0 : g.pick([1, 5, 8]);
  const labelsN = fault === 'labels count' ? n + 1 : n;
  const xArg = g.tensor([n, fault === 'x shape' ? 3 : features], fault === 'x dtype' ? 'int32' : 'float32', { lo: -1, hi: 1, finite: true });
  const sparse = loss === 'sparseCategoricalCrossentropy';
  const yArg: TensorArg = sparse
    ? { tensor: true, shape: [labelsN], dtype: fault === 'labels dtype' ? 'float32' : 'int32', values: Int32Array.from({ length: labelsN }, (_, i) => i % 3), disposed: false, nonFinite: false }
    : g.tensor([labelsN, 3], fault === 'labels dtype' ? 'int32' : 'float32', { lo: 0, hi: 1, finite: true });
  const x0 = { ...xArg, nonFinite: fault === 'non-finite x', disposed: fault === 'disposed x' };
  const y0 = { ...yArg, nonFinite: fault === 'non-finite y' && yArg.dtype === 'float32', disposed: fault === 'disposed y' };
  if (x0.nonFinite && n > 0) x0.values[g.int(0, x0.values.length - 1)] = g.pick([NaN, Infinity]);
  if (y0.nonFinite && n > 0) y0.values[g.int(0, y0.values.length - 1)] = NaN;
  const args = {
    epochs: fault === 'epochs' ? g.pick<Arg>([0, -1, 1.5, '2']) : g.pick([1, 2]),
    batchSize: fault === 'batchSize' ? g.pick<Arg>([0, -4, 'big']) : g.pick([1, 4, 32]),
    validationSplit: fault === 'validationSplit' ? g.pick<Arg>([1, 1.5, -0.2]) : 0,
    shuffle: g.chance(0.5),
    verbose: 0,
  };
  const what = `fit (fault: ${fault}) of a ${declared ? 'declared [4]' : 'undeclared'} MLP (${loss}, ${optimizer}) on x ${x0.dtype}[${x0.shape}], y ${y0.dtype}[${y0.shape}], ${JSON.stringify(args)}`;
  const made = make([x0, y0], (a) => sf.tensor(a.values, a.shape, a.dtype));
  const [x, y] = made.args as Sf.Tensor[];
  try {
    let returned = false;
    let failure: string | undefined;
    try {
      model.compile({ optimizer, loss, metrics: ['accuracy'] });
      const history = await model.fit(x, y, args as Sf.FitArgs);
      returned = true;
      const losses = history.history.loss ?? [];
      if (losses.length === 0 || losses.some((l) => !Number.isFinite(l))) failure = `fit resolved with losses [${losses}]`;
    } catch (error) {
      if (!messages.has(fault)) messages.set(fault, (error as Error).message);
      if (fault === 'none') failure = `rejected a fit with nothing wrong: ${(error as Error).message}`;
      else if (!(error instanceof Error)) failure = `rejected with ${String(error)}, not an Error`;
      else if (internal.test(error.message) || !error.message.trim()) failure = `rejected with "${error.message}", which speaks of the engine's insides`;
    }
    // Whatever happened, the model predicts finite numbers for finite input of its shape.
    if (model.inputShape) {
      const probe = sf.tensor(Float32Array.from({ length: 2 * model.inputShape[0] }, (_, i) => Math.cos(i)), [2, model.inputShape[0]]);
      try {
        const p = model.predict(probe) as Sf.Tensor;
        const values = await p.data();
        p.dispose();
        if (values.some((v) => !Number.isFinite(v))) failure ??= 'the model predicts non-finite values afterwards';
      } catch (error) {
        failure ??= `predict afterwards threw "${(error as Error).message}"`;
      } finally {
        probe.dispose();
      }
    }
    return { what, returned, failure };
  } finally {
    for (const t of made.tensors) t.dispose();
    model.dispose();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung for ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * `calls` random eager op calls and `fits` random fits from `seed`, checking each as above and
 * that no tensor outlives its call. Needs `sf.ready()` and TF.js's CPU backend set.
 */
export async function fuzz(sf: typeof Sf, tf: typeof Tf, { seed, calls, fits }: { seed: number; calls: number; fits: number }): Promise<FuzzReport> {
  const g = new Gen(random(seed));
  const report: FuzzReport = { calls: 0, returned: 0, refused: 0, fitsResolved: 0, fitsRejected: 0, fitMessages: new Map(), failures: [] };
  const before = sf.memory().numTensors;
  let fitsDone = 0;
  for (let i = 0; i < calls + fits; i++) {
    report.calls++;
    // The fits are spread over the run, so ops run after fits and fits after failed ops.
    if (fitsDone < fits && i % Math.ceil((calls + fits) / fits) === 0) {
      fitsDone++;
      const { what, returned, failure } = await withTimeout(runFit(sf, g, report.fitMessages), 60_000, 'a fit');
      if (returned) report.returned++;
      else report.refused++;
      if (returned) report.fitsResolved++;
      else report.fitsRejected++;
      if (failure) report.failures.push(`seed ${seed}, call ${i}: ${what}: ${failure}`);
      continue;
    }
    if (i % 10 === 5) {
      const { what, returned, failure } = await withTimeout(runModel(sf, g), 60_000, 'a model');
      if (returned) report.returned++;
      else report.refused++;
      if (failure) report.failures.push(`seed ${seed}, call ${i}: ${what}: ${failure}`);
      continue;
    }
    const c = makeCase(g);
    const { returned, failure } = await withTimeout(runOp(sf, tf, c), 30_000, describe(c));
    if (returned) report.returned++;
    else report.refused++;
    if (failure) report.failures.push(`seed ${seed}, call ${i}: ${describe(c)} ${failure}`);
  }
  // The device is still sound: a fresh op computes, and no error is pending.
  try {
    const [one, two] = [sf.ones([2]), sf.scalar(1)];
    const sum = sf.add(one, two);
    const values = Array.from(await sum.data());
    for (const t of [one, two, sum]) t.dispose();
    if (values.join() !== '2,2') report.failures.push(`seed ${seed}: after the run, 1 + 1 gave ${values}`);
  } catch (error) {
    report.failures.push(`seed ${seed}: after the run the device fails: ${(error as Error).message}`);
  }
  const after = sf.memory().numTensors;
  if (after !== before) report.failures.push(`seed ${seed}: ${after - before} tensors outlived their calls`);
  return report;
}
