// The main job (`npm start`) in a reduced size: it runs to the end and prints what the notebook
// prints: accuracies, one Iris prediction per class, and the sample-image predictions twice.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

test('the main job trains Iris and MNIST, augments, and prints its predictions and summary', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['scripts/run-ts.mjs', 'scripts/notebook.ts', '--train', '256', '--test', '128', '--quiet'], {
    timeout: 240_000,
    maxBuffer: 1 << 24,
  });
  const lines = stdout.split('\n');
  const accuracy = (label: RegExp): number => {
    const line = lines.find((l) => label.test(l));
    expect(line, `a line matching ${label}`).toBeDefined();
    return Number(/(\d+\.\d)%/.exec(line!)![1]);
  };
  expect(accuracy(/^Iris test accuracy: /)).toBeGreaterThanOrEqual(60);
  const iris = lines.filter((l) => /^[✓✗] Prediction is '(setosa|versicolor|virginica)' \(\d+\.\d%\), expected '(setosa|versicolor|virginica)'$/.test(l));
  expect(iris).toHaveLength(3);
  expect(accuracy(/^MNIST test accuracy: /)).toBeGreaterThanOrEqual(0);
  expect(accuracy(/^MNIST test accuracy, plain and inverted: /)).toBeGreaterThanOrEqual(0);
  const samples = lines.filter((l) => /^[✓✗] digit-\d(-inverted)?\.png +\d at \d+\.\d%\. CNN thinks it's a \d \(\d+\.\d%\)$/.test(l));
  expect(samples).toHaveLength(16);
  expect(stdout).toMatch(/=== Summary ===\nadapter: .+\nIris: .+: [\d.]+ s, \d+ samples\/s, test accuracy [\d.]+%/);
  expect(stdout).toMatch(/peak GPU memory held: [\d.]+ MiB/);
}, 300_000);
