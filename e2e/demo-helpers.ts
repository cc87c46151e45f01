// Shared by the demo's e2e specs: where the demo is served and how a state is recorded.
import type { Page, TestInfo } from '@playwright/test';

/** The demo's Vite server, started by playwright.config.ts's second webServer. */
export const demoUrl = 'http://127.0.0.1:5175/';

/** A full-page screenshot, saved in the test's output folder and attached to its report. */
export async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}
