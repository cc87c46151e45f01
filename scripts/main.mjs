// shaderflow's main job. For now: acquire the GPU, report it, run an elementwise kernel over a
// million elements, check the result against the CPU and report the bandwidth it reached.
import * as sf from 'shaderflow';

const info = await sf.ready();
console.log(`shaderflow on ${[info.vendor, info.architecture, info.description].filter(Boolean).join(' · ')} (${info.platform})`);
console.log(`  max storage binding ${(info.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB, ` +
  `workgroup storage ${info.limits.maxComputeWorkgroupStorageSize / 1024} KiB, ` +
  `timestamps ${info.features.includes('timestamp-query') ? 'yes' : 'no'}`);

const n = 1 << 20;
const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
const b = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
const ta = sf.tensor(a);
const tb = sf.tensor(b);

// Warm up (compiles the pipeline), then time a chain of adds with one readback at the end.
await sf.add(ta, tb).data();
const reps = 50;
const start = performance.now();
let sum = sf.add(ta, tb);
for (let r = 1; r < reps; r++) {
  const next = sf.add(sum, tb);
  sum.dispose();
  sum = next;
}
const out = await sum.data();
const seconds = (performance.now() - start) / 1000;

let worst = 0;
for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(out[i] - (a[i] + reps * b[i])));
const gbps = (reps * 3 * 4 * n) / seconds / 1e9;
console.log(`  ${reps} × add over ${n.toLocaleString('en')} elements: ${(seconds * 1000).toFixed(1)} ms, ${gbps.toFixed(2)} GB/s, max error ${worst.toExponential(1)}`);
if (worst > 1e-3) {
  console.error('  result does not match the CPU');
  process.exit(1);
}
const mem = sf.memory();
console.log(`  live tensors ${mem.numTensors}, GPU bytes in use ${mem.numBytesInUse.toLocaleString('en')}, held ${mem.numBytesHeld.toLocaleString('en')}`);
