// The progress display of fit: Keras 3's bar, redrawn in place on a terminal, or a line per epoch.

import type { Logs } from './callbacks.js';

/** Keras 3's progress line: `12/24 ━━━━━━━━━━────────── 1s 20ms/step - accuracy: 0.6625 - loss: 0.8283`. */
export class Progress {
  private readonly tty: boolean;
  private readonly write: ((s: string) => void) | null;
  private steps: number | null = null;
  private lastDraw = 0;

  constructor(private readonly verbose: number, private readonly epochs: number) {
    const stdout = typeof process !== 'undefined' ? (process.stdout as { isTTY?: boolean; write?: (s: string) => void } | undefined) : undefined;
    this.write = stdout?.write ? (s) => stdout.write!(s) : null;
    this.tty = !!stdout?.isTTY && verbose === 1;
  }

  beginEpoch(epoch: number, steps: number | null): void {
    this.steps = steps;
    this.print(`Epoch ${epoch + 1}/${this.epochs}`);
  }

  batch(done: number, ms: number, logs: Logs | null): void {
    if (!this.tty || performance.now() - this.lastDraw < 100) return;
    this.lastDraw = performance.now();
    this.write!(`\r${this.line(done, ms, logs ?? {}, true)}\x1b[K`);
  }

  endEpoch(done: number, ms: number, logs: Logs): void {
    const line = this.line(done, ms, logs, false);
    if (this.tty) this.write!(`\r${line}\x1b[K\n`);
    else this.print(line);
  }

  private line(done: number, ms: number, logs: Logs, running: boolean): string {
    const total = this.steps ?? done;
    const width = 20;
    const filled = total ? Math.min(width, Math.round((width * done) / total)) : width;
    const bar = '━'.repeat(filled) + (running ? '─'.repeat(width - filled) : '━'.repeat(width - filled));
    const perStep = done ? ms / done : 0;
    const time = running && this.steps ? `${Math.ceil(((total - done) * perStep) / 1000)}s` : `${Math.round(ms / 1000)}s`;
    const stepTime = perStep >= 1 ? `${Math.round(perStep)}ms/step` : `${Math.round(perStep * 1000)}us/step`;
    const values = Object.keys(logs)
      .filter((k) => k !== 'batch' && k !== 'size')
      .sort((a, b) => Number(a.startsWith('val_')) - Number(b.startsWith('val_')) || a.localeCompare(b))
      .map((k) => `${k}: ${logs[k].toFixed(4)}`);
    return [`${String(done).padStart(String(total).length)}/${total} ${bar} ${time} ${stepTime}`, ...values].join(' - ');
  }

  private print(line: string): void {
    if (this.write) this.write(`${line}\n`);
    else console.log(line);
  }
}

