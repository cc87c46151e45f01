// With no GPU driver at all, sf.ready() says which driver to install. Real Dawn, with the
// Vulkan loader pointed at no driver; in a file of its own, since the process keeps that state.

import * as sf from 'shaderflow';
import { expect, it } from 'vitest';

it('names the driver to install when there is no adapter', async () => {
  process.env.VK_ICD_FILENAMES = '/nonexistent/no-driver.json';
  process.env.VK_DRIVER_FILES = '/nonexistent/no-driver.json';
  await expect(sf.ready()).rejects.toThrow(/No WebGPU adapter was found[\s\S]*mesa-vulkan-drivers/);
  expect(() => sf.tensor([1])).toThrow('shaderflow has no GPU device yet: call `await sf.ready()` first');
});
