// A lost device rejects pending work with an error that says so, and sf.ready() recovers; a
// model lost mid-fit, mid-evaluate, mid-predict or mid-save is recovered from its last save.
// In a file of its own: each loss ends this process's device (the tests run in order).

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sf from 'shaderflow';
import { afterAll, expect, it } from 'vitest';
import { runtime } from '../src/gpu/device.js';

const lost = /The GPU device was lost \(destroyed.*Call sf\.ready\(\)/;
const dir = mkdtempSync(join(tmpdir(), 'sf-device-lost-'));
const url = `file://${dir}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The device goes away, as a driver reset or a lost GPU process takes it. */
const loseDevice = (): void => runtime().device.destroy();

function data(n: number): { x: sf.Tensor; y: sf.Tensor } {
  const x = sf.tensor(Float32Array.from({ length: n * 4 }, (_, i) => Math.sin(i * 0.7)), [n, 4]);
  const y = sf.tensor(Int32Array.from({ length: n }, (_, i) => i % 3), [n], 'int32');
  return { x, y };
}

function mlp(): sf.Sequential {
  const model = sf.sequential([sf.layers.dense({ units: 8, activation: 'relu', inputShape: [4] }), sf.layers.dense({ units: 3, activation: 'softmax' })]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

it('rejects pending reads and later ops, then recovers with sf.ready()', async () => {
  await sf.ready();
  const t = sf.ones([1 << 16]);
  const pending = t.data();
  loseDevice();
  await expect(pending).rejects.toThrow(/The GPU device was lost \(destroyed/);
  expect(() => sf.add(t, 1)).toThrow(/device was lost/);
  expect(() => sf.tensor([1])).toThrow(/device was lost.*Call sf.ready\(\)/);

  await sf.ready();
  const fresh = sf.add(sf.tensor([1, 2]), 1);
  expect(Array.from(await fresh.data())).toEqual([2, 3]);
  expect(() => sf.add(t, 1)).toThrow(/no longer current|device was lost/);
});

let saved: Float32Array;

it('a fit that loses its device mid-epoch rejects at once; the last save loads on the new device and trains on', async () => {
  await sf.ready();
  const model = mlp();
  const { x, y } = data(64);
  await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
  await model.save(url);
  const probe = sf.tensor(Float32Array.from({ length: 8 }, (_, i) => Math.cos(i)), [2, 4]);
  saved = (await model.predict(probe).data()) as Float32Array;

  let batches = 0;
  const started = performance.now();
  const training = model.fit(x, y, {
    epochs: 50, batchSize: 8, verbose: 0,
    callbacks: { onBatchEnd: (batch: number) => { if (++batches === 3) loseDevice(); } },
  });
  await expect(training).rejects.toThrow(lost);
  expect(batches).toBeLessThan(20); // stopped within a few batches, not at the end of 50 epochs
  expect(performance.now() - started).toBeLessThan(10_000);
  // The old model's memory went with the device: every use says so rather than computing garbage.
  expect(() => model.predict(probe)).toThrow(/device was lost|no longer current/);

  await sf.ready();
  const back = await sf.loadModel(url);
  const probe2 = sf.tensor(Float32Array.from({ length: 8 }, (_, i) => Math.cos(i)), [2, 4]);
  expect(Array.from(await back.predict(probe2).data())).toEqual(Array.from(saved));
  back.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const again = data(64);
  const history = await back.fit(again.x, again.y, { epochs: 2, batchSize: 8, verbose: 0 });
  expect(history.history.loss.every(Number.isFinite)).toBe(true);
  back.dispose();
});

it('evaluate and predict on a lost device fail by name; a save then rejects and leaves the last save whole', async () => {
  await sf.ready();
  const before = readdirSync(dir).sort();
  const files = before.map((f) => readFileSync(join(dir, f)));
  const model = await sf.loadModel(url);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const { x, y } = data(4096);
  const evaluating = model.evaluate(x, y, { batchSize: 8 });
  loseDevice();
  await expect(evaluating).rejects.toThrow(lost);
  expect(() => model.predict(x)).toThrow(lost);
  await expect(model.save(url)).rejects.toThrow(lost);
  // Nothing half-written: the same two files, byte for byte, and no temporary ones.
  expect(readdirSync(dir).sort()).toEqual(before);
  before.forEach((f, k) => expect(readFileSync(join(dir, f)).equals(files[k])).toBe(true));

  await sf.ready();
  const back = await sf.loadModel(url);
  const probe = sf.tensor(Float32Array.from({ length: 8 }, (_, i) => Math.cos(i)), [2, 4]);
  expect(Array.from(await back.predict(probe).data())).toEqual(Array.from(saved));
  back.dispose();
});

it('a save that cannot write (the target is a file, not a folder) rejects and writes nothing', async () => {
  await sf.ready();
  const model = mlp();
  const probe = sf.zeros([1, 4]);
  model.predict(probe).dispose(); // builds the weights
  const blocker = join(dir, 'model.json'); // a file where the save wants a folder
  await expect(model.save(`file://${blocker}/inner`)).rejects.toThrow(`model.save('file://${blocker}/inner'): writing ${blocker}/inner failed (ENOTDIR`);
  probe.dispose();
  expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  model.dispose();
});
