// Input-pipeline benchmark: the seed CNN trained (batch 128) from GPU-resident tensors, from a
// tf.data pipeline (shuffle, batch, map) that fit keeps on the GPU, from the same pipeline over
// uint8 pixels, and from the pipeline iterated on the host (each batch uploaded), as samples/s.
// Usage: npm run bench:data [-- --json FILE] [-- --rows N]

import { writeFileSync } from 'node:fs';
import * as sf from '../src/index.js';
import { seedCnn } from '../scripts/seed-models.js';
import { table } from './timing.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const jsonPath = option('--json');
const rows = Number(option('--rows') ?? 768);
const batchSize = 128;

function seedCnnCompiled(): sf.Sequential {
  const model = seedCnn({ seed: 1 });
  model.compile({ loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** Samples/s of a second one-epoch fit (the first compiles the plans). */
async function throughput(name: string, fit: (model: sf.Sequential) => Promise<sf.History>): Promise<{ name: string; samplesPerSecond: number }> {
  const model = seedCnnCompiled();
  await fit(model);
  const started = performance.now();
  await fit(model);
  const seconds = (performance.now() - started) / 1000;
  model.dispose();
  return { name, samplesPerSecond: rows / seconds };
}

async function main(): Promise<void> {
  const info = await sf.ready();
  console.log(`adapter: ${info.description || info.device || info.vendor}; seed CNN, batch ${batchSize}, ${rows} MNIST digits per epoch`);
  const { train } = await sf.datasets.mnist();
  const first = sf.tensor(Int32Array.from({ length: rows }, (_, i) => i), [rows], 'int32');
  const x = sf.gather(train.x, first);
  const y = sf.gather(train.y, first);
  const pixels = await sf.datasets.mnist({ pixels: 'uint8' });
  const bytes = { data: pixels.train.x.data.subarray(0, rows * 784), shape: [rows, 28, 28, 1], dtype: 'float32' as const };
  const labels = sf.gather(pixels.train.y, first);
  const xRaw = sf.mul(x, 255); // the pipelines below normalize it back with a map
  const pipeline = () => sf.data.fromTensorSlices([xRaw, y]).shuffle(1000, 1).batch(batchSize).map(([a, b]) => [sf.div(a as sf.Tensor, 255), b]);
  const bytePipeline = () => sf.data.fromTensorSlices([bytes, labels]).shuffle(1000, 1).batch(batchSize).map(([a, b]) => [sf.div(a as sf.Tensor, 255), b]);
  const results = [
    await throughput('GPU-resident tensors: fit(x, y)', (m) => m.fit(x, y, { batchSize, epochs: 1, verbose: 0, seed: 1 })),
    await throughput('pipeline (shuffle, batch, map), kept on the GPU', (m) => m.fit(pipeline(), { epochs: 1, verbose: 0 })),
    await throughput('pipeline over uint8 pixels, kept on the GPU', (m) => m.fit(bytePipeline(), { epochs: 1, verbose: 0 })),
    await throughput('pipeline iterated on the host, batches uploaded', (m) => {
      const ds = pipeline();
      return m.fit({ [Symbol.asyncIterator]: () => ds[Symbol.asyncIterator]() }, { epochs: 1, verbose: 0 });
    }),
  ];
  const base = results[0].samplesPerSecond;
  console.log(table(['input', 'samples/s', 'vs tensors'], results.map((r) => [r.name, r.samplesPerSecond, `${((100 * r.samplesPerSecond) / base).toFixed(0)}%`])));
  if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ adapter: info, rows, batchSize, results }, null, 2));
}

await main();
