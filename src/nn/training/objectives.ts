// What compile({ loss, metrics }) accepts: each loss by its Keras name, with the per-example loss
// kernel it runs and how it reads the model's last layer, and the metrics the training step
// accumulates. Adding a loss is one entry here (and its kernel in src/shaders/loss.ts).

import { Registry } from '../registry.js';

/** How the compiled loss is computed from the model's last layer. */
export interface LossPlan {
  readonly name: string;
  /** The per-example loss kernel and what the predictions it gets are. */
  readonly kind: 'sparse' | 'onehot' | 'sigmoid' | 'binary' | 'mse';
  /** The last layer's softmax or sigmoid is fused into the loss: the model hands it logits. */
  readonly fromLogits: boolean;
  /** The metrics kernel's view of the labels. */
  readonly metric: 'sparse' | 'onehot' | 'binary';
  readonly threshold: number;
}

/** What a loss needs to know of the model's last layer. */
export interface ModelOutput {
  /** The last layer's activation ('linear' for a layer without one). */
  readonly activation: string;
  readonly description: string;
  /** Its units, where it has them. */
  readonly units?: number;
}

type LossRule = (output: ModelOutput, where: string) => LossPlan;

function crossEntropy(name: string, kind: 'sparse' | 'onehot'): LossRule {
  return (output, where) => {
    // Keras computes cross-entropy from the softmax's input when it can (its logits); so do we, in one kernel.
    if (output.activation !== 'softmax') {
      throw new Error(`${where}: '${name}' expects the last layer to end in a softmax activation (${output.description} has '${output.activation}')`);
    }
    return { name, kind, fromLogits: true, metric: kind, threshold: 0 };
  };
}

/** Losses by their Keras names (camelCase; compile also takes snake_case). */
export const losses = new Registry<LossRule>('loss')
  .add('sparseCategoricalCrossentropy', crossEntropy('sparseCategoricalCrossentropy', 'sparse'))
  .add('categoricalCrossentropy', crossEntropy('categoricalCrossentropy', 'onehot'))
  .add('binaryCrossentropy', ({ activation }) => (activation === 'sigmoid'
    ? { name: 'binaryCrossentropy', kind: 'sigmoid', fromLogits: true, metric: 'binary', threshold: 0 }
    : { name: 'binaryCrossentropy', kind: 'binary', fromLogits: false, metric: 'binary', threshold: 0.5 }))
  // 'accuracy' of a regression means, as in TF.js, binary accuracy for one output unit
  // (thresholded at 0.5), categorical accuracy (argmax) for several.
  .add('meanSquaredError', ({ units = 2 }) => ({ name: 'meanSquaredError', kind: 'mse', fromLogits: false, metric: units === 1 ? 'binary' : 'onehot', threshold: 0.5 }));

/** Metrics the training step accumulates, by the names compile takes; each reads the loss's metric view. */
export const metrics = new Registry<'accuracy'>('metric').add('accuracy', 'accuracy').add('acc', 'accuracy');

const snakeToCamel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The loss plan compile({ loss }) names, for the model's last layer (null for a model without
 * layers, which fails once the name has been checked).
 */
export function lossPlan(loss: unknown, output: ModelOutput | null, where: string): LossPlan {
  const rule = losses.get(snakeToCamel(String(loss)), where);
  if (!output) throw new Error(`${where}: the model has no layers`);
  return rule(output, where);
}

/** The metric name compile({ metrics }) gives, after checking each; null without one. */
export function metricName(list: unknown, where: string): string | null {
  if (!Array.isArray(list)) throw new Error(`${where}: metrics must be an array such as ['accuracy'], got ${JSON.stringify(list)}`);
  for (const m of list) metrics.get(String(m), where);
  return (list[0] as string | undefined) ?? null;
}
