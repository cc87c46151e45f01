// Serves the e2e pages, which import shaderflow from its sources as the demo does.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./pages', import.meta.url)),
  resolve: { alias: { shaderflow: fileURLToPath(new URL('../src/index.ts', import.meta.url)) } },
  server: { host: '127.0.0.1', strictPort: true },
  logLevel: 'warn',
});
