// The training benchmark: shaderflow against TF.js's WebGPU backend (tfjs-layers, model.fit),
// training the seed MLP and the seed CNN on the same data and the same adapter, in Node (Dawn)
// and in headless Chromium (SwiftShader, through Playwright). Prints a table per setting and
// writes every number as JSON.
// Usage: npm run bench [-- --json FILE] [-- --quick] [-- --setting node|chromium|both]
//        [-- --models mlp,cnn] [-- --cnn-steps N] [-- --no-profile] [-- --warm-cache] [-- --autotune]
//        npm run bench -- --json --device-report   (one JSON object on stdout; see below)

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sf from '../src/index.js';
import { runtime } from '../src/gpu/device.js';
import { runInChromium } from './browser.js';
import { kernelRows } from './kernel-rows.js';
import { loadTfjsWebgpu, type Tf } from './peers.js';
import { table } from './timing.js';
import { type BenchConfig, type HostData, mnistRows, type ModelResult, runTrainingBench, type SettingResult, type Tfjs } from './train-core.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
// --device-report: Node only, then every kernel's GFLOP/s, as one JSON object on stdout (or in
// the --json FILE), the progress on stderr: for a machine with a real GPU to run unchanged.
const deviceReport = args.includes('--device-report');
const jsonOption = option('--json');
const jsonPath = jsonOption && !jsonOption.startsWith('--') ? jsonOption : undefined;
const quick = args.includes('--quick');
const setting = deviceReport ? 'node' : (option('--setting') ?? 'both');
if (!['node', 'chromium', 'both'].includes(setting)) throw new Error(`bench: --setting must be node, chromium or both, got '${setting}'`);
const cnnSteps = option('--cnn-steps');
const models = (option('--models') ?? 'mlp,cnn').split(',') as ('mlp' | 'cnn')[];
if (models.length === 0 || models.some((m) => m !== 'mlp' && m !== 'cnn')) throw new Error(`bench: --models takes mlp, cnn or mlp,cnn, got '${option('--models')}'`);
// lavapipe compiles a pipeline lazily, at its first dispatch, and keeps the machine code in
// Mesa's disk cache (~/.cache/mesa_shader_cache_db): a second run would time cache hits. The
// first step is timed cold, as on a fresh machine, unless --warm-cache. Must be set before Dawn
// loads the driver. (Chromium's profile is fresh for every Playwright launch: always cold.)
const warmCache = args.includes('--warm-cache');
if (!warmCache) process.env.MESA_SHADER_CACHE_DISABLE = 'true';
// --autotune (and the device report): shaderflow trains once with its built-in kernel choices and
// once with choices tuned on this adapter from an empty store: in Node a fresh cache directory,
// so the user's own choices are neither used nor touched; in Chromium a fresh profile anyway.
const autotune = args.includes('--autotune') || deviceReport;
if (autotune) process.env.SHADERFLOW_CACHE_DIR = mkdtempSync(join(tmpdir(), 'shaderflow-bench-'));

/**
 * Sizes per setting. The CNN takes about 1 s per step at batch 128 for shaderflow on lavapipe
 * (2 cores) and SwiftShader is about 4× slower, so the default times a few CNN steps after a
 * warm-up epoch; --quick shrinks everything for the test. In Node the MLP runs epochs of the
 * notebook's size (120 Iris rows repeated 20 times: 75 batches of 32), four of them timed, so
 * the figure is not one epoch-end readback per 40 steps of about 0.3 ms each.
 */
function configFor(name: 'node' | 'chromium'): BenchConfig {
  const config: BenchConfig = quick
    ? { setting: name, mlp: { batchSize: 32, stepsPerEpoch: 3, measuredEpochs: 1 }, cnn: { batchSize: 16, stepsPerEpoch: 2, measuredEpochs: 1 }, profile: false }
    : name === 'node'
      ? { setting: name, mlp: { batchSize: 32, stepsPerEpoch: 75, measuredEpochs: 4 }, cnn: { batchSize: 128, stepsPerEpoch: 2, measuredEpochs: 2 }, profile: !args.includes('--no-profile') }
      : { setting: name, mlp: { batchSize: 32, stepsPerEpoch: 20, measuredEpochs: 2 }, cnn: { batchSize: 128, stepsPerEpoch: 1, measuredEpochs: 2 }, profile: !args.includes('--no-profile') };
  if (cnnSteps) config.cnn.stepsPerEpoch = Number(cnnSteps);
  config.models = models;
  config.autotune = autotune;
  return config;
}

/** The first `rows` MNIST training digits, on the host. */
async function mnist(rows: number): Promise<HostData> {
  await sf.ready();
  const { train } = await sf.datasets.mnist({ pixels: 'uint8' });
  const labels = (await train.y.data()) as Int32Array;
  train.y.dispose();
  return mnistRows(train.x.data, labels, rows);
}

async function loadTfjs(): Promise<Tfjs> {
  await loadTfjsWebgpu(); // Dawn as navigator.gpu, and the WebGPU backend on tfjs-core
  const tf = (await import('@tensorflow/tfjs')) as Tfjs; // the same tfjs-core instance, plus layers
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its WebGPU backend');
  return tf;
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(2);
const flops = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MFLOP` : `${n} FLOP`);
const times = (r: number): string => `${r.toFixed(2)}×`;

/** Targets from issue 7: CNN ≥ 3×, MLP ≥ 10× TF.js training samples/s; first step no slower. */
function targets(m: ModelResult): { train: number; firstStep: number } {
  return { train: m.model === 'cnn' ? 3 : 10, firstStep: 1 };
}

function print(result: SettingResult): void {
  console.log(`\n${result.setting}: ${result.adapter}; measured FMA peak ${result.peakGflops.toFixed(1)} GFLOP/s`);
  const rows: (string | number)[][] = [];
  for (const m of result.models) {
    const name = m.model === 'mlp' ? `MLP b${m.batchSize}` : `CNN b${m.batchSize}`;
    const t = targets(m);
    const mark = (ok: boolean): string => (ok ? 'met' : 'MISSED');
    rows.push([name, 'train samples/s', m.shaderflow.trainSamplesPerSecond, m.tfjs.trainSamplesPerSecond, times(m.ratio.trainSamplesPerSecond), `≥ ${t.train}× ${mark(m.ratio.trainSamplesPerSecond >= t.train)}`]);
    rows.push(['', 'first step ms', m.shaderflow.firstStepMs, m.tfjs.firstStepMs, times(m.ratio.firstStepMs), `≤ 1× ${mark(m.ratio.firstStepMs <= t.firstStep)}`]);
    rows.push(['', 'inference samples/s', m.shaderflow.inferenceSamplesPerSecond, m.tfjs.inferenceSamplesPerSecond, times(m.ratio.inferenceSamplesPerSecond), '']);
    rows.push(['', 'peak GPU MiB', mib(m.shaderflow.peakGpuBytes), mib(m.tfjs.peakGpuBytes), times(m.ratio.peakGpuBytes), '']);
    if (m.model === 'cnn') rows.push(['', '% of FMA peak (train)', (100 * m.fractionOfPeak.shaderflow).toFixed(1), (100 * m.fractionOfPeak.tfjs).toFixed(1), '', '']);
    rows.push(['', 'last epoch loss', m.shaderflow.loss.toFixed(3), m.tfjs.loss.toFixed(3), '', '']);
    if (m.autotune) {
      rows.push(['', 'train samples/s, tuned', m.autotune.trainSamplesPerSecond, '', `${times(m.autotune.ratio)} built-in`, '']);
      rows.push(['', 'first step ms, tuning', m.autotune.firstStepMs, '', '', '']);
    }
  }
  console.log(table(['model', 'metric', 'shaderflow', 'TF.js WebGPU', 'ratio', 'target'], rows));
  for (const m of result.models) {
    console.log(`${m.model}: ${m.data}; ${m.stepsPerEpoch} steps × ${m.measuredEpochs} epoch(s) timed after a warm-up epoch; ` +
      `${flops(m.forwardFlopsPerSample)} forward, ${flops(m.trainFlopsPerSample)} training per sample`);
    if (m.autotune) {
      const changed = m.autotune.choices.filter((c) => Object.keys(c.variant).length > 0);
      console.log(`  autotune: ${m.autotune.choices.length} kernel shapes timed in place, ${changed.length} changed from the built-in choice`);
      for (const c of changed) {
        const kept = c.timings.find((t) => JSON.stringify(t.variant) === JSON.stringify(c.variant))!;
        console.log(`    ${c.key}: ${JSON.stringify(c.variant)} ${kept.ms.toFixed(3)} ms against ${c.timings[0].ms.toFixed(3)} ms built-in`);
      }
    }
    if (m.profile) {
      const top = m.profile.rows.slice(0, 6).map((r) => `${r.kernel} ${((100 * r.milliseconds) / m.profile!.milliseconds).toFixed(0)}%`).join(', ');
      console.log(`  shaderflow ${m.model} step profile: ${m.profile.milliseconds.toFixed(1)} GPU ms, ${m.profile.dispatches} dispatches; ${top}`);
    }
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  if (deviceReport) console.log = console.error; // stdout carries the JSON alone
  const log = (line: string): void => console.log(line);
  const settings: SettingResult[] = [];
  const nodeConfig = configFor('node');
  const chromiumConfig = configFor('chromium');
  const cnnRows = Math.max(nodeConfig.cnn.batchSize * nodeConfig.cnn.stepsPerEpoch, chromiumConfig.cnn.batchSize * chromiumConfig.cnn.stepsPerEpoch);
  const digits = models.includes('cnn') ? await mnist(cnnRows) : { x: new Float32Array(0), y: new Int32Array(0), shape: [0, 28, 28, 1], classes: 10, source: 'none' };
  const subset = (rows: number): HostData => ({ ...digits, x: digits.x.subarray(0, rows * 784), y: digits.y.subarray(0, rows), shape: [rows, 28, 28, 1], source: `MNIST digits, first ${rows} of the training split` });
  if (setting !== 'chromium') {
    settings.push(await runTrainingBench(await loadTfjs(), nodeConfig, subset(nodeConfig.cnn.batchSize * nodeConfig.cnn.stepsPerEpoch), log));
    print(settings[settings.length - 1]);
  }
  if (setting !== 'node') {
    const rows = chromiumConfig.cnn.batchSize * chromiumConfig.cnn.stepsPerEpoch;
    settings.push(await runInChromium(chromiumConfig, subset(rows), { timeoutMs: 30 * 60_000, log }));
    print(settings[settings.length - 1]);
  }
  const report = {
    benchmark: 'shaderflow vs TF.js WebGPU: training the seed MLP and CNN',
    quick,
    shaderCache: warmCache ? 'warm (Mesa disk cache kept)' : 'cold (MESA_SHADER_CACHE_DISABLE in Node; fresh Chromium profile)',
    date: new Date().toISOString(),
    seconds: (performance.now() - started) / 1000,
    flopsFormula: 'forward FLOPs per sample = Σ over conv/dense layers of 2·K·N (K = kh·kw·cin or input width, N = output elements per sample); training = 3 × forward (backward ≈ 2× forward)',
    settings,
  };
  const out = deviceReport ? await withDeviceReport(report, settings[0]) : report;
  if (jsonPath) {
    writeFileSync(jsonPath, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\nwrote ${jsonPath}`);
  } else if (deviceReport) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  }
}

/**
 * The training report plus what a new adapter needs judging by: its features and limits, its
 * measured FMA peak, and each kernel's GFLOP/s and share of that peak next to TF.js's.
 */
async function withDeviceReport(report: object, node: SettingResult): Promise<object> {
  const info = await sf.ready();
  const rt = runtime();
  const tf = (await import('@tensorflow/tfjs-core')) as Tf; // loaded for the training bench, on navigator.gpu
  const adapter = await (navigator as unknown as { gpu: GPU }).gpu.requestAdapter({ powerPreference: 'high-performance' });
  const batch = quick ? 32 : 128;
  console.log(`\nkernels at batch ${batch}…`);
  const rows = await kernelRows(rt, tf, batch, quick ? 0.1 : 0.5);
  const peak = node.peakGflops;
  console.log(table(['op', 'shaderflow GFLOP/s', '% of peak', 'TF.js WebGPU GFLOP/s', 'ratio'], rows.map((r) => [r.op, r.ours, (100 * r.ours) / peak, r.peer, r.ours / r.peer])));
  const training = Object.fromEntries(
    node.models.map((m) => [
      m.model,
      {
        batchSize: m.batchSize,
        trainSamplesPerSecond: { shaderflow: m.shaderflow.trainSamplesPerSecond, tfjs: m.tfjs.trainSamplesPerSecond, ratio: m.ratio.trainSamplesPerSecond },
        firstStepMs: { shaderflow: m.shaderflow.firstStepMs, tfjs: m.tfjs.firstStepMs },
        percentOfPeak: { shaderflow: 100 * m.fractionOfPeak.shaderflow, tfjs: 100 * m.fractionOfPeak.tfjs },
        ...(m.autotune ? { autotune: m.autotune } : {}),
      },
    ]),
  );
  return {
    deviceReport: 'shaderflow on this adapter: FMA peak, kernels, and training next to TF.js WebGPU',
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      platform: info.platform,
      features: adapter ? [...adapter.features].sort() : info.features,
      usedFeatures: info.features,
      subgroupSize: info.subgroupSize ?? null,
      limits: info.limits,
    },
    peakGflops: peak,
    kernels: rows.map((r) => ({ op: r.op, batch, gflops: r.ours, percentOfPeak: (100 * r.ours) / peak, tfjsGflops: r.peer, ratio: r.ours / r.peer })),
    training,
    ...report,
  };
}

await main();
// Dawn's device threads would keep Node alive after the last await.
process.exit(0);
