// A small line chart on a canvas, no library: series of (x, y) points drawn as lines or dots,
// axes with round ticks, sharp on high-DPI screens, redrawn at most once per frame.

export interface SeriesStyle {
  label: string;
  color: string;
  /** 'line' joins the points; 'dots' marks each one (and joins them thinly). */
  kind: 'line' | 'dots';
  /** Drawn lighter, behind the others (noisy per-batch values). */
  faint?: boolean;
}

interface Series extends SeriesStyle {
  points: { x: number; y: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  /** A fixed y range (accuracy: [0, 1]); otherwise from 0 to the largest value. */
  yRange?: [number, number];
  /** Formats y ticks (e.g. as percentages). */
  yFormat?: (v: number) => string;
}

export class LineChart {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly series = new Map<string, Series>();
  private xMax = 1;
  private pending = false;

  constructor(parent: HTMLElement, readonly options: ChartOptions, styles: Record<string, SeriesStyle>) {
    const figure = document.createElement('figure');
    figure.className = 'card chart';
    const caption = document.createElement('figcaption');
    caption.textContent = options.title;
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', `${options.title} chart`);
    const legend = document.createElement('div');
    legend.className = 'legend';
    for (const [key, style] of Object.entries(styles)) {
      this.series.set(key, { ...style, points: [] });
      const item = document.createElement('span');
      item.textContent = style.label;
      item.style.setProperty('--c', style.color);
      if (style.faint) item.classList.add('faint');
      if (style.kind === 'dots') item.classList.add('dots');
      legend.append(item);
    }
    figure.append(caption, this.canvas, legend);
    parent.append(figure);
    this.element = figure;
    new ResizeObserver(() => this.draw()).observe(this.canvas);
    this.update();
  }

  /** Empties every series; the x axis spans [0, xMax] until points go beyond it. */
  reset(xMax: number): void {
    for (const s of this.series.values()) s.points = [];
    this.xMax = Math.max(1, xMax);
    this.update();
  }

  add(key: string, x: number, y: number): void {
    if (!Number.isFinite(y)) return;
    this.series.get(key)!.points.push({ x, y });
    this.update();
  }

  /** Points drawn so far, per series (the e2e test reads them from data-points). */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.series].map(([k, s]) => [k, s.points.length]));
  }

  private update(): void {
    const counts = this.counts();
    this.canvas.dataset.points = String(Object.values(counts).reduce((a, b) => a + b, 0));
    this.canvas.dataset.series = JSON.stringify(counts);
    if (this.pending) return;
    this.pending = true;
    // One draw per frame however many points arrive; a hidden tab draws when it is shown again.
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw(): void {
    const { canvas } = this;
    const dpr = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth;
    const cssH = canvas.clientHeight;
    if (cssW === 0 || cssH === 0) return;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
    }
    const ctx = canvas.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);

    const all = [...this.series.values()].flatMap((s) => s.points);
    const xMax = Math.max(this.xMax, ...all.map((p) => p.x));
    let [yMin, yMax] = this.options.yRange ?? [0, Math.max(1e-3, ...all.map((p) => p.y)) * 1.08];
    if (yMax <= yMin) yMax = yMin + 1;
    const pad = { left: 44, right: 10, top: 8, bottom: 30 };
    const w = cssW - pad.left - pad.right;
    const h = cssH - pad.top - pad.bottom;
    const sx = (x: number) => pad.left + (x / xMax) * w;
    const sy = (y: number) => pad.top + h - ((Math.min(Math.max(y, yMin), yMax) - yMin) / (yMax - yMin)) * h;

    // Grid and ticks.
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#5d6773';
    ctx.strokeStyle = '#e6e9ed';
    ctx.lineWidth = 1;
    const yFormat = this.options.yFormat ?? ((v: number) => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toPrecision(2)));
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of ticks(yMin, yMax, 5)) {
      const y = Math.round(sy(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.left, y);
      ctx.lineTo(pad.left + w, y);
      ctx.stroke();
      ctx.fillText(yFormat(v), pad.left - 6, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const v of ticks(0, xMax, Math.max(2, Math.floor(w / 60))).filter((t) => Number.isInteger(t) || xMax < 3)) {
      const x = Math.round(sx(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, pad.top + h);
      ctx.lineTo(x, pad.top + h + 4);
      ctx.stroke();
      ctx.fillText(String(+v.toFixed(2)), x, pad.top + h + 6);
    }
    ctx.fillText(this.options.xLabel, pad.left + w / 2, pad.top + h + 17);
    ctx.strokeStyle = '#b9c0c8';
    ctx.beginPath();
    ctx.moveTo(pad.left + 0.5, pad.top);
    ctx.lineTo(pad.left + 0.5, pad.top + h + 0.5);
    ctx.lineTo(pad.left + w, pad.top + h + 0.5);
    ctx.stroke();

    // Faint series first, so epoch values sit on top of the per-batch noise.
    const order = [...this.series.values()].sort((a, b) => Number(!a.faint) - Number(!b.faint));
    for (const s of order) {
      if (s.points.length === 0) continue;
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.globalAlpha = s.faint ? 0.35 : 1;
      ctx.lineWidth = s.kind === 'line' ? (s.faint ? 1.25 : 2) : 1.5;
      ctx.lineJoin = 'round';
      ctx.beginPath();
      s.points.forEach((p, i) => (i === 0 ? ctx.moveTo(sx(p.x), sy(p.y)) : ctx.lineTo(sx(p.x), sy(p.y))));
      ctx.stroke();
      if (s.kind === 'dots') {
        for (const p of s.points) {
          ctx.beginPath();
          ctx.arc(sx(p.x), sy(p.y), 3.5, 0, Math.PI * 2);
          ctx.fill();
        }
      }
    }
    ctx.globalAlpha = 1;
  }
}

/** About `count` round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toFixed(10));
  return out;
}
