// The demo in a Chromium without WebGPU (--disable-features=WebGPU, none of the config's WebGPU
// flags): it explains how to enable WebGPU instead of showing a blank page. A file of its own
// because launch options are per worker and must be set at a file's top level.

import { expect, test } from './fixtures.js';
import { demoUrl, screenshot } from './demo-helpers.js';

test.use({
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--disable-features=WebGPU', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  },
});

test('with WebGPU disabled the demo says how to enable it', async ({ page }, testInfo) => {
  await page.goto(demoUrl);
  const message = page.locator('#no-webgpu');
  await expect(message).toBeVisible({ timeout: 30_000 });
  await expect(message).toContainText('WebGPU is not available here');
  await expect(message).toContainText('chrome://flags/#enable-unsafe-webgpu');
  // Chromium may still define navigator.gpu and then offer no adapter: sf.ready()'s reason is shown.
  await expect(page.locator('#no-webgpu-reason')).toContainText(/navigator\.gpu is undefined|No WebGPU adapter/);
  await expect(page.locator('#gpu')).toHaveAttribute('data-state', 'missing');
  await expect(page.locator('#app')).toBeHidden();
  await screenshot(page, testInfo, 'webgpu-disabled');
});

test('in a browser without navigator.gpu the demo says so', async ({ page }, testInfo) => {
  await page.addInitScript(() => {
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
  });
  await page.goto(demoUrl);
  await expect(page.locator('#no-webgpu')).toBeVisible({ timeout: 30_000 });
  await expect(page.locator('#no-webgpu-reason')).toHaveText('This browser does not expose WebGPU (navigator.gpu is undefined).');
  await expect(page.locator('#app')).toBeHidden();
  await screenshot(page, testInfo, 'no-navigator-gpu');
});
