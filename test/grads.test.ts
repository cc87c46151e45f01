// sf.grads of every op against TensorFlow.js's own gradients (its CPU backend) for the same
// function, inputs and upstream gradient dy, on fresh random data.

import * as tf from '@tensorflow/tfjs';
import * as sf from 'shaderflow';
import { beforeAll, describe, expect, test } from 'vitest';
import { expectAllClose, freshSeed, randomUniform } from './expect-all-close.js';

beforeAll(async () => {
  await sf.ready();
  await tf.setBackend('cpu');
});

type Args = { shape: number[]; lo?: number; hi?: number; dtype?: 'float32' | 'int32'; values?: number[] }[];

interface Case {
  name: string;
  args: Args;
  sf: (...xs: sf.Tensor[]) => sf.Tensor;
  tf: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Arguments that are data (labels), not differentiated. */
  constants?: number[];
}

const onehot = (b: number, c: number, seed: number): number[] => {
  const out = new Array<number>(b * c).fill(0);
  for (let i = 0; i < b; i++) out[i * c + ((seed + i * 7) % c)] = 1;
  return out;
};

const cases: Case[] = [
  { name: 'add, broadcast', args: [{ shape: [3, 4] }, { shape: [4] }], sf: sf.add, tf: tf.add },
  { name: 'sub, broadcast both ways', args: [{ shape: [2, 1, 4] }, { shape: [3, 1] }], sf: sf.sub, tf: tf.sub },
  { name: 'mul', args: [{ shape: [5] }, { shape: [5] }], sf: sf.mul, tf: tf.mul },
  { name: 'div, broadcast', args: [{ shape: [3, 4] }, { shape: [1, 4], lo: 0.5, hi: 2 }], sf: sf.div, tf: tf.div },
  { name: 'maximum', args: [{ shape: [2, 5] }, { shape: [2, 5] }], sf: sf.maximum, tf: tf.maximum },
  // Same shapes: TF.js's own Minimum gradient mis-shapes a broadcast operand's gradient.
  { name: 'minimum', args: [{ shape: [2, 5] }, { shape: [2, 5] }], sf: sf.minimum, tf: tf.minimum },
  { name: 'maximum with a scalar', args: [{ shape: [9] }], sf: (x) => sf.minimum(sf.maximum(x, 0.1), 0.5), tf: (x) => tf.minimum(tf.maximum(x, 0.1), 0.5) },
  { name: 'scalar mul and rsub', args: [{ shape: [7] }], sf: (x) => sf.sub(3, sf.mul(x, 2.5)), tf: (x) => tf.sub(3, tf.mul(x, 2.5)) },
  { name: 'scalar div', args: [{ shape: [7], lo: 0.5, hi: 2 }], sf: (x) => sf.div(2, sf.div(x, 3)), tf: (x) => tf.div(2, tf.div(x, 3)) },
  { name: 'neg, abs, square', args: [{ shape: [3, 3] }], sf: (x) => sf.square(sf.abs(sf.neg(x))), tf: (x) => tf.square(tf.abs(tf.neg(x))) },
  { name: 'relu', args: [{ shape: [4, 6] }], sf: sf.relu, tf: tf.relu },
  { name: 'sigmoid', args: [{ shape: [4, 6], lo: -4, hi: 4 }], sf: sf.sigmoid, tf: tf.sigmoid },
  { name: 'tanh', args: [{ shape: [4, 6], lo: -3, hi: 3 }], sf: sf.tanh, tf: tf.tanh },
  { name: 'softmax', args: [{ shape: [5, 7], lo: -3, hi: 3 }], sf: (x) => sf.softmax(x), tf: (x) => tf.softmax(x) },
  { name: 'matMul', args: [{ shape: [5, 3] }, { shape: [3, 7] }], sf: (a, b) => sf.matMul(a, b), tf: (a, b) => tf.matMul(a, b) },
  { name: 'matMul, transposeA', args: [{ shape: [3, 5] }, { shape: [3, 7] }], sf: (a, b) => sf.matMul(a, b, true), tf: (a, b) => tf.matMul(a, b, true) },
  { name: 'matMul, transposeB', args: [{ shape: [5, 3] }, { shape: [7, 3] }], sf: (a, b) => sf.matMul(a, b, false, true), tf: (a, b) => tf.matMul(a, b, false, true) },
  { name: 'matMul, both transposed', args: [{ shape: [3, 5] }, { shape: [7, 3] }], sf: (a, b) => sf.matMul(a, b, true, true), tf: (a, b) => tf.matMul(a, b, true, true) },
  {
    name: 'fused matMul with bias and relu',
    args: [{ shape: [6, 4] }, { shape: [4, 5] }, { shape: [5] }],
    sf: (a, b, bias) => sf.fused.matMul({ a, b, bias, activation: 'relu' }),
    tf: (a, b, bias) => tf.relu(tf.add(tf.matMul(a, b), bias)),
  },
  {
    name: 'conv2d, same, stride 1',
    args: [{ shape: [2, 7, 6, 3] }, { shape: [3, 3, 3, 4] }],
    sf: (x, f) => sf.conv2d(x, f, 1, 'same'),
    tf: (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'),
  },
  {
    name: 'conv2d, valid, stride 2',
    args: [{ shape: [2, 9, 8, 2] }, { shape: [3, 2, 2, 5] }],
    sf: (x, f) => sf.conv2d(x, f, 2, 'valid'),
    tf: (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'valid'),
  },
  {
    name: 'fused conv2d with bias and tanh',
    args: [{ shape: [1, 5, 5, 2] }, { shape: [5, 5, 2, 3] }, { shape: [3] }],
    sf: (x, f, bias) => sf.fused.conv2d({ x, filter: f, strides: 1, pad: 'same', bias, activation: 'tanh' }),
    tf: (x, f, bias) => tf.tanh(tf.add(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'), bias)),
  },
  {
    name: 'maxPool, same',
    args: [{ shape: [2, 5, 7, 3] }],
    sf: (x) => sf.maxPool(x, 2, 2, 'same'),
    tf: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'same'),
  },
  {
    name: 'avgPool, valid, overlapping',
    args: [{ shape: [2, 7, 6, 2] }],
    sf: (x) => sf.avgPool(x, 3, 2, 'valid'),
    tf: (x) => tf.avgPool(x as tf.Tensor4D, 3, 2, 'valid'),
  },
  { name: 'sum over an axis', args: [{ shape: [3, 4, 5] }], sf: (x) => sf.sum(x, 1), tf: (x) => tf.sum(x, 1) },
  { name: 'sum of all, then scaled', args: [{ shape: [3, 4] }], sf: (x) => sf.mul(sf.sum(x), 2), tf: (x) => tf.mul(tf.sum(x), 2) },
  { name: 'mean, keepDims', args: [{ shape: [3, 4, 5] }], sf: (x) => sf.mean(x, [0, 2], true), tf: (x) => tf.mean(x, [0, 2], true) },
  { name: 'reshape', args: [{ shape: [3, 4] }], sf: (x) => sf.relu(sf.reshape(x, [2, -1])), tf: (x) => tf.relu(tf.reshape(x, [2, -1])) },
  {
    name: 'losses.softmaxCrossEntropy',
    args: [{ shape: [6, 5], values: onehot(6, 5, 3) }, { shape: [6, 5], lo: -3, hi: 3 }],
    constants: [0],
    sf: (labels, logits) => sf.losses.softmaxCrossEntropy(labels, logits),
    tf: (labels, logits) => tf.losses.softmaxCrossEntropy(labels, logits),
  },
  {
    name: 'losses.sigmoidCrossEntropy',
    args: [{ shape: [4, 3], values: [1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0] }, { shape: [4, 3], lo: -3, hi: 3 }],
    constants: [0],
    sf: (labels, logits) => sf.losses.sigmoidCrossEntropy(labels, logits),
    tf: (labels, logits) => tf.losses.sigmoidCrossEntropy(labels, logits),
  },
  {
    name: 'losses.meanSquaredError',
    args: [{ shape: [4, 3] }, { shape: [4, 3] }],
    constants: [0],
    sf: (labels, p) => sf.losses.meanSquaredError(labels, p),
    tf: (labels, p) => tf.losses.meanSquaredError(labels, p),
  },
];

describe('sf.grads equals tf.grads (CPU backend)', () => {
  test.each(cases)('$name', async (c) => {
    const seed = freshSeed();
    const host = c.args.map((a, k) => Float32Array.from(a.values ?? randomUniform(a.shape.reduce((n, d) => n * d, 1), seed + k, a.lo ?? -1, a.hi ?? 1)));
    const sfArgs = host.map((v, k) => sf.tensor(v, c.args[k].shape));
    const tfArgs = host.map((v, k) => tf.tensor(v, c.args[k].shape));
    const constants = new Set(c.constants ?? []);
    const wrt = c.args.map((_, k) => k).filter((k) => !constants.has(k));
    const bind = <T>(f: (...xs: T[]) => T, all: T[]) => (...xs: T[]) => {
      const full = [...all];
      wrt.forEach((k, i) => (full[k] = xs[i]));
      return f(...full);
    };
    const yShape = c.tf(...tfArgs).shape;
    const dyHost = randomUniform(yShape.reduce((n, d) => n * d, 1), seed + 99);
    const tfDy = tf.tensor(dyHost, yShape);
    const sfDy = sf.tensor(dyHost, yShape);

    const expected = tf.grads(bind(c.tf, tfArgs))(wrt.map((k) => tfArgs[k]), tfDy);
    const { value, grads } = sf.valueAndGrads(bind(c.sf, sfArgs))(wrt.map((k) => sfArgs[k]), sfDy);

    expect(value.shape).toEqual(yShape);
    expectAllClose(await value.data(), await c.tf(...tfArgs).data(), { rtol: 1e-4, atol: 1e-5 });
    for (const [i, g] of grads.entries()) {
      expect(g.shape, `gradient ${i} shape (seed ${seed})`).toEqual(expected[i].shape);
      expectAllClose(await g.data(), await expected[i].data(), { rtol: 1e-4, atol: 1e-5 });
    }
    for (const t of [...sfArgs, sfDy, value, ...grads]) t.dispose();
    tf.dispose([...tfArgs, tfDy, ...expected]);
  });
});

describe('sf.grad, sf.grads and friends', () => {
  test('grad and valueAndGrad take one tensor, as TF.js', async () => {
    const x = sf.tensor([1, -2, 3]);
    const g = sf.grad((t) => sf.sum(sf.square(t)))(x);
    expect(Array.from(await g.data())).toEqual([2, -4, 6]);
    const { value, grad } = sf.valueAndGrad((t) => sf.sum(sf.mul(t, t)))(x);
    expect(await value.data()).toEqual(new Float32Array([14]));
    expect(Array.from(await grad.data())).toEqual([2, -4, 6]);
    for (const t of [x, g, value, grad]) t.dispose();
  });

  test('a tensor used twice receives the sum of both gradients', async () => {
    const x = sf.tensor([0.5, 2]);
    const g = sf.grad((t) => sf.sum(sf.add(sf.mul(t, 3), sf.mul(t, t))))(x);
    expectAllClose(await g.data(), [3 + 1, 3 + 4]);
    x.dispose();
    g.dispose();
  });

  test('nothing leaks: only the results stay alive', async () => {
    const x = sf.tensor(randomUniform(24, freshSeed()), [2, 3, 4]);
    const before = sf.memory();
    const { value, grads } = sf.valueAndGrads((t) => sf.mean(sf.relu(sf.matMul(sf.reshape(t, [6, 4]), sf.reshape(t, [4, 6])))))([x]);
    await value.data();
    expect(sf.memory().numTensors).toBe(before.numTensors + 2);
    value.dispose();
    grads[0].dispose();
    expect(sf.memory().numBytesInUse).toBe(before.numBytesInUse);
    x.dispose();
  });

  test('bad input gets a clear Error', async () => {
    const x = sf.tensor([1, 2]);
    const y = sf.tensor([3, 4]);
    expect(() => sf.grad(5 as never)).toThrow('sf.grad: expected a function, got number');
    expect(() => sf.grad(() => 3 as never)(x)).toThrow('sf.grad: the function must return a Tensor, got number');
    expect(() => sf.grads((a: sf.Tensor) => sf.square(a))([x, y])).toThrow(/argument 1 \(Tensor #\d+ \(float32 \[2\]\)\): y does not depend on it/);
    expect(() => sf.grads((a) => a)([])).toThrow('expected a non-empty array of Tensors');
    expect(() => sf.grad((a) => sf.sum(a))(x, sf.tensor([1, 2]))).toThrow('dy must have the shape of f\'s result [], got [2]');
    let leaked: sf.Tensor | null = null;
    sf.grad((a) => {
      leaked = sf.square(a);
      return sf.sum(leaked);
    })(x);
    expect(() => sf.relu(leaked!)).toThrow(/is symbolic and belongs to sf\.grad, which has ended/);
    let read: Promise<unknown> | null = null;
    sf.grad((a) => {
      read = sf.square(a).data();
      return sf.sum(a);
    })(x).dispose();
    await expect(read).rejects.toThrow(/is symbolic \(recorded by sf\.grad\)/);
    expect(() => sf.matMul(x, y)).toThrow('matMul: expected two rank-2 tensors, got shapes [2] and [2]');
    const image = sf.zeros([1, 4, 4, 3]);
    const filter = sf.zeros([3, 3, 2, 1]);
    expect(() => sf.conv2d(image, filter, 1, 'same')).toThrow("conv2d: the filter's inChannels (2");
    expect(() => sf.conv2d(image, filter, 1, 'full' as never)).toThrow("sf.conv2d: pad must be 'same' or 'valid', got \"full\"");
    for (const t of [x, y, image, filter]) t.dispose();
  });
});
