// Which source files one training step runs code in: the Iris MLP's first step (tracing,
// planning, compiling) and a steady-state step, from V8's precise coverage. `npm run bench:path`.

import { Session } from 'node:inspector/promises';
import * as sf from '../src/index.js';
import { irisMlp } from '../scripts/seed-models.js';

interface Coverage { result: { url: string; functions: { ranges: { count: number }[] }[] }[] }

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await sf.ready();
const x = sf.tensor(new Float32Array(64 * 4).map((_, i) => (i % 7) / 7), [64, 4]);
const y = sf.tensor(Int32Array.from({ length: 64 }, (_, i) => i % 3), [64], 'int32');
const model = irisMlp(1);
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

/** Source files (under src/, tests aside) in which some function ran since the last call. */
async function filesRun(): Promise<string[]> {
  const { result } = (await session.post('Profiler.takePreciseCoverage')) as Coverage;
  const files = new Set<string>();
  for (const script of result) {
    const m = /\/src\/(.+?\.ts)/.exec(script.url);
    if (m && script.functions.some((f) => f.ranges[0].count > 0)) files.add(m[1]);
  }
  return [...files].sort();
}

await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
await filesRun(); // resets the counts: loading the modules is not part of a step
await model.fit(x, y, { epochs: 1, batchSize: 64, verbose: 0 });
const first = await filesRun();
await model.fit(x, y, { epochs: 1, batchSize: 64, verbose: 0 });
const steady = await filesRun();
const total = (await import('node:fs')).readdirSync(new URL('../src', import.meta.url), { recursive: true })
  .filter((f) => typeof f === 'string' && f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts')).length;
console.log(`source files: ${total}`);
console.log(`first fit (one step: trace, plan, compile, run): ${first.length} files\n  ${first.join('\n  ')}`);
console.log(`a later fit (one step, planned already): ${steady.length} files\n  ${steady.join('\n  ')}`);
model.dispose();
