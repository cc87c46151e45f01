// The training benchmark in a browser tab: the same measurements as in Node (train-core.ts),
// configured by the ?config= query; bench/browser.ts drives it with Playwright and reads
// window.benchResult. MNIST bytes come from /bench-data/mnist.bin, which the runner serves.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { type BenchConfig, mnistRows, runTrainingBench, type SettingResult } from '../train-core.js';

declare global {
  interface Window {
    benchResult?: SettingResult;
    benchError?: string;
  }
}

const status = document.getElementById('status')!;
const logged = document.getElementById('log')!;
const log = (line: string): void => {
  logged.textContent += `${line}\n`;
  console.log(line);
};

async function main(): Promise<void> {
  const config = JSON.parse(new URLSearchParams(location.search).get('config') ?? 'null') as BenchConfig | null;
  if (!config) throw new Error('bench page: pass the benchmark settings as ?config=<JSON>');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its WebGPU backend');
  await tf.ready();
  // [rows: uint32][pixels: rows·784 bytes][labels: rows bytes]
  const bytes = new Uint8Array(await (await fetch('/bench-data/mnist.bin')).arrayBuffer());
  const rows = new DataView(bytes.buffer).getUint32(0, true);
  const pixels = bytes.subarray(4, 4 + rows * 784);
  const labels = Int32Array.from(bytes.subarray(4 + rows * 784, 4 + rows * 785));
  window.benchResult = await runTrainingBench(tf, config, mnistRows(pixels, labels, rows), log);
  status.textContent = 'Done';
  status.dataset.state = 'done';
}

main().catch((error: Error) => {
  window.benchError = error.stack ?? error.message;
  status.textContent = error.message;
  status.dataset.state = 'error';
});
