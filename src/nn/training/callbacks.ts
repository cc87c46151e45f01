// Callbacks as TF.js's: the hooks fit calls, the History it returns, and the built-in callbacks
// by name (sf.callbacks). Adding a callback is a class here, or a file of its own, and one line
// in \`callbacks\`.

import type { Tensor } from '../tensor.js';

export type Logs = Record<string, number>;

/** What a callback sees of the model: its weights, and the flag that ends training. */
export interface CallbackModel {
  stopTraining: boolean;
  readonly weights: readonly { readonly name: string; readonly tensor: Tensor }[];
}

/** Callbacks as TF.js's CustomCallbackArgs; any subset. */
export interface Callback {
  onTrainBegin?(logs?: Logs): void | Promise<void>;
  onTrainEnd?(logs?: Logs): void | Promise<void>;
  onEpochBegin?(epoch: number, logs?: Logs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs?: Logs): void | Promise<void>;
  onBatchBegin?(batch: number, logs?: Logs): void | Promise<void>;
  onBatchEnd?(batch: number, logs?: Logs): void | Promise<void>;
  /** @internal Given the model when training starts (early stopping sets model.stopTraining). */
  setModel?(model: CallbackModel): void;
}

/** What fit returns, shaped as Keras's and TF.js's History. */
export class History {
  readonly epoch: number[] = [];
  readonly history: Record<string, number[]> = {};
  constructor(readonly params: { epochs: number; steps: number | null; verbose: number }) {}

  /** @internal */
  record(epoch: number, logs: Logs): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }
}

export interface EarlyStoppingArgs {
  monitor?: string;
  minDelta?: number;
  patience?: number;
  mode?: 'auto' | 'min' | 'max';
  baseline?: number;
  restoreBestWeights?: boolean;
}

/** Stops fit when `monitor` stops improving for `patience` epochs, as tf.callbacks.earlyStopping. */
export class EarlyStopping implements Callback {
  private model: CallbackModel | null = null;
  private best = Infinity;
  private wait = 0;
  private bestWeights: Float32Array[] | null = null;
  readonly monitor: string;
  stoppedEpoch = 0;

  constructor(private readonly args: EarlyStoppingArgs = {}) {
    this.monitor = args.monitor ?? 'val_loss';
  }

  setModel(model: CallbackModel): void {
    this.model = model;
  }

  private sign(): number {
    const mode = this.args.mode ?? 'auto';
    if (mode === 'max' || (mode === 'auto' && /acc/.test(this.monitor))) return -1;
    return 1;
  }

  async onTrainBegin(): Promise<void> {
    this.best = this.args.baseline !== undefined ? this.sign() * this.args.baseline : Infinity;
    this.wait = 0;
    this.bestWeights = null;
  }

  async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    const value = logs[this.monitor];
    if (value === undefined) {
      throw new Error(`earlyStopping: the monitored value '${this.monitor}' is not among the epoch's logs (${Object.keys(logs).join(', ')})`);
    }
    const score = this.sign() * value;
    if (score < this.best - Math.abs(this.args.minDelta ?? 0)) {
      this.best = score;
      this.wait = 0;
      if (this.args.restoreBestWeights && this.model) this.bestWeights = await Promise.all(this.model.weights.map((w) => w.tensor.data() as Promise<Float32Array>));
      return;
    }
    if (++this.wait > (this.args.patience ?? 0) && this.model) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
    }
  }

  async onTrainEnd(): Promise<void> {
    if (!this.model || !this.bestWeights || !this.model.stopTraining) return;
    this.model.weights.forEach((w, k) => w.tensor.runtime.write(w.tensor.buffer, this.bestWeights![k]));
  }
}

export const callbacks = {
  earlyStopping: (args?: EarlyStoppingArgs): EarlyStopping => new EarlyStopping(args),
};
