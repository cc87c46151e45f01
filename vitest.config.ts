import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests import the package by its name, as users do, but run the sources.
    alias: { shaderflow: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    // Kernel choices the tests tune go to a directory of this run, never the user's cache.
    // SHADERFLOW_F16: the half-precision kernels are tested on CPU adapters too.
    env: { SHADERFLOW_CACHE_DIR: join(tmpdir(), `shaderflow-test-${process.pid}`), SHADERFLOW_AUTOTUNE: '', SHADERFLOW_F16: '1' },
    hookTimeout: 60_000,
  },
});
