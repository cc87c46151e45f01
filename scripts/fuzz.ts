// Many more random calls than `npm test` makes (see test/fuzz.ts): node scripts/run-ts.mjs
// scripts/fuzz.ts [--seeds N] [--seed S] [--calls N] [--fits N] [--messages]
// (--messages prints what fit said to each kind of fault). Prints each seed's counts and
// every failure, and exits 1 if there was any.

import * as tf from '@tensorflow/tfjs';
import * as sf from '../src/index.js';
import { fuzz } from '../test/fuzz.js';

function flag(name: string, fallback: number): number {
  const k = process.argv.indexOf(`--${name}`);
  return k < 0 ? fallback : Number(process.argv[k + 1]);
}

await sf.ready();
await tf.setBackend('cpu');
const [first, seeds, calls, fits] = [flag('seed', 1), flag('seeds', 10), flag('calls', 1000), flag('fits', 50)];
let failed = 0;
for (let seed = first; seed < first + seeds; seed++) {
  const started = performance.now();
  const report = await fuzz(sf, tf, { seed, calls, fits });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`seed ${seed}: ${report.calls} calls, ${report.returned} returned, ${report.refused} refused clearly (fits: ${report.fitsResolved} resolved, ${report.fitsRejected} rejected), ${report.failures.length} failed (${seconds} s)`);
  for (const f of report.failures) console.log(`  ${f}`);
  if (process.argv.includes('--messages')) for (const [fault, message] of report.fitMessages) console.log(`  fit with ${fault}: ${message}`);
  failed += report.failures.length;
}
console.log(failed ? `${failed} failures` : 'no failures');
process.exit(failed ? 1 : 0);
