// Loading a model saved in TF.js's Layers format (by shaderflow, TF.js or Keras through
// tfjs-converter): its layers from the topology, its weights by name.

import { layerFromConfig } from '../layers/index.js';
import { Sequential } from '../model.js';
import { tensor } from '../tensor.js';
import { concat, handlerFor, type IOHandler, type ModelArtifacts } from './handlers.js';

/** A model built from artifacts, its weights set by name. */
export function fromArtifacts(artifacts: ModelArtifacts, where: string): Sequential {
  const topology = artifacts.modelTopology as { class_name?: string; config?: unknown; model_config?: { class_name?: string; config?: unknown } };
  const top = topology.model_config ?? topology;
  if (top.class_name !== 'Sequential') {
    throw new Error(`${where}: only Sequential models can be loaded, got a '${String(top.class_name)}' topology`);
  }
  const config = top.config as { name?: string; layers?: { class_name: string; config: Record<string, unknown> }[] } | { class_name: string; config: Record<string, unknown> }[];
  const layerConfigs = Array.isArray(config) ? config : config.layers ?? [];
  const name = Array.isArray(config) ? 'sequential' : config.name ?? 'sequential';
  const model = new Sequential({ name });
  let inputShape: (number | null)[] | undefined;
  for (const { class_name, config: c } of layerConfigs) {
    if (class_name === 'InputLayer') {
      inputShape = (c.batch_input_shape ?? c.batch_shape) as (number | null)[];
      continue;
    }
    const layerConfig = inputShape && !c.batch_input_shape ? { ...c, batch_input_shape: inputShape } : c;
    inputShape = undefined;
    model.add(layerFromConfig(class_name, layerConfig));
  }
  const first = model.layers[0];
  if (!first?.inputShape) throw new Error(`${where}: the saved topology does not give the first layer's input shape (batch_input_shape)`);
  // Weight values by name, in manifest order over the concatenated binary, which must hold
  // exactly the bytes the manifest lists: a longer or shorter file is a different model.
  const data = concat(artifacts.weightData);
  const byName = new Map<string, { values: Float32Array; shape: number[] }>();
  let offset = 0;
  for (const spec of artifacts.weightSpecs ?? []) {
    if (spec.dtype !== 'float32') throw new Error(`${where}: weight '${spec.name}' is ${spec.dtype}; only float32 weights are supported`);
    if (!Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`${where}: weight '${spec.name}' has shape ${JSON.stringify(spec.shape)}; expected an array of non-negative integers`);
    }
    const count = spec.shape.reduce((n, d) => n * d, 1);
    if (offset + count * 4 > data.byteLength) throw new Error(`${where}: the weight data ends before weight '${spec.name}' (${data.byteLength} bytes for the manifest's ${offset + count * 4}+)`);
    byName.set(spec.name.replace(/:0$/, ''), { values: new Float32Array(data.slice(offset, offset + count * 4)), shape: spec.shape });
    offset += count * 4;
  }
  if (offset !== data.byteLength) {
    throw new Error(`${where}: the weight data holds ${data.byteLength} bytes, but the manifest lists ${offset} (${data.byteLength - offset} bytes too many); the weights file does not belong to this model.json`);
  }
  model.build(first.inputShape);
  for (const layer of model.layers) {
    for (const w of layer.weights) {
      const saved = byName.get(w.name);
      if (!saved) {
        model.dispose();
        throw new Error(`${where}: no saved weight named '${w.name}' (the file has ${[...byName.keys()].join(', ') || 'none'})`);
      }
      if (saved.shape.length !== w.tensor.rank || saved.shape.some((d, k) => d !== w.tensor.shape[k])) {
        model.dispose();
        throw new Error(`${where}: weight '${w.name}' has shape [${saved.shape.join(', ')}] in the manifest, but the topology's layer needs [${w.tensor.shape.join(', ')}]`);
      }
      w.tensor.dispose();
      w.tensor = tensor(saved.values, w.tensor.shape);
    }
  }
  return model;
}

/** sf.loadModel: a Sequential model from TF.js's Layers format (file://, http(s)://, indexeddb:// or an IOHandler). */
export async function loadModel(source: string | IOHandler): Promise<Sequential> {
  const where = `sf.loadModel(${typeof source === 'string' ? `'${source}'` : 'handler'})`;
  const handler = handlerFor(source, where);
  if (!handler.load) throw new Error(`${where}: this handler can only save, not load`);
  return fromArtifacts(await handler.load(), where);
}
