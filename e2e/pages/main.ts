// Imports the library in the browser, runs eager kernels on navigator.gpu and shows the results:
// a small sum, then a matmul and two convolutions at shapes that take the kernels sharing loads
// across a subgroup (where the adapter has one subgroup size), against float64 loops on the page.
import * as sf from 'shaderflow';

const status = document.getElementById('status')!;

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

function matMulReference(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) c[i * n + j] += a[i * k + t] * b[t * n + j];
  return c;
}

/** 'same' convolution at unit strides, NHWC input and HWIO filter. */
function convReference(x: Float32Array, f: Float32Array, [B, H, W, CI]: number[], [KH, KW, CO]: number[]): Float64Array {
  const y = new Float64Array(B * H * W * CO);
  const pt = Math.floor((KH - 1) / 2);
  const pl = Math.floor((KW - 1) / 2);
  for (let b = 0; b < B; b++) for (let oh = 0; oh < H; oh++) for (let ow = 0; ow < W; ow++) for (let co = 0; co < CO; co++) {
    let sum = 0;
    for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const ih = oh - pt + kh;
      const iw = ow - pl + kw;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      for (let ci = 0; ci < CI; ci++) sum += x[((b * H + ih) * W + iw) * CI + ci] * f[((kh * KW + kw) * CI + ci) * CO + co];
    }
    y[((b * H + oh) * W + ow) * CO + co] = sum;
  }
  return y;
}

async function maxError(t: sf.Tensor, reference: Float64Array): Promise<number> {
  const got = Array.from(await t.data());
  t.dispose();
  return got.reduce((worst, v, i) => Math.max(worst, Number.isNaN(v) ? Infinity : Math.abs(v - reference[i])), 0);
}

async function main(): Promise<void> {
  const info = await sf.ready();
  document.getElementById('adapter')!.textContent = [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ') || 'unknown adapter';
  document.getElementById('subgroup')!.textContent = info.subgroupSize ? `${info.subgroupSize} lanes` : 'none';
  const a = sf.tensor([1, 2, 3, 4]);
  const b = sf.tensor([10, 20, 30, 40]);
  const c = sf.add(a, sf.mul(b, 2));
  document.getElementById('result')!.textContent = JSON.stringify(Array.from(await c.data()));

  const [m, k, n] = [37, 36, 44];
  const av = values(m * k, 1);
  const bv = values(k * n, 2);
  const errors = [await maxError(sf.matMul(sf.tensor(av, [m, k]), sf.tensor(bv, [k, n])), matMulReference(av, bv, m, k, n))];
  // A batch tile of 16 images (8 channels in, 12 out), and a one-channel image with 8 filters.
  for (const [x, f] of [[[17, 3, 4, 8], [3, 3, 12]], [[2, 6, 9, 1], [5, 5, 8]]]) {
    const xv = values(x.reduce((p, q) => p * q), 3);
    const fv = values(f[0] * f[1] * x[3] * f[2], 4);
    const y = sf.conv2d(sf.tensor(xv, x), sf.tensor(fv, [f[0], f[1], x[3], f[2]]), 1, 'same');
    errors.push(await maxError(y, convReference(xv, fv, x, f)));
  }
  document.getElementById('errors')!.textContent = JSON.stringify(errors.map((e) => Number(e.toExponential(2))));
  status.textContent = 'Done';
  status.dataset.state = 'done';
}

main().catch((error: Error) => {
  status.textContent = error.message;
  status.dataset.state = 'error';
});
