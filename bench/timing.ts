// Timing helpers: run a GPU workload until enough wall time has passed, between readbacks, and
// report the rate. Wall time over many queued dispatches is what a training loop experiences.

export interface Timed {
  /** Seconds per repetition. */
  seconds: number;
  reps: number;
}

/**
 * Times `run` (which queues `count` repetitions and resolves once the GPU finished them):
 * one warm-up call, then doubling the count until a call takes at least `minSeconds`.
 */
export async function time(run: (count: number) => Promise<void>, minSeconds = 0.5): Promise<Timed> {
  await run(1);
  let count = 1;
  for (;;) {
    const start = performance.now();
    await run(count);
    const seconds = (performance.now() - start) / 1000;
    if (seconds >= minSeconds || count >= 1 << 12) return { seconds: seconds / count, reps: count };
    count = Math.max(count * 2, Math.ceil((count * minSeconds * 1.2) / Math.max(seconds, 1e-4)));
  }
}

export function gflops(flops: number, t: Timed): number {
  return flops / t.seconds / 1e9;
}

/** Prints rows as an aligned table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = header.map((_, k) => Math.max(...cells.map((r) => String(r[k]).length)));
  return cells.map((r, i) => {
    const line = r.map((c, k) => (k === 0 ? String(c).padEnd(widths[k]) : String(c).padStart(widths[k]))).join('  ');
    return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}
