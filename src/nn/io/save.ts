// Saving a model: its Keras topology and its weights as TF.js's ModelArtifacts, written by a
// handler. It reads the model through SavableModel, so it never imports model.ts.

import type { Layer } from '../layers/index.js';
import type { Tensor } from '../tensor.js';
import { handlerFor, type IOHandler, type ModelArtifacts, type SaveResult, version } from './handlers.js';

export type { IOHandler, ModelArtifacts, SaveResult };

/** What saving needs of a model. */
export interface SavableModel {
  readonly name: string;
  readonly isBuilt: boolean;
  readonly layers: readonly Layer[];
  readonly inputShape: number[] | null;
  readonly weights: readonly { readonly name: string; readonly tensor: Tensor }[];
}

/** The artifacts of a built model: its topology as Keras/TF.js write it and its weights. */
export async function toArtifacts(model: SavableModel): Promise<ModelArtifacts> {
  if (!model.isBuilt) throw new Error(`model '${model.name}'.save: the model has no weights yet; build it (fit, predict, or an inputShape on the first layer) before saving`);
  const layers = model.layers.map((layer, k) => ({
    class_name: layer.className,
    config: { ...layer.getConfig(), ...(k === 0 ? { batch_input_shape: [null, ...model.inputShape!] } : {}) },
  }));
  const weights = model.weights;
  const data = await Promise.all(weights.map((w) => w.tensor.data()));
  const bytes = new Uint8Array(data.reduce((n, d) => n + d.byteLength, 0));
  let offset = 0;
  for (const d of data) {
    bytes.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), offset);
    offset += d.byteLength;
  }
  return {
    format: 'layers-model',
    generatedBy: `shaderflow ${version}`,
    convertedBy: null,
    modelTopology: {
      class_name: 'Sequential',
      config: { name: model.name, layers },
      keras_version: `shaderflow ${version}`,
      backend: 'webgpu',
    },
    weightSpecs: weights.map((w) => ({ name: w.name, shape: [...w.tensor.shape], dtype: 'float32' })),
    weightData: bytes.buffer,
  };
}

/** model.save: writes the model in TF.js's Layers format. */
export async function saveModel(model: SavableModel, target: string | IOHandler): Promise<SaveResult | unknown> {
  const where = `model '${model.name}'.save`;
  const handler = handlerFor(target, where);
  if (!handler.save) throw new Error(`${where}: '${String(target)}' can only load, not save`);
  return handler.save(await toArtifacts(model));
}
