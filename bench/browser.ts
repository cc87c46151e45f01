// Runs the training benchmark page (bench/page) in headless Chromium through Playwright, with
// the same browser flags as the e2e tests (WebGPU on SwiftShader), and returns its results.
// Vite serves the page on its own port, so the e2e server never pre-bundles TF.js.

import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import playwrightConfig from '../playwright.config.js';
import type { BenchConfig, HostData, SettingResult } from './train-core.js';

/** Loads bench/page in Chromium, hands it the MNIST rows, and waits for window.benchResult. */
export async function runInChromium(config: BenchConfig, mnist: HostData, { timeoutMs, log }: { timeoutMs: number; log: (line: string) => void }): Promise<SettingResult> {
  const server = await createServer({
    configFile: false,
    root: fileURLToPath(new URL('./page', import.meta.url)),
    resolve: { alias: { shaderflow: fileURLToPath(new URL('../src/index.ts', import.meta.url)) } },
    // Bundled once at start-up, so the page does not reload halfway when Vite discovers them.
    optimizeDeps: { include: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu'] },
    server: { host: '127.0.0.1', port: 5176, strictPort: false, watch: null },
    logLevel: 'warn',
  });
  await server.listen();
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('bench: Vite did not report the URL it serves on');
  const launchOptions = playwrightConfig.use?.launchOptions ?? {};
  const browser = await chromium.launch({ ...launchOptions, headless: true });
  try {
    const page = await browser.newPage();
    page.on('console', (message) => log(`  [chromium] ${message.text()}`));
    page.on('pageerror', (error) => log(`  [chromium] uncaught: ${error.message}`));
    const rows = mnist.y.length;
    const body = Buffer.alloc(4 + rows * 785);
    body.writeUInt32LE(rows, 0);
    Buffer.from(Uint8Array.from(mnist.x, (v) => Math.round(v * 255))).copy(body, 4);
    Buffer.from(Uint8Array.from(mnist.y)).copy(body, 4 + rows * 784);
    await page.route('**/bench-data/mnist.bin', (route) => route.fulfill({ body, contentType: 'application/octet-stream' }));
    await page.goto(`${url}?config=${encodeURIComponent(JSON.stringify(config))}`);
    type BenchWindow = { benchResult?: SettingResult; benchError?: string };
    await page.waitForFunction(() => {
      const w = window as unknown as BenchWindow;
      return w.benchResult !== undefined || w.benchError !== undefined;
    }, null, { timeout: timeoutMs, polling: 500 });
    const { result, error } = await page.evaluate(() => {
      const w = window as unknown as BenchWindow;
      return { result: w.benchResult, error: w.benchError };
    });
    if (error || !result) throw new Error(`bench page failed in Chromium: ${error ?? 'no result'}`);
    return result;
  } finally {
    await browser.close();
    await server.close();
  }
}
