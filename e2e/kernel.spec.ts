// The library in a real browser: WebGPU on SwiftShader runs eager kernels and the page shows
// them, the matmul and convolutions on SwiftShader's 4-lane subgroups.
import { expect, test } from './fixtures.js';

test('runs kernels in Chromium and shows the results', async ({ page }, testInfo) => {
  await page.goto('/');
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(page.locator('#result')).toHaveText('[21,42,63,84]');
  // SwiftShader reports one subgroup size, so these take the kernels that share loads across it.
  await expect(page.locator('#subgroup')).toHaveText('4 lanes');
  const errors = JSON.parse((await page.locator('#errors').textContent())!) as number[];
  expect(errors).toHaveLength(3);
  // float32 sums of at most 225 products of values in [-1, 1).
  for (const e of errors) expect(e).toBeLessThan(1e-4);
  await expect(page.locator('#adapter')).not.toHaveText('…');
  await page.screenshot({ path: testInfo.outputPath('kernel.png'), fullPage: true });
});
