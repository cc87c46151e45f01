// A canvas to draw a digit on with a mouse, pen or finger (pointer events), and the step that
// turns the drawing into an MNIST-like input: the ink's bounding box scaled to fit 20×20,
// then placed in 28×28 with its centre of mass at the centre, as MNIST's digits were made.

export class DrawPad {
  private drawing = false;
  private last: { x: number; y: number } | null = null;
  private readonly ctx: CanvasRenderingContext2D;
  /** Called (at most once per frame) after the drawing changed. */
  onChange: () => void = () => {};
  /** Called at once on every change, before the deferred onChange. */
  onInput: () => void = () => {};
  private pending = false;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 && e.pointerType === 'mouse') return;
      e.preventDefault();
      canvas.setPointerCapture(e.pointerId);
      this.drawing = true;
      this.last = this.point(e);
      this.stroke(this.last, this.last);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.drawing) return;
      // Coalesced events keep fast strokes smooth where the browser batches pointer moves.
      const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
      for (const ev of events.length ? events : [e]) {
        const p = this.point(ev);
        this.stroke(this.last ?? p, p);
        this.last = p;
      }
    });
    const end = () => {
      this.drawing = false;
      this.last = null;
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  clear(): void {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.changed();
  }

  /** The drawing as 784 values in [0, 1], MNIST-style, or null when nothing is drawn. */
  toMnist(): Float32Array | null {
    const { width, height } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, width, height).data;
    const ink = new Float32Array(width * height);
    let x0 = width, y0 = height, x1 = -1, y1 = -1;
    let mass = 0, mx = 0, my = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = rgba[(y * width + x) * 4] / 255;
        if (v < 0.05) continue;
        ink[y * width + x] = v;
        x0 = Math.min(x0, x); x1 = Math.max(x1, x);
        y0 = Math.min(y0, y); y1 = Math.max(y1, y);
        mass += v; mx += v * (x + 0.5); my += v * (y + 0.5);
      }
    }
    if (x1 < 0) return null;
    // Source pixels per target pixel: the longer side of the ink's box becomes 20 pixels.
    const scale = Math.max(x1 - x0 + 1, y1 - y0 + 1) / 20;
    const cx = mx / mass;
    const cy = my / mass;
    const out = new Float32Array(784);
    // Each target pixel averages the source pixels under its footprint (a box filter).
    for (let ty = 0; ty < 28; ty++) {
      for (let tx = 0; tx < 28; tx++) {
        const sx0 = cx + (tx - 14) * scale;
        const sy0 = cy + (ty - 14) * scale;
        let sum = 0, n = 0;
        for (let sy = Math.floor(sy0); sy < Math.ceil(sy0 + scale); sy++) {
          for (let sx = Math.floor(sx0); sx < Math.ceil(sx0 + scale); sx++) {
            n++;
            if (sx >= 0 && sy >= 0 && sx < width && sy < height) sum += ink[sy * width + sx];
          }
        }
        out[ty * 28 + tx] = n ? sum / n : 0;
      }
    }
    // Box-filtered strokes come out greyer than MNIST's; stretch so the strongest ink is 1.
    const peak = out.reduce((a, b) => Math.max(a, b), 0);
    if (peak > 0) for (let i = 0; i < 784; i++) out[i] = Math.min(1, out[i] / peak);
    return out;
  }

  private point(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * this.canvas.width, y: ((e.clientY - r.top) / r.height) * this.canvas.height };
  }

  private stroke(from: { x: number; y: number }, to: { x: number; y: number }): void {
    const ctx = this.ctx;
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = this.canvas.width / 12; // MNIST strokes are ~2-3 px of 28
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    this.changed();
  }

  private changed(): void {
    this.onInput();
    if (this.pending) return;
    this.pending = true;
    // A burst of strokes (one per coalesced pointer event) becomes one prediction.
    setTimeout(() => {
      this.pending = false;
      this.onChange();
    }, 16);
  }
}
