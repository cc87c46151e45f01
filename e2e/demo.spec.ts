// The demo as a person uses it, in headless Chromium on SwiftShader: train the Iris MLP and
// watch the charts, train a small CNN for a few batches, stop it, draw a digit, save and load
// the model. The page fixture fails the test on any console error or uncaught exception.

import { readFile } from 'node:fs/promises';
import { expect, test } from './fixtures.js';
import { demoUrl, screenshot } from './demo-helpers.js';
import type { Locator, Page } from '@playwright/test';

/** Opens the demo and waits until both experiments are set up on a WebGPU adapter. */
async function open(page: Page): Promise<void> {
  await page.goto(demoUrl);
  await expect(page.locator('#gpu')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 60_000 });
  await expect(page.locator('#adapter')).toContainText(/WebGPU: \S/);
}

/** Series point counts of a chart's canvas, and how many of its pixels are painted. */
async function chartInfo(chart: Locator): Promise<{ series: Record<string, number>; painted: number }> {
  const canvas = chart.locator('canvas');
  const series = JSON.parse((await canvas.getAttribute('data-series')) ?? '{}') as Record<string, number>;
  const painted = await canvas.evaluate((c: HTMLCanvasElement) => {
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return n;
  });
  return { series, painted };
}

test('trains the Iris MLP to ≥ 90% validation accuracy, with live charts that agree with the History', async ({ page }, testInfo) => {
  await open(page);
  await screenshot(page, testInfo, '1-ready');
  const iris = page.locator('#iris');
  await expect(iris.locator('[data-role=summary]')).toContainText('Total params: 83');

  await iris.locator('[data-action=train]').click();
  await expect(iris).toHaveAttribute('data-state', 'training');
  // The page answers while it trains: fit yields to the event loop after every step.
  const started = Date.now();
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
  expect(Date.now() - started).toBeLessThan(2_000);
  await expect(iris.locator('[data-chart=loss] canvas')).not.toHaveAttribute('data-points', '0', { timeout: 30_000 });
  await screenshot(page, testInfo, '2-iris-training');

  await expect(iris).toHaveAttribute('data-state', /done|error|stopped/, { timeout: 120_000 });
  expect(await page.evaluate(() => window.__demo.iris.error)).toBeNull();
  await expect(iris).toHaveAttribute('data-state', 'done');

  const history = await page.evaluate(() => window.__demo.iris.history!.history);
  const epochs = Number(await iris.locator('input[name=epochs]').inputValue());
  expect(history.val_accuracy).toHaveLength(epochs);
  const valAccuracy = history.val_accuracy.at(-1)!;
  expect(valAccuracy).toBeGreaterThanOrEqual(0.9);

  // The accuracy the page shows is the History's, as a percentage.
  const shown = iris.locator('[data-role=val-accuracy]');
  await expect(shown).toHaveText(`${(valAccuracy * 100).toFixed(1)}%`);
  expect(Number(await shown.getAttribute('data-value'))).toBe(valAccuracy);
  await expect(iris.locator('[data-role=accuracy]')).toHaveText(`${(history.accuracy.at(-1)! * 100).toFixed(1)}%`);
  await expect(iris.locator('[data-role=status]')).toContainText(`validation accuracy ${(valAccuracy * 100).toFixed(1)}%`);

  // Both charts drew per-batch points and one train and one validation point per epoch.
  for (const name of ['loss', 'accuracy']) {
    const { series, painted } = await chartInfo(iris.locator(`[data-chart=${name}]`));
    expect(series.batch, `${name}: per-batch points`).toBeGreaterThan(epochs);
    expect(series.train, `${name}: per-epoch train points`).toBe(epochs);
    expect(series.val, `${name}: per-epoch validation points`).toBe(epochs);
    expect(painted, `${name}: painted pixels`).toBeGreaterThan(1000);
  }

  // The confusion matrix counts the same predictions evaluation scored (no dropout in either).
  const table = iris.locator('table.confusion');
  await expect(table).toBeVisible();
  const [correct, total] = [Number(await table.getAttribute('data-correct')), Number(await table.getAttribute('data-total'))];
  expect(total).toBe(30);
  expect(correct / total).toBeCloseTo(valAccuracy, 5);
  await screenshot(page, testInfo, '3-iris-trained');
});

test('trains the CNN for a few batches, stops it, classifies a drawn digit, saves and loads the model', async ({ page }, testInfo) => {
  // SwiftShader takes tens of seconds to compile each convolution shader; the steps take milliseconds.
  test.setTimeout(300_000);
  await open(page);
  await page.locator('#tab-mnist').click();
  const mnist = page.locator('#mnist');
  await expect(mnist).toBeVisible();
  await expect(mnist.locator('[data-role=status]')).toContainText('Ready', { timeout: 30_000 });

  // Small for SwiftShader: one conv block of 4 filters, 250 digits (rounded to 8 batches of 32).
  await mnist.locator('select[name=subset]').selectOption('250');
  await mnist.locator('select[name=width]').selectOption('0.25');
  await mnist.locator('select[name=blocks]').selectOption('1');
  await expect(mnist.locator('[data-role=summary]')).toContainText('[None, 28, 28, 4]');
  await mnist.locator('input[name=epochs]').fill('50'); // stopped long before
  await mnist.locator('input[name=batchSize]').fill('32');
  await mnist.locator('[data-action=train]').click();
  await expect(mnist).toHaveAttribute('data-state', 'training');

  // Stop after a few batches: fit ends after the batch in flight, then validates.
  const loss = mnist.locator('[data-chart=loss] canvas');
  await expect.poll(async () => JSON.parse((await loss.getAttribute('data-series')) ?? '{}').batch ?? 0, { timeout: 180_000 }).toBeGreaterThanOrEqual(3);
  await screenshot(page, testInfo, '4-mnist-training');
  await mnist.locator('[data-action=stop]').click();
  await expect(mnist).toHaveAttribute('data-state', /stopped|done|error/, { timeout: 120_000 });
  expect(await page.evaluate(() => window.__demo.mnist.error)).toBeNull();
  await expect(mnist).toHaveAttribute('data-state', 'stopped');
  const history = await page.evaluate(() => window.__demo.mnist.history!.history);
  const epochs = history.loss.length;
  expect(epochs).toBeGreaterThanOrEqual(1);
  expect(epochs).toBeLessThan(50);
  expect(history.val_accuracy).toHaveLength(epochs);
  await expect(mnist.locator('[data-role=val-accuracy]')).toHaveText(`${(history.val_accuracy.at(-1)! * 100).toFixed(1)}%`);
  await expect(mnist.locator('[data-role=status]')).toContainText(`Stopped after ${epochs} epoch`);
  await expect.poll(() => page.evaluate(() => window.__demo.mnist.model)).toBe('trained');

  // Results: a 10×10 confusion matrix over the validation digits (100 rounded to 3 batches), a grid and the inverted pairs.
  await expect(mnist.locator('table.confusion tbody tr')).toHaveCount(10);
  await expect(mnist.locator('table.confusion')).toHaveAttribute('data-total', '96');
  await expect(mnist.locator('[data-role=grid] figure')).toHaveCount(48);
  await expect(mnist.locator('[data-role=augment] .pair')).toHaveCount(8);

  // Draw a 7 with the mouse: a bar across the top, then a stroke down to the left.
  const probabilities = await drawAndRead(page, mnist, [[0.25, 0.22], [0.75, 0.22], [0.45, 0.85]]);
  expect(probabilities).toHaveLength(10);
  for (const p of probabilities) expect(p).toBeGreaterThanOrEqual(0);
  expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  await expect(mnist.locator('[data-role=bars] li .value').first()).toHaveText(/^\d+\.\d%$/);
  await screenshot(page, testInfo, '5-mnist-drawn');

  // Save (two downloads, TF.js's file names) and load the files back through the file input.
  const downloads: string[] = [];
  page.on('download', async (download) => {
    const path = testInfo.outputPath(download.suggestedFilename());
    await download.saveAs(path);
    downloads.push(path);
  });
  await mnist.locator('[data-action=save]').click();
  await expect.poll(() => downloads.map((d) => d.split('/').pop()).sort(), { timeout: 15_000 }).toEqual(['shaderflow-mnist.json', 'shaderflow-mnist.weights.bin']);
  const saved = JSON.parse(await readFile(downloads.find((d) => d.endsWith('.json'))!, 'utf8')) as { format: string; weightsManifest: { paths: string[] }[] };
  expect(saved.format).toBe('layers-model');
  expect(saved.weightsManifest[0].paths).toEqual(['./shaderflow-mnist.weights.bin']);

  await mnist.locator('[data-action=load]').setInputFiles(downloads);
  await expect(mnist.locator('[data-role=model-note]')).toContainText('Loaded', { timeout: 30_000 });
  await expect.poll(() => page.evaluate(() => window.__demo.mnist.model)).toBe('loaded');
  // The loaded model gives the drawing the same probabilities as the trained one.
  const reloaded = await page.evaluate(() => window.__demo.mnist.drawProbabilities);
  expect(reloaded).toHaveLength(10);
  reloaded!.forEach((p, k) => expect(p).toBeCloseTo(probabilities[k], 4));
  await screenshot(page, testInfo, '6-mnist-loaded');
});

/** Draws strokes through `points` (fractions of the pad) and returns the probabilities shown. */
async function drawAndRead(page: Page, mnist: Locator, points: [number, number][]): Promise<number[]> {
  const pad = mnist.locator('[data-role=pad]');
  await pad.scrollIntoViewIfNeeded();
  const box = (await pad.boundingBox())!;
  const at = ([fx, fy]: [number, number]) => [box.x + fx * box.width, box.y + fy * box.height] as const;
  await page.mouse.move(...at(points[0]));
  await page.mouse.down();
  for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 12 });
  await page.mouse.up();
  // The bars update while the digit is drawn; wait for the prediction of the finished drawing.
  await page.waitForTimeout(100);
  await expect.poll(() => page.evaluate(() => window.__demo.mnist.drawProbabilities !== null && !window.__demo.mnist.drawBusy), { timeout: 30_000 }).toBe(true);
  return JSON.parse((await mnist.locator('[data-role=bars]').getAttribute('data-probs'))!) as number[];
}
