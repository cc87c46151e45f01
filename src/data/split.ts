// trainTestSplit, as scikit-learn's train_test_split: shuffled (reproducibly with a seed),
// optionally stratified so both parts keep the class proportions.

import { emptyTensor, type Tensor } from '../nn/tensor.js';
import { Random, seedFrom } from '../nn/random.js';
import { toColumn } from './slices.js';

export interface TrainTestSplitOptions {
  /** A fraction of the rows in (0, 1), or a number of rows; default 0.25 (scikit-learn's). */
  testSize?: number;
  /** The rest by default; a fraction or a number of rows. */
  trainSize?: number;
  seed?: number;
  /** Shuffle before splitting (default true); false takes the last rows as the test set. */
  shuffle?: boolean;
  /** Keep class proportions: true stratifies by y, or give the labels to stratify by. */
  stratify?: boolean | Tensor | ArrayLike<number> | number[];
}

const where = 'trainTestSplit';

function count(value: number, n: number, name: string, round: (v: number) => number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new Error(`${where}: ${name} must be a fraction in (0, 1) or a positive number of rows, got ${String(value)}`);
  if (value < 1) return round(value * n);
  if (!Number.isInteger(value)) throw new Error(`${where}: ${name} must be a fraction in (0, 1) or a whole number of rows, got ${value}`);
  return value;
}

/**
 * Splits x and y (Tensors, typed arrays, { data, shape } or nested arrays, the same number of
 * rows) into [xTrain, xTest, yTrain, yTest] Tensors. Asynchronous because Tensor inputs are
 * read back to the host to be split (await it).
 */
export async function trainTestSplit(x: unknown, y: unknown, options: TrainTestSplitOptions = {}): Promise<[Tensor, Tensor, Tensor, Tensor]> {
  const known = ['testSize', 'trainSize', 'seed', 'shuffle', 'stratify'];
  for (const key of Object.keys(options)) if (!known.includes(key)) throw new Error(`${where}: unknown option '${key}' (known: ${known.join(', ')})`);
  const xc = toColumn(x, where, 'x');
  const yc = toColumn(y, where, 'y');
  const n = xc.rows;
  if (yc.rows !== n) throw new Error(`${where}: x has ${n} rows but y has ${yc.rows}; they must match`);
  const { shuffle = true } = options;
  // scikit-learn rounds the test size up and the train size down.
  let nTest = options.testSize === undefined ? (options.trainSize === undefined ? Math.ceil(0.25 * n) : -1) : count(options.testSize, n, 'testSize', Math.ceil);
  let nTrain = options.trainSize === undefined ? n - nTest : count(options.trainSize, n, 'trainSize', Math.floor);
  if (nTest < 0) nTest = n - nTrain;
  if (nTrain + nTest > n || nTrain === 0 || nTest === 0) {
    throw new Error(`${where}: with ${n} rows, a train set of ${nTrain} and a test set of ${nTest} do not fit (each needs at least one row)`);
  }

  const [xData, yData] = await Promise.all([xc.load(), yc.load()]);
  let trainIdx: number[];
  let testIdx: number[];
  const random = new Random(seedFrom(options.seed, where));
  if (options.stratify !== undefined && options.stratify !== false) {
    if (!shuffle) throw new Error(`${where}: stratify needs shuffle: true (as in scikit-learn)`);
    const labels = options.stratify === true ? yData : await toColumn(options.stratify, where, 'stratify').load();
    if (labels.length !== n) throw new Error(`${where}: stratify needs one label per row (${n}), got ${labels.length}`);
    ({ trainIdx, testIdx } = stratified(labels, nTrain, nTest, random));
  } else {
    const order = Array.from({ length: n }, (_, i) => i);
    if (shuffle) random.shuffle(order);
    trainIdx = order.slice(0, nTrain);
    testIdx = order.slice(n - nTest);
  }
  const xStep = xc.shape.reduce((a, d) => a * d, 1);
  const yStep = yc.shape.reduce((a, d) => a * d, 1);
  return [
    gather(xData, xc.shape, xStep, xc.dtype, trainIdx),
    gather(xData, xc.shape, xStep, xc.dtype, testIdx),
    gather(yData, yc.shape, yStep, yc.dtype, trainIdx),
    gather(yData, yc.shape, yStep, yc.dtype, testIdx),
  ];
}

/**
 * Per-class test counts proportional to the class sizes (largest remainders make them sum to
 * nTest), then a random choice within each class; both parts come out shuffled.
 */
function stratified(labels: ArrayLike<number>, nTrain: number, nTest: number, random: Random): { trainIdx: number[]; testIdx: number[] } {
  const n = labels.length;
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const allocate = (total: number): Map<number, number> => {
    const exact = classes.map((c) => (byClass.get(c)!.length * total) / n);
    const counts = exact.map(Math.floor);
    let left = total - counts.reduce((a, b) => a + b, 0);
    const order = exact.map((e, k) => [e - Math.floor(e), k] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (const [, k] of order) {
      if (left === 0) break;
      counts[k]++;
      left--;
    }
    return new Map(classes.map((c, k) => [c, counts[k]]));
  };
  const testCounts = allocate(nTest);
  const trainCounts = allocate(nTrain);
  const trainIdx: number[] = [];
  const testIdx: number[] = [];
  for (const c of classes) {
    const members = random.shuffle([...byClass.get(c)!]);
    const t = testCounts.get(c)!;
    testIdx.push(...members.slice(0, t));
    trainIdx.push(...members.slice(t, t + Math.min(trainCounts.get(c)!, members.length - t)));
  }
  return { trainIdx: random.shuffle(trainIdx), testIdx: random.shuffle(testIdx) };
}

function gather(data: Float32Array | Int32Array | Uint8Array, shape: number[], step: number, dtype: 'float32' | 'int32', rows: number[]): Tensor {
  const out = dtype === 'int32' ? new Int32Array(rows.length * step) : new Float32Array(rows.length * step);
  rows.forEach((r, i) => out.set(data.subarray(r * step, (r + 1) * step), i * step));
  const t = emptyTensor([rows.length, ...shape], dtype, 'trainTestSplit');
  if (out.length > 0) t.runtime.write(t.buffer, out);
  return t;
}
