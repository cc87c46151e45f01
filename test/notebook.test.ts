// The main job (`npm start`) in a reduced size: it runs to the end and prints what the notebook
// prints: accuracies, one Iris prediction per class, and the sample-image predictions twice.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

test('the main job trains Iris and MNIST, augments, and prints its predictions and summary', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['scripts/run-ts.mjs', '--bundle', 'scripts/notebook.ts', '--train', '256', '--test', '128', '--epochs', '2', '--aug-epochs', '1', '--quiet'], {
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
  expect(stdout).toMatch(/=== Summary ===\nadapter: .+\nIris: .+: [\d.]+ s, \d+ samples\/s; test accuracy [\d.]+%/);
  expect(stdout).toMatch(/\nMNIST: .+: [\d.]+ s; training \d+ samples\/s \(steady state, evaluation apart\); test accuracy [\d.]+%/);
  expect(stdout).toMatch(/\ncompiling the CNN's shaders: [\d.]+ s, in its first epoch/);
  expect(stdout).toMatch(/\nwhole run: [\d.]+ s; peak RSS \d+ MB \(now .+\); peak GPU memory held [\d.]+ MiB/);
  expect(stdout).toMatch(/\n2 epochs, then 1 with the inverted copies; batch 80; Adam at 0.002, times 0.8 each epoch; .+ up to 2 pixels; seed 1\n/);
}, 300_000);

test('--validation evaluates on held-out training digits after every epoch, in place of the test digits', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['scripts/run-ts.mjs', '--bundle', 'scripts/notebook.ts', '--train', '240', '--validation', '80', '--epochs', '1', '--aug-epochs', '1', '--shift', '0', '--quiet'],
    { timeout: 240_000, maxBuffer: 1 << 24 },
  );
  expect(stdout).toMatch(/MNIST: the seed CNN on 240 training and 80 validation images/);
  expect(stdout.match(/^ {2}validation: loss [\d.]+, accuracy [\d.]+%$/gm)).toHaveLength(2);
  expect(stdout).toMatch(/^MNIST validation accuracy, plain and inverted: [\d.]+% \(plain alone: [\d.]+%\)$/m);
  expect(stdout).not.toMatch(/MNIST test accuracy/);
}, 300_000);
