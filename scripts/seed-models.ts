// The two models of the notebook behind shaderflow, built once for the main job, the
// benchmarks and the tests.

import * as sf from '../src/index.js';

/** Seeds every initializer and dropout mask from `seed` when given, for reproducible runs. */
const seeded = (seed: number | undefined, k: number) => (seed === undefined ? {} : { kernelInitializer: sf.initializers.glorotUniform({ seed: seed + k }) });

/** Dense 10 relu, Dropout 0.2, Dense 3 softmax over the four Iris features. */
export function irisMlp(seed?: number): sf.Sequential {
  return sf.sequential([
    sf.layers.dense({ units: 10, activation: 'relu', inputShape: [4], ...seeded(seed, 0) }),
    sf.layers.dropout({ rate: 0.2, seed }),
    sf.layers.dense({ units: 3, activation: 'softmax', ...seeded(seed, 1) }),
  ]);
}

/**
 * Four Conv2D 5x5 'same' relu layers of 16/32/64/128 filters, each followed by MaxPool 2x2
 * 'same'; Flatten; Dense 128 relu; Dropout 0.4; Dense `classes` softmax: 336,394 parameters
 * for 28x28x1 inputs and 10 classes.
 */
export function seedCnn({ classes = 10, seed }: { classes?: number; seed?: number } = {}): sf.Sequential {
  const model = sf.sequential();
  for (const [k, filters] of [16, 32, 64, 128].entries()) {
    model.add(sf.layers.conv2d({ filters, kernelSize: 5, padding: 'same', activation: 'relu', ...(k === 0 ? { inputShape: [28, 28, 1] } : {}), ...seeded(seed, k) }));
    model.add(sf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }));
  }
  model.add(sf.layers.flatten());
  model.add(sf.layers.dense({ units: 128, activation: 'relu', ...seeded(seed, 4) }));
  model.add(sf.layers.dropout({ rate: 0.4, seed }));
  model.add(sf.layers.dense({ units: classes, activation: 'softmax', ...seeded(seed, 5) }));
  return model;
}
