// A few hundred random calls of the public API, careless and hostile ones included (see
// test/fuzz.ts): each returns TF.js's result or throws an Error in user terms, and fit on random
// data resolves with finite numbers or rejects clearly. `scripts/fuzz.ts` runs many more.

import * as tf from '@tensorflow/tfjs';
import * as sf from 'shaderflow';
import { beforeAll, expect, test } from 'vitest';
import { fuzz } from './fuzz.js';

beforeAll(async () => {
  await sf.ready();
  await tf.setBackend('cpu');
});

test('300 random op calls and 20 random fits: the right result or a clear Error, nothing leaked', async () => {
  const seed = Number(process.env.SF_FUZZ_SEED ?? 20261207);
  const report = await fuzz(sf as never, tf, { seed, calls: 300, fits: 20 });
  expect(report.failures, `replay with SF_FUZZ_SEED=${seed}`).toEqual([]);
  // Both outcomes are exercised, so neither check is vacuous.
  expect(report.returned).toBeGreaterThan(report.calls * 0.3);
  expect(report.refused).toBeGreaterThan(report.calls * 0.1);
}, 300_000);
