// Fails the whole run, loudly, when this machine has no WebGPU adapter: a suite that silently
// skipped every GPU test would pass while testing nothing.

import { driverHelp } from '../src/gpu/device.js';

export default async function setup(): Promise<void> {
  const { create } = (await import('webgpu')) as { create(options: string[]): GPU };
  const gpu = create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error(`The tests need a WebGPU adapter and this machine has none. ${driverHelp}`);
  const info = adapter.info;
  console.log(`WebGPU adapter: ${info.vendor} ${info.architecture} ${info.device} ${info.description}`.replace(/\s+/g, ' '));
}
