// A lost device rejects pending work with an error that says so, and sf.ready() recovers.
// In a file of its own: the loss ends this process's device.

import * as sf from 'shaderflow';
import { expect, it } from 'vitest';
import { runtime } from '../src/gpu/device.js';

it('rejects pending reads and later ops, then recovers with sf.ready()', async () => {
  await sf.ready();
  const t = sf.ones([1 << 16]);
  const pending = t.data();
  runtime().device.destroy();
  await expect(pending).rejects.toThrow(/The GPU device was lost \(destroyed/);
  expect(() => sf.add(t, 1)).toThrow(/device was lost/);
  expect(() => sf.tensor([1])).toThrow(/device was lost.*Call sf.ready\(\)/);

  await sf.ready();
  const fresh = sf.add(sf.tensor([1, 2]), 1);
  expect(Array.from(await fresh.data())).toEqual([2, 3]);
  expect(() => sf.add(t, 1)).toThrow(/no longer current|device was lost/);
});
