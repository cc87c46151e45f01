// The layer registry: one line per layer kind gives both its sf.layers factory and the Keras
// class name that model.json files load it by. Adding a kind is its file plus one line here.

import { Registry } from '../registry.js';
import { ActivationLayer, type ActivationArgs } from './activation.js';
import { Conv2D, type Conv2dArgs } from './conv2d.js';
import { Dense, type DenseArgs } from './dense.js';
import { Dropout, type DropoutArgs } from './dropout.js';
import { Flatten } from './flatten.js';
import { Layer, type LayerArgs } from './layer.js';
import { AveragePooling2D, MaxPooling2D, type Pooling2dArgs } from './pooling.js';

export { Layer, layerActivations, type CallContext, type LayerActivation, type LayerArgs, type LayerWeight } from './layer.js';
export { Dense, type DenseArgs } from './dense.js';
export { Conv2D, type Conv2dArgs } from './conv2d.js';
export { MaxPooling2D, AveragePooling2D, type Pooling2dArgs } from './pooling.js';
export { Flatten } from './flatten.js';
export { Dropout, type DropoutArgs } from './dropout.js';
export { ActivationLayer, type ActivationArgs } from './activation.js';

/** What the registry needs of a layer class: its Keras class name and how to build it from a Keras config. */
export interface LayerClass<L extends Layer = Layer> {
  readonly className: string;
  fromConfig(config: Record<string, unknown>): L;
}

/** Layer classes by their Keras class name, filled by `registered` as `layers` below is built. */
const layerClasses = new Registry<LayerClass>('layer class');

/** Registers `cls` by its class name and returns `make`, its sf.layers factory (which must build a `cls`). */
function registered<L extends Layer, A extends unknown[]>(cls: LayerClass<L>, make: (...args: A) => L): (...args: A) => L {
  layerClasses.add(cls.className, cls);
  return make;
}

/** sf.layers: factories named as in TF.js, one registry entry per layer kind. */
export const layers = {
  dense: registered(Dense, (args: DenseArgs) => new Dense(args)),
  conv2d: registered(Conv2D, (args: Conv2dArgs) => new Conv2D(args)),
  maxPooling2d: registered(MaxPooling2D, (args?: Pooling2dArgs) => new MaxPooling2D(args)),
  averagePooling2d: registered(AveragePooling2D, (args?: Pooling2dArgs) => new AveragePooling2D(args)),
  flatten: registered(Flatten, (args?: LayerArgs) => new Flatten(args)),
  dropout: registered(Dropout, (args: DropoutArgs) => new Dropout(args)),
  activation: registered(ActivationLayer, (args: ActivationArgs) => new ActivationLayer(args)),
};

/** A layer from its Keras class name and config (snake_case, as model.json stores it). InputLayer is io/load.ts's to read. */
export function layerFromConfig(className: string, config: Record<string, unknown>): Layer {
  if (!layerClasses.has(className)) {
    throw new Error(`Unknown layer class '${className}'; shaderflow knows ${[...layerClasses.names, 'InputLayer'].join(', ')}`);
  }
  return layerClasses.get(className, 'layerFromConfig').fromConfig(config);
}
