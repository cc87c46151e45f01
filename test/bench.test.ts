// The training benchmark (npm run bench) in its quick size: it runs to the end and writes a JSON
// report with every number for both libraries. The seed MLP only, with Mesa's shader cache kept:
// the seed CNN's pipelines take 30–70 s to compile cold on lavapipe, which the full run measures.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'shaderflow-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function bench(setting: 'node' | 'chromium'): Promise<{ report: Record<string, unknown>; stdout: string }> {
  const json = join(dir, `${setting}.json`);
  const { stdout } = await run(process.execPath, ['scripts/run-ts.mjs', 'bench/train.ts', '--quick', '--warm-cache', '--models', 'mlp', '--setting', setting, '--json', json], { timeout: 110_000, maxBuffer: 1 << 24 });
  return { report: JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>, stdout };
}

const positive = expect.any(Number);
const library = { trainSamplesPerSecond: positive, firstStepMs: positive, inferenceSamplesPerSecond: positive, peakGpuBytes: positive, loss: positive };

function checkShape(report: Record<string, unknown>, setting: string): void {
  expect(report).toMatchObject({ quick: true, flopsFormula: expect.stringContaining('2·K·N'), settings: [{ setting, adapter: expect.any(String), peakGflops: positive }] });
  const [result] = report.settings as { models: Record<string, unknown>[]; peakGflops: number }[];
  expect(result.models).toHaveLength(1);
  const [mlp] = result.models;
  expect(mlp).toMatchObject({
    model: 'mlp',
    batchSize: 32,
    stepsPerEpoch: 3,
    measuredEpochs: 1,
    forwardFlopsPerSample: 2 * (4 * 10 + 10 * 3),
    trainFlopsPerSample: 3 * 2 * (4 * 10 + 10 * 3),
    shaderflow: library,
    tfjs: library,
    ratio: { trainSamplesPerSecond: positive, firstStepMs: positive, inferenceSamplesPerSecond: positive, peakGpuBytes: positive },
    fractionOfPeak: { shaderflow: positive, tfjs: positive },
  });
  const numbers = [mlp.shaderflow, mlp.tfjs, mlp.ratio].flatMap((o) => Object.values(o as Record<string, number>));
  for (const n of numbers) expect(Number.isFinite(n) && n > 0, `every number is finite and positive: ${n}`).toBe(true);
  const ours = mlp.shaderflow as { trainSamplesPerSecond: number };
  const peer = mlp.tfjs as { trainSamplesPerSecond: number };
  expect((mlp.ratio as { trainSamplesPerSecond: number }).trainSamplesPerSecond).toBeCloseTo(ours.trainSamplesPerSecond / peer.trainSamplesPerSecond, 6);
}

describe('npm run bench -- --quick', () => {
  it('in Node: trains the seed MLP with both libraries, prints the table and writes the JSON', async () => {
    const { report, stdout } = await bench('node');
    checkShape(report, 'node');
    expect(stdout).toMatch(/MLP b32\s+train samples\/s/);
    expect(stdout).toMatch(/first step ms/);
  }, 120_000);

  // `npm test` installs Chromium first (scripts/setup.sh --browser), so this runs there and in CI;
  // it is skipped only when Vitest is run alone on a machine without a Chromium to drive.
  it.skipIf(!existsSync(chromium))('in headless Chromium through Playwright: the same page code, the same JSON', async () => {
    const { report } = await bench('chromium');
    checkShape(report, 'chromium');
  }, 120_000);
});

describe('npm run bench -- --json --device-report', () => {
  it('prints one JSON object on stdout: the adapter, its FMA peak, every kernel against the peak and TF.js, and training', async () => {
    const { stdout } = await run(process.execPath, ['scripts/run-ts.mjs', 'bench/train.ts', '--json', '--device-report', '--quick', '--warm-cache', '--models', 'mlp'], { timeout: 110_000, maxBuffer: 1 << 24 });
    const report = JSON.parse(stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      adapter: { description: expect.any(String), features: expect.any(Array), limits: expect.any(Object) },
      peakGflops: positive,
      training: { mlp: { batchSize: 32, trainSamplesPerSecond: { shaderflow: positive, tfjs: positive, ratio: positive } } },
      settings: [{ setting: 'node' }],
    });
    const kernels = report.kernels as { op: string; gflops: number; percentOfPeak: number; tfjsGflops: number }[];
    // Two square matmuls, the dense layer's three products, three passes of each of four conv
    // layers; where the adapter has shader-f16, the large matmul, the dense product and each conv
    // forward again with half weights.
    const halves = (report.adapter as { features: string[] }).features.includes('shader-f16');
    expect(kernels).toHaveLength(2 + 3 + 12 + (halves ? 2 + 4 : 0));
    if (halves) expect(kernels.map((k) => k.op)).toContain('conv3 7x7x32→64 forward, filter in f16');
    expect(kernels.map((k) => k.op)).toContain('conv2 14x14x16→32 backward filter');
    for (const k of kernels) {
      expect(k.gflops > 0 && k.tfjsGflops > 0, `${k.op} timed for both`).toBe(true);
      expect(k.percentOfPeak).toBeCloseTo((100 * k.gflops) / (report.peakGflops as number), 6);
    }
  }, 120_000);
});
