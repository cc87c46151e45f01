// The library in a real browser: WebGPU on SwiftShader runs an eager kernel and the page shows it.
import { expect, test } from './fixtures.js';

test('runs a kernel in Chromium and shows the result', async ({ page }, testInfo) => {
  await page.goto('/');
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await expect(page.locator('#result')).toHaveText('[21,42,63,84]');
  await expect(page.locator('#adapter')).not.toHaveText('…');
  await page.screenshot({ path: testInfo.outputPath('kernel.png'), fullPage: true });
});
