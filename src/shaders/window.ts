// Sliding-window geometry shared by convolution and pooling, with TF.js / Keras padding rules.

export type Padding = 'same' | 'valid';

export interface WindowAxis {
  /** Output length along this axis. */
  out: number;
  /** Implicit zero (or -inf for max pooling) elements before the first input element. */
  padBefore: number;
}

/**
 * Output length and leading padding of a window of `size` moved by `stride` over `input`
 * elements. 'valid': only whole windows, out = ceil((input - size + 1) / stride). 'same':
 * out = ceil(input / stride), padded in total by max((out - 1)·stride + size - input, 0),
 * the smaller half before (as TensorFlow does).
 */
export function windowAxis(input: number, size: number, stride: number, padding: Padding, dilation = 1): WindowAxis {
  for (const [name, v] of [['input', input], ['window', size], ['stride', stride], ['dilation', dilation]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} size must be a positive integer, got ${v}`);
  }
  if (padding !== 'same' && padding !== 'valid') throw new Error(`padding must be 'same' or 'valid', got '${padding}'`);
  const span = (size - 1) * dilation + 1;
  if (padding === 'valid') {
    if (span > input) throw new Error(`a window of ${span} does not fit in an input of ${input} with 'valid' padding`);
    return { out: Math.ceil((input - span + 1) / stride), padBefore: 0 };
  }
  const out = Math.ceil(input / stride);
  const total = Math.max((out - 1) * stride + span - input, 0);
  return { out, padBefore: Math.floor(total / 2) };
}
