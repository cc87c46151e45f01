// Serves and builds the demo; 'shaderflow' resolves to the library's sources, as in the e2e pages.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative asset URLs, so the built app works from any folder (GitHub Pages, a file server).
  base: './',
  resolve: {
    alias: {
      shaderflow: fileURLToPath(new URL('../src/index.ts', import.meta.url)),
      mnist: fileURLToPath(new URL('./src/no-mnist-package.ts', import.meta.url)),
    },
  },
  server: { host: '127.0.0.1' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
});
