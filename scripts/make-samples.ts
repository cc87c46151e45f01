// Writes the sample images the main job predicts on: digits from the MNIST test split as 28x28
// greyscale PNGs, some inverted to dark-on-light as a hand drawing on paper would be.
// Usage: node scripts/run-ts.mjs scripts/make-samples.ts (the files are committed under samples/).

import { writeFileSync } from 'node:fs';
import { encode } from 'fast-png';
import * as sf from '../src/index.js';

await sf.ready();
const { test } = await sf.datasets.mnist({ pixels: 'uint8' });
const labels = await test.y.data();
const wanted = [7, 2, 1, 0, 4, 9, 3, 8];
for (const [k, digit] of wanted.entries()) {
  const row = labels.findIndex((l, i) => l === digit && i >= k * 37);
  let pixels = test.x.data.slice(row * 784, (row + 1) * 784);
  const inverted = k % 2 === 1;
  if (inverted) pixels = pixels.map((p) => 255 - p);
  const name = `samples/digit-${digit}${inverted ? '-inverted' : ''}.png`;
  writeFileSync(name, encode({ width: 28, height: 28, data: pixels, channels: 1, depth: 8 }));
  console.log(`${name} (test image ${row})`);
}
