// Losses as tf.losses and Keras name them. Each is one fused kernel that writes the per-example
// loss and its gradient together (the gradient already scaled by the mean's 1/n), followed by
// the mean over the batch.

import { apply } from './graph.js';
import { check, disposing, mean } from './ops.js';
import type { Tensor } from './tensor.js';

function perExample(outputs: Tensor[]): Tensor {
  const [loss, gradient] = outputs;
  if (!gradient.isSymbolic) gradient.dispose(); // eager: only a gradient rule reads it
  return loss;
}

/** The 1/n of the mean over `n` losses, as float32 computes it in the mean's gradient. */
const meanScale = (n: number): number => Math.fround(1 / Math.max(1, n));

function reduced(outputs: Tensor[]): Tensor {
  return disposing(perExample(outputs), (l) => mean(l));
}

/**
 * @internal The loss of each example [batch] (of each element for binary cross-entropy), whose
 * mean is the loss; a training step also feeds it to the metrics accumulator.
 */
export function lossPerExample(kind: 'sparse' | 'onehot' | 'sigmoid' | 'binary' | 'mse', labels: Tensor, predictions: Tensor): Tensor {
  switch (kind) {
    case 'sparse':
    case 'onehot':
      return perExample(apply('softmaxCrossEntropy', [predictions, labels], { labels: kind, scale: meanScale(predictions.shape[0]) }));
    case 'sigmoid':
    case 'binary':
      return perExample(apply('binaryCrossEntropy', [predictions, labels], { fromLogits: kind === 'sigmoid', scale: meanScale(predictions.size) }));
    case 'mse':
      return perExample(apply('meanSquaredError', [predictions, labels], { scale: meanScale(predictions.shape[0] ?? 1) }));
  }
}

/** Mean softmax cross-entropy of `logits` [batch, classes] against one-hot labels, as tf.losses.softmaxCrossEntropy. */
export function softmaxCrossEntropy(onehotLabels: Tensor, logits: Tensor): Tensor {
  check(onehotLabels, 'losses.softmaxCrossEntropy', 'onehotLabels');
  check(logits, 'losses.softmaxCrossEntropy', 'logits');
  return reduced(apply('softmaxCrossEntropy', [logits, onehotLabels], { labels: 'onehot', scale: meanScale(logits.shape[0]) }));
}

/** Mean softmax cross-entropy against integer class labels [batch] (int32), as Keras's sparse categorical cross-entropy from logits. */
export function sparseSoftmaxCrossEntropy(labels: Tensor, logits: Tensor): Tensor {
  check(labels, 'losses.sparseSoftmaxCrossEntropy', 'labels');
  check(logits, 'losses.sparseSoftmaxCrossEntropy', 'logits');
  return reduced(apply('softmaxCrossEntropy', [logits, labels], { labels: 'sparse', scale: meanScale(logits.shape[0]) }));
}

/** Mean sigmoid cross-entropy of logits against 0/1 labels, as tf.losses.sigmoidCrossEntropy. */
export function sigmoidCrossEntropy(multiClassLabels: Tensor, logits: Tensor): Tensor {
  check(multiClassLabels, 'losses.sigmoidCrossEntropy', 'multiClassLabels');
  check(logits, 'losses.sigmoidCrossEntropy', 'logits');
  return reduced(apply('binaryCrossEntropy', [logits, multiClassLabels], { fromLogits: true, scale: meanScale(logits.size) }));
}

/** Mean binary cross-entropy of probabilities (clipped to [1e-7, 1 − 1e-7] as Keras does). */
export function binaryCrossentropy(labels: Tensor, predictions: Tensor): Tensor {
  check(labels, 'losses.binaryCrossentropy', 'labels');
  check(predictions, 'losses.binaryCrossentropy', 'predictions');
  return reduced(apply('binaryCrossEntropy', [predictions, labels], { fromLogits: false, scale: meanScale(predictions.size) }));
}

/** Mean of (predictions − labels)² over every element, as tf.losses.meanSquaredError. */
export function meanSquaredError(labels: Tensor, predictions: Tensor): Tensor {
  check(labels, 'losses.meanSquaredError', 'labels');
  check(predictions, 'losses.meanSquaredError', 'predictions');
  return reduced(apply('meanSquaredError', [predictions, labels], { scale: meanScale(predictions.shape[0] ?? 1) }));
}
