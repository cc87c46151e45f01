// Activation functions as data: each is a WGSL expression of the pre-activation `x` for the
// forward pass, and of the activation's output `y` for the derivative, so a backward pass needs
// only the forward output. Matmul and conv epilogues and the standalone kernels share this table.

export const activations = {
  linear: { forward: 'x', derivative: '1.0' },
  relu: { forward: 'max(x, 0.0)', derivative: 'select(0.0, 1.0, y > 0.0)' },
  // Written so that exp never overflows: for x < 0, e^x / (1 + e^x).
  sigmoid: { forward: 'select(exp(x) / (1.0 + exp(x)), 1.0 / (1.0 + exp(-x)), x >= 0.0)', derivative: 'y * (1.0 - y)' },
  // WGSL's tanh returns NaN for large |x| on some drivers; clamp where tanh is ±1 in f32.
  tanh: { forward: 'tanh(clamp(x, -15.0, 15.0))', derivative: '1.0 - y * y' },
} as const;

export type Activation = keyof typeof activations;
export const activationNames = Object.keys(activations) as Activation[];

/** WGSL functions `activate(x)` and `activate_grad(y)` (the derivative at output y) for one activation. */
export function activationFunctions(activation: Activation): string {
  const a = activations[activation];
  if (!a) throw new Error(`Unknown activation '${activation}'; known: ${activationNames.join(', ')}`);
  return /* wgsl */ `
fn activate(x: f32) -> f32 { return ${a.forward}; }
fn activate_grad(y: f32) -> f32 { return ${a.derivative}; }`;
}

/** float64 references of the same functions, for tests. */
export const activationReference: Record<Activation, { forward: (x: number) => number; derivative: (y: number) => number }> = {
  linear: { forward: (x) => x, derivative: () => 1 },
  relu: { forward: (x) => Math.max(x, 0), derivative: (y) => (y > 0 ? 1 : 0) },
  sigmoid: { forward: (x) => 1 / (1 + Math.exp(-x)), derivative: (y) => y * (1 - y) },
  tanh: { forward: Math.tanh, derivative: (y) => 1 - y * y },
};
