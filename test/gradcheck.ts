// Central finite differences in float64, to check backward kernels against their forward pass.

/**
 * The gradient of the scalar function `f` at `x` by central differences:
 * (f(x + eps·e_i) - f(x - eps·e_i)) / 2eps for every i. `f` should be a float64 reference of
 * the forward pass contracted with a random upstream gradient, L(x) = Σ dy · forward(x), so
 * the result is what the backward kernel must produce for that dy.
 */
export function numericGradient(f: (x: Float64Array) => number, x: ArrayLike<number>, eps = 1e-3): Float64Array {
  const point = Float64Array.from(x);
  const grad = new Float64Array(point.length);
  for (let i = 0; i < point.length; i++) {
    const saved = point[i];
    point[i] = saved + eps;
    const up = f(point);
    point[i] = saved - eps;
    const down = f(point);
    point[i] = saved;
    grad[i] = (up - down) / (2 * eps);
  }
  return grad;
}

/** Σ a_i · b_i in float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
