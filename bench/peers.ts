// TensorFlow.js with its WebGPU backend, on the same Dawn adapter shaderflow uses, as the peer
// every benchmark compares against.

import { globals } from 'webgpu';
import { ready } from '../src/gpu/device.js';

export type Tf = typeof import('@tensorflow/tfjs-core');

/** Loads TF.js and its WebGPU backend on a Dawn GPU object of its own; returns tf. */
export async function loadTfjsWebgpu(): Promise<Tf> {
  await ready(); // loads Dawn; its GPU object stays referenced by shaderflow
  const { create } = (await import('webgpu')) as unknown as { create(o: string[]): GPU };
  // TF.js reads navigator.gpu and the GPU* constants from the global scope, as in a browser.
  Object.assign(globalThis, globals);
  const gpu = create([]);
  (globalThis as Record<string, unknown>).peerGpu = gpu; // keep Dawn's object alive
  Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true });
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its WebGPU backend');
  await tf.ready();
  return tf;
}
