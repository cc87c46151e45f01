// What both experiments show while a model trains: the status line, a progress bar per epoch,
// samples/s and time per epoch, and the loss and accuracy charts, all fed by fit's callbacks.

import * as sf from 'shaderflow';
import { LineChart } from './chart.js';

export type RunState = 'idle' | 'loading' | 'training' | 'done' | 'stopped' | 'error';

const percent = (v: number): string => `${(v * 100).toFixed(1)}%`;

const seriesStyles = {
  batch: { label: 'train, per batch (running mean)', color: '#2f5bd3', kind: 'line', faint: true },
  train: { label: 'train, per epoch', color: '#2f5bd3', kind: 'dots' },
  val: { label: 'validation, per epoch', color: '#d9640b', kind: 'dots' },
} as const;

export class TrainingView {
  readonly loss: LineChart;
  readonly accuracy: LineChart;
  private readonly status: HTMLElement;
  private readonly bar: HTMLProgressElement;
  private readonly epochText: HTMLElement;
  private readonly stats: Record<'samples' | 'epochTime' | 'accuracy' | 'valAccuracy', HTMLElement>;
  private epochs = 1;
  private steps: number | null = null;
  private epoch = 0;
  private epochStart = 0;
  private epochSamples = 0;
  private lastDraw = 0;
  private readonly epochTimes: number[] = [];
  private probe: sf.Tensor | null = null;

  constructor(private readonly section: HTMLElement) {
    const progress = section.querySelector<HTMLElement>('[data-role=progress]')!;
    progress.innerHTML = `
      <div class="progress-head">
        <span class="status" data-role="status">Ready to train.</span>
        <span data-role="epoch"></span>
      </div>
      <progress data-role="bar" max="1" value="0"></progress>
      <dl class="stats">
        <div><dt>Samples/s</dt><dd data-role="samples">–</dd></div>
        <div><dt>Time per epoch</dt><dd data-role="epoch-time">–</dd></div>
        <div><dt>Train accuracy</dt><dd data-role="accuracy">–</dd></div>
        <div><dt>Validation accuracy</dt><dd data-role="val-accuracy">–</dd></div>
      </dl>`;
    const get = (role: string) => progress.querySelector<HTMLElement>(`[data-role=${role}]`)!;
    this.status = get('status');
    this.bar = get('bar') as HTMLProgressElement;
    this.epochText = get('epoch');
    this.stats = { samples: get('samples'), epochTime: get('epoch-time'), accuracy: get('accuracy'), valAccuracy: get('val-accuracy') };
    const charts = section.querySelector<HTMLElement>('[data-role=charts]')!;
    this.loss = new LineChart(charts, { title: 'Loss', xLabel: 'epoch' }, seriesStyles);
    this.accuracy = new LineChart(charts, { title: 'Accuracy', xLabel: 'epoch', yRange: [0, 1], yFormat: (v) => `${Math.round(v * 100)}%` }, seriesStyles);
    this.loss.element.dataset.chart = 'loss';
    this.accuracy.element.dataset.chart = 'accuracy';
  }

  setState(state: RunState, message: string): void {
    this.section.dataset.state = state;
    this.status.dataset.state = state;
    this.status.textContent = message;
  }

  /** Clears the charts and stats for a run of `epochs` epochs of `steps` batches (null: unknown). */
  begin(epochs: number, steps: number | null): void {
    this.epochs = epochs;
    this.steps = steps;
    this.epochTimes.length = 0;
    this.loss.reset(epochs);
    this.accuracy.reset(epochs);
    this.bar.value = 0;
    this.epochText.textContent = '';
    for (const el of Object.values(this.stats)) {
      el.textContent = '–';
      delete el.dataset.value;
    }
  }

  /** Callbacks for model.fit that keep this view current. */
  callbacks(): sf.Callback {
    return {
      onEpochBegin: (epoch) => {
        this.epoch = epoch;
        this.epochStart = performance.now();
        this.epochSamples = 0;
        this.bar.value = 0;
        this.epochText.textContent = `Epoch ${epoch + 1}/${this.epochs}`;
      },
      onBatchEnd: async (batch, logs = {}) => {
        this.epochSamples += logs.size ?? 0;
        // Batch logs are the epoch's running means, read from the GPU a step or two late.
        const steps = this.steps ?? batch + 1;
        const x = this.epoch + Math.min(1, (batch + 1) / steps);
        if (logs.loss !== undefined) this.loss.add('batch', x, logs.loss);
        if (logs.accuracy !== undefined) this.accuracy.add('batch', x, logs.accuracy);
        // fit reads batch metrics without waiting for the GPU, so a short epoch can end before
        // any arrive (on a fast queue of small steps). Reading a tiny tensor now and then waits
        // for the steps queued so far, and the next batch's logs carry their metrics.
        if (logs.loss === undefined && batch % 4 === 3) {
          this.probe ??= sf.tensor([0]);
          await this.probe.data();
        }
        const now = performance.now();
        if (now - this.lastDraw < 100) return; // text updates ten times a second are plenty
        this.lastDraw = now;
        this.bar.value = this.steps ? (batch + 1) / this.steps : 0;
        this.epochText.textContent = `Epoch ${this.epoch + 1}/${this.epochs} · batch ${batch + 1}${this.steps ? `/${this.steps}` : ''}`;
        this.stats.samples.textContent = Math.round(this.epochSamples / ((now - this.epochStart) / 1000)).toLocaleString('en-US');
        if (logs.accuracy !== undefined) this.stats.accuracy.textContent = percent(logs.accuracy);
      },
      onEpochEnd: (epoch, logs = {}) => {
        const seconds = (performance.now() - this.epochStart) / 1000;
        this.epochTimes.push(seconds);
        this.bar.value = 1;
        this.epochText.textContent = `Epoch ${epoch + 1}/${this.epochs}`;
        this.stats.samples.textContent = Math.round(this.epochSamples / seconds).toLocaleString('en-US');
        this.stats.epochTime.textContent = seconds < 10 ? `${seconds.toFixed(2)} s` : `${seconds.toFixed(1)} s`;
        this.show(this.stats.accuracy, logs.accuracy);
        this.show(this.stats.valAccuracy, logs.val_accuracy);
        this.loss.add('train', epoch + 1, logs.loss);
        this.loss.add('val', epoch + 1, logs.val_loss);
        this.accuracy.add('train', epoch + 1, logs.accuracy);
        this.accuracy.add('val', epoch + 1, logs.val_accuracy);
      },
    };
  }

  /** A percentage, with the exact value in data-value for tests. */
  private show(el: HTMLElement, value: number | undefined): void {
    if (value === undefined) return;
    el.textContent = percent(value);
    el.dataset.value = String(value);
  }
}

/** A positive integer setting, clamped to the input's min/max, or an Error naming it. */
export function integerSetting(form: HTMLFormElement, name: string): number {
  const input = form.elements.namedItem(name) as HTMLInputElement;
  const value = Number(input.value);
  if (!Number.isInteger(value) || value < Number(input.min || 1) || (input.max && value > Number(input.max))) {
    throw new Error(`${input.parentElement?.firstChild?.textContent?.trim() ?? name} must be a whole number from ${input.min || 1} to ${input.max || '∞'}, got "${input.value}"`);
  }
  return value;
}

export function numberSetting(form: HTMLFormElement, name: string): number {
  const input = form.elements.namedItem(name) as HTMLInputElement;
  const value = Number(input.value);
  if (!(value > 0) || (input.max && value > Number(input.max))) {
    throw new Error(`${input.parentElement?.firstChild?.textContent?.trim() ?? name} must be a positive number${input.max ? ` up to ${input.max}` : ''}, got "${input.value}"`);
  }
  return value;
}

/** The settings both experiments share, read from their form; throws naming a bad one. */
export interface TrainingSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  optimizer: string;
}

export function trainingSettings(form: HTMLFormElement): TrainingSettings {
  return {
    epochs: integerSetting(form, 'epochs'),
    batchSize: integerSetting(form, 'batchSize'),
    learningRate: numberSetting(form, 'learningRate'),
    seed: integerSetting(form, 'seed'),
    optimizer: (form.elements.namedItem('optimizer') as HTMLSelectElement).value,
  };
}

/** The form's training settings, or null after passing what is wrong with them to `fail`. */
export function readSettings(form: HTMLFormElement, fail: (message: string) => void): TrainingSettings | null {
  try {
    return trainingSettings(form);
  } catch (e) {
    fail(errorMessage(e));
    return null;
  }
}

/** Stop asks the model being trained to stop: fit checks it after every batch. */
export function bindStop(stopButton: HTMLButtonElement, model: () => sf.Sequential | null): void {
  stopButton.addEventListener('click', () => {
    const training = model();
    if (training) training.stopTraining = true;
    stopButton.disabled = true;
  });
}

/** An optimizer from the form's choice and learning rate. */
export function makeOptimizer(name: string, learningRate: number): sf.Optimizer {
  if (name === 'adam') return sf.optimizers.adam({ learningRate });
  if (name === 'sgd') return sf.optimizers.sgd({ learningRate, momentum: 0.9 });
  return sf.optimizers.rmsprop({ learningRate });
}

/** The model's summary() table as text. */
export function summaryText(model: sf.Sequential): string {
  const lines: string[] = [];
  model.summary(65, undefined, (line) => lines.push(line));
  return lines.join('\n');
}

/** Index of the largest value in each row of `values` ([rows, classes], row-major). */
export function argmaxRows(values: ArrayLike<number>, classes: number): Int32Array {
  const rows = values.length / classes;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (values[r * classes + c] > values[r * classes + best]) best = c;
    out[r] = best;
  }
  return out;
}

export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));
