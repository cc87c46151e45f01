// The MNIST experiment: the notebook's CNN (four Conv2D 5×5 + MaxPool blocks, Dense 128,
// Dropout 0.4, Dense 10) on the bundled digits, with inverted-image augmentation, results,
// a drawing pad, and saving / loading the model in TF.js's Layers format.

import * as sf from 'shaderflow';
import { DrawPad } from './draw-pad.js';
import { confusion, confusionTable, digitCanvas, digitFigure } from './results.js';
import { argmaxRows, bindStop, errorMessage, makeOptimizer, readSettings, summaryText, TrainingView } from './training-view.js';

const pixels = 28 * 28;
const digitNames = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export interface MnistState {
  state: string;
  history: sf.History | null;
  error: string | null;
  /** The probabilities last shown for the drawing. */
  drawProbabilities: number[] | null;
  /** True while the drawing changed and its prediction has not been shown yet. */
  drawBusy: boolean;
  /** 'trained' | 'loaded' once a model is ready for the results and the pad. */
  model: string | null;
}

interface Digits {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

async function fetchBytes(name: string): Promise<Uint8Array> {
  const url = new URL(`data/${name}`, document.baseURI);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not fetch ${url.pathname} (HTTP ${response.status}); run \`node scripts/demo-data.mjs\` to write the digits`);
  return new Uint8Array(await response.arrayBuffer());
}

async function loadDigits(set: 'train' | 'test'): Promise<Digits> {
  const [images, labels] = await Promise.all([fetchBytes(`mnist-${set}-images.bin`), fetchBytes(`mnist-${set}-labels.bin`)]);
  if (images.length !== labels.length * pixels) throw new Error(`mnist-${set}: ${images.length} pixel bytes for ${labels.length} labels`);
  return { images, labels, count: labels.length };
}

/** The first `n` digits as float32 in [0, 1], followed by their inverted copies (1 − x) when `invert`. */
function toTensors(digits: Digits, n: number, invert: boolean): { x: sf.Tensor; y: sf.Tensor; pixels: Float32Array } {
  const rows = invert ? 2 * n : n;
  const x = new Float32Array(rows * pixels);
  for (let i = 0; i < n * pixels; i++) x[i] = digits.images[i] / 255;
  if (invert) for (let i = 0; i < n * pixels; i++) x[n * pixels + i] = 1 - x[i];
  const y = new Int32Array(rows);
  for (let i = 0; i < rows; i++) y[i] = digits.labels[i % n];
  return { x: sf.tensor(x, [rows, 28, 28, 1]), y: sf.tensor(y, [rows], 'int32'), pixels: x };
}

/** The notebook's CNN; `width` scales its filters and `blocks` keeps the first conv blocks. */
export function makeCnn(width: number, blocks: number, seed: number): sf.Sequential {
  const filters = [16, 32, 64, 128].slice(0, blocks).map((f) => Math.max(1, Math.round(f * width)));
  const init = (k: number) => sf.initializers.glorotUniform({ seed: seed + k });
  return sf.sequential({
    name: 'mnist_cnn',
    layers: [
      ...filters.flatMap((f, k) => [
        sf.layers.conv2d({ filters: f, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init(k), ...(k === 0 ? { inputShape: [28, 28, 1] } : {}) }),
        sf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }),
      ]),
      sf.layers.flatten(),
      sf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(10) }),
      sf.layers.dropout({ rate: 0.4, seed: seed + 11 }),
      sf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(12) }),
    ],
  });
}

export async function setupMnist(section: HTMLElement, exposed: MnistState, info: sf.BackendInfo): Promise<void> {
  const $ = <T extends HTMLElement>(selector: string) => section.querySelector<T>(selector)!;
  const form = $<HTMLFormElement>('form.settings');
  const trainButton = $<HTMLButtonElement>('[data-action=train]');
  const stopButton = $<HTMLButtonElement>('[data-action=stop]');
  const saveButton = $<HTMLButtonElement>('[data-action=save]');
  const loadInput = $<HTMLInputElement>('[data-action=load]');
  const summary = $('[data-role=summary]');
  const results = $('[data-role=results]');
  const modelNote = $('[data-role=model-note]');
  const view = new TrainingView(section);
  const setState = (state: Parameters<TrainingView['setState']>[0], message: string) => {
    exposed.state = state;
    view.setState(state, message);
  };
  const setting = (name: string) => form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;

  // A CPU rasterizer (SwiftShader, lavapipe) does a few GFLOP/s: start from settings it can train in seconds.
  if (/swiftshader|llvmpipe|lavapipe|cpu/i.test(`${info.vendor} ${info.architecture} ${info.description}`)) {
    setting('subset').value = '500';
    setting('width').value = '0.25';
    setting('blocks').value = '1';
    setting('epochs').value = '2';
    const hint = $('[data-role=hint]');
    hint.textContent = 'This adapter runs on the CPU, so the settings start small (500 digits, one conv block, ¼ of the filters): ' +
      'compiling each convolution shader takes it tens of seconds. A real GPU trains the full model in seconds.';
    hint.hidden = false;
  }

  const showSummary = () => {
    const preview = makeCnn(Number(setting('width').value), Number(setting('blocks').value), 0);
    summary.textContent = summaryText(preview);
    preview.dispose();
  };
  showSummary();
  setting('width').addEventListener('change', showSummary);
  setting('blocks').addEventListener('change', showSummary);

  setState('loading', 'Loading digits…');
  const [trainDigits, testDigits] = await Promise.all([loadDigits('train'), loadDigits('test')]);
  setState('idle', `Ready: ${trainDigits.count.toLocaleString('en-US')} training and ${testDigits.count.toLocaleString('en-US')} validation digits loaded.`);

  let model: sf.Sequential | null = null;
  /** The batch size predictions run in: training's, so they reuse its compiled shaders. */
  let predictBatch = 32;
  let validation: { x: sf.Tensor; y: sf.Tensor; pixels: Float32Array; n: number } | null = null;

  // ---- training ------------------------------------------------------------------------------
  bindStop(stopButton, () => model);

  trainButton.addEventListener('click', async () => {
    const settings = readSettings(form, (message) => setState('error', message));
    if (!settings) return;
    const { epochs, batchSize, learningRate, seed } = settings;
    const width = Number(setting('width').value);
    const blocks = Number(setting('blocks').value);
    const augment = (setting('augment') as HTMLInputElement).checked;
    const optimizer = setting('optimizer').value;
    // Whole batches only: every batch size is a new set of shaders to compile (shapes are
    // static in them), so one size for training, validation and prediction compiles once.
    const wholeBatches = (n: number, max: number) => Math.max(1, Math.min(Math.floor(max / batchSize), Math.round(n / batchSize))) * batchSize;
    if (batchSize > testDigits.count) {
      setState('error', `Batch size must be at most ${testDigits.count}`);
      return;
    }
    const subset = wholeBatches(Number(setting('subset').value), trainDigits.count);
    const valCount = wholeBatches(Math.max(100, subset / 4), testDigits.count);

    setBusy(true);
    exposed.history = null;
    exposed.error = null;
    exposed.model = null;
    let train: { x: sf.Tensor; y: sf.Tensor } | null = null;
    try {
      model?.dispose();
      model = null;
      disposeValidation();
      train = toTensors(trainDigits, subset, augment);
      const val = toTensors(testDigits, valCount, augment);
      validation = { ...val, n: valCount };
      model = makeCnn(width, blocks, seed);
      predictBatch = batchSize;
      model.compile({ optimizer: makeOptimizer(optimizer, learningRate), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
      summary.textContent = summaryText(model);
      const examples = train.x.shape[0];
      view.begin(epochs, Math.ceil(examples / batchSize));
      setState('training', `Training on ${examples.toLocaleString('en-US')} digits${augment ? ' (half of them inverted)' : ''}…`);
      const history = await model.fit(train.x, train.y, {
        epochs, batchSize, seed, validationData: [val.x, val.y], callbacks: view.callbacks(), verbose: 0,
      });
      exposed.history = history;
      const stopped = model.stopTraining || history.epoch.length < epochs;
      const valAccuracy = history.history.val_accuracy?.at(-1);
      setState(stopped ? 'stopped' : 'done', `${stopped ? 'Stopped' : 'Trained'} after ${history.epoch.length} epoch${history.epoch.length === 1 ? '' : 's'}: validation accuracy ${valAccuracy === undefined ? '–' : `${(valAccuracy * 100).toFixed(1)}%`}.`);
      await modelReady('trained');
    } catch (e) {
      exposed.error = errorMessage(e);
      setState('error', `Training failed: ${errorMessage(e)}`);
    } finally {
      train?.x.dispose();
      train?.y.dispose();
      setBusy(false);
    }
  });

  function setBusy(busy: boolean): void {
    trainButton.disabled = busy;
    stopButton.disabled = !busy;
    saveButton.disabled = busy || !model;
    loadInput.disabled = busy;
    form.inert = busy;
    if (busy) results.hidden = true;
    padNote.textContent = busy ? 'Training… predictions resume when it ends.' : model ? 'Draw a digit; the bars update as you draw.' : 'Train or load a model first, then draw here.';
  }

  function disposeValidation(): void {
    validation?.x.dispose();
    validation?.y.dispose();
    validation = null;
  }

  /** The validation digits of the last run, or (for a loaded model) whole batches of about 250 test digits. */
  function validationSet(): NonNullable<typeof validation> {
    if (!validation) {
      const n = Math.max(1, Math.round(250 / predictBatch)) * predictBatch;
      validation = { ...toTensors(testDigits, n, false), n };
    }
    return validation;
  }

  async function modelReady(how: 'trained' | 'loaded'): Promise<void> {
    await showResults();
    exposed.model = how;
    saveButton.disabled = false;
    padNote.textContent = 'Draw a digit; the bars update as you draw.';
    void predictDrawing();
  }

  // ---- results -------------------------------------------------------------------------------
  async function showResults(): Promise<void> {
    if (!model) return;
    const val = validationSet();
    // Only the original digits (the first n rows); the inverted copies come in the pairs below.
    const probs = model.predict(val.x, { batchSize: predictBatch });
    const values = await probs.data();
    probs.dispose();
    const predicted = argmaxRows(values, 10);
    const labels = testDigits.labels.subarray(0, val.n);
    const original = predicted.subarray(0, val.n);
    $('[data-role=confusion]').replaceChildren(confusionTable(confusion(labels, original, 10), digitNames));

    const grid = $('[data-role=grid]');
    grid.replaceChildren(
      ...Array.from({ length: Math.min(48, val.n) }, (_, i) =>
        digitFigure(digitCanvas(val.pixels, i * pixels), String(original[i]), String(labels[i]), values[i * 10 + original[i]])),
    );

    // Eight digits as given and inverted: predictions before and after the augmentation's change.
    const k = Math.min(8, val.n);
    const pairRows = Math.ceil((2 * k) / predictBatch) * predictBatch; // padded with blank rows to whole batches
    const pairPixels = new Float32Array(pairRows * pixels);
    pairPixels.set(val.pixels.subarray(0, k * pixels));
    for (let i = 0; i < k * pixels; i++) pairPixels[k * pixels + i] = 1 - val.pixels[i];
    const pairX = sf.tensor(pairPixels, [pairRows, 28, 28, 1]);
    const pairProbs = model.predict(pairX, { batchSize: predictBatch });
    const pairValues = await pairProbs.data();
    pairX.dispose();
    pairProbs.dispose();
    const pairPredicted = argmaxRows(pairValues, 10);
    $('[data-role=augment]').replaceChildren(
      ...Array.from({ length: k }, (_, i) => {
        const pair = document.createElement('div');
        pair.className = 'pair';
        const truth = String(labels[i]);
        pair.append(
          digitFigure(digitCanvas(pairPixels, i * pixels), String(pairPredicted[i]), truth, pairValues[i * 10 + pairPredicted[i]]),
          digitFigure(digitCanvas(pairPixels, (k + i) * pixels), String(pairPredicted[k + i]), truth, pairValues[(k + i) * 10 + pairPredicted[k + i]]),
        );
        return pair;
      }),
    );
    results.hidden = false;
  }

  // ---- the drawing pad -----------------------------------------------------------------------
  const pad = new DrawPad($<HTMLCanvasElement>('[data-role=pad]'));
  const preview = $<HTMLCanvasElement>('[data-role=preview]');
  const bars = $('[data-role=bars]');
  const padNote = $('[data-role=draw-note]');
  const fills: HTMLElement[] = [];
  const texts: HTMLElement[] = [];
  for (const name of digitNames) {
    const li = document.createElement('li');
    li.innerHTML = `<span>${name}</span><span class="track"><span class="fill"></span></span><span class="value">–</span>`;
    fills.push(li.querySelector<HTMLElement>('.fill')!);
    texts.push(li.querySelector<HTMLElement>('.value')!);
    bars.append(li);
  }
  // One input tensor, rewritten for every prediction: predict compiles a step per input tensor,
  // so a fresh tensor per stroke would plan (and keep) a new step each time. It holds a whole
  // batch (the drawing, then blank rows) so the shaders compiled for training serve it.
  let drawInput: sf.Tensor | null = null;
  let predicting = false;
  let again = false;

  async function predictDrawing(): Promise<void> {
    exposed.drawBusy = true;
    if (predicting) {
      again = true;
      return;
    }
    const input = pad.toMnist();
    const ctx = preview.getContext('2d')!;
    ctx.drawImage(digitCanvas(input ?? new Float32Array(pixels)), 0, 0);
    if (!input || !model || model.fitting) {
      showProbabilities(null);
      exposed.drawBusy = false;
      return;
    }
    predicting = true;
    try {
      if (drawInput?.shape[0] !== predictBatch) {
        drawInput?.dispose();
        drawInput = sf.tensor(new Float32Array(predictBatch * pixels), [predictBatch, 28, 28, 1]);
      }
      drawInput.runtime.write(drawInput.buffer, input); // rows after the first stay blank
      const probs = model.predict(drawInput, { batchSize: predictBatch });
      const values = Array.from((await probs.data()).subarray(0, 10));
      probs.dispose();
      showProbabilities(values);
    } catch (e) {
      padNote.textContent = `Prediction failed: ${errorMessage(e)}`;
    } finally {
      predicting = false;
      if (again) {
        again = false;
        void predictDrawing();
      } else {
        exposed.drawBusy = false;
      }
    }
  }

  function showProbabilities(values: number[] | null): void {
    exposed.drawProbabilities = values;
    const top = values ? values.indexOf(Math.max(...values)) : -1;
    bars.dataset.probs = values ? JSON.stringify(values) : '';
    bars.dataset.top = String(top);
    values ??= new Array<number>(10).fill(0);
    values.forEach((p, i) => {
      fills[i].style.width = `${(p * 100).toFixed(1)}%`;
      texts[i].textContent = exposed.drawProbabilities ? `${(p * 100).toFixed(1)}%` : '–';
      fills[i].parentElement!.parentElement!.classList.toggle('top', i === top);
      fills[i].parentElement!.parentElement!.dataset.p = String(p);
    });
  }

  pad.onChange = () => void predictDrawing();
  pad.onInput = () => (exposed.drawBusy = true);
  $('[data-action=clear]').addEventListener('click', () => pad.clear());

  // ---- save and load -------------------------------------------------------------------------
  saveButton.addEventListener('click', async () => {
    if (!model) return;
    try {
      await model.save('downloads://shaderflow-mnist');
      modelNote.textContent = 'Saved shaderflow-mnist.json and shaderflow-mnist.weights.bin to your downloads.';
    } catch (e) {
      modelNote.textContent = `Saving failed: ${errorMessage(e)}`;
    }
  });

  loadInput.addEventListener('change', async () => {
    const files = Array.from(loadInput.files ?? []);
    loadInput.value = '';
    try {
      const loaded = await sf.loadModel({ load: () => artifactsFromFiles(files) });
      const inShape = loaded.inputShape?.join(',');
      const outShape = loaded.outputShape.join(',');
      if (inShape !== '28,28,1' || outShape !== '10') {
        loaded.dispose();
        throw new Error(`this model takes [${inShape}] and gives [${outShape}]; the demo needs 28×28×1 digits in, 10 classes out`);
      }
      model?.dispose();
      model = loaded;
      predictBatch = Math.max(1, Number(setting('batchSize').value) || 32);
      disposeValidation();
      summary.textContent = summaryText(model);
      modelNote.textContent = `Loaded ${files.map((f) => f.name).join(' + ')}.`;
      setState('done', 'Loaded a saved model.');
      await modelReady('loaded');
    } catch (e) {
      modelNote.textContent = `Loading failed: ${errorMessage(e)}`;
    }
  });
}

/**
 * TF.js ModelArtifacts from the files a user picked: model.json (topology and weights manifest)
 * and the weight files its manifest names, matched by file name (or the only .bin picked).
 */
async function artifactsFromFiles(files: File[]): Promise<sf.ModelArtifacts> {
  const jsonFile = files.find((f) => f.name.endsWith('.json'));
  const binFiles = files.filter((f) => !f.name.endsWith('.json'));
  if (!jsonFile || binFiles.length === 0) throw new Error('pick both the model .json file and its .weights.bin file (select them together)');
  let json: { modelTopology?: Record<string, unknown>; weightsManifest?: { paths: string[]; weights: sf.ModelArtifacts['weightSpecs'] }[]; format?: string; generatedBy?: string; convertedBy?: string | null };
  try {
    json = JSON.parse(await jsonFile.text()) as typeof json;
  } catch (e) {
    throw new Error(`${jsonFile.name} is not JSON (${errorMessage(e)})`);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) throw new Error(`${jsonFile.name} has no modelTopology and weightsManifest; is it a TF.js Layers model.json?`);
  const paths = json.weightsManifest.flatMap((group) => group.paths);
  const byName = new Map(binFiles.map((f) => [f.name, f]));
  const chosen = paths.map((p) => byName.get(p.split('/').pop()!) ?? (paths.length === 1 && binFiles.length === 1 ? binFiles[0] : undefined));
  const missing = paths.filter((_, k) => !chosen[k]);
  if (missing.length) throw new Error(`the weights file${missing.length > 1 ? 's' : ''} ${missing.join(', ')} named in ${jsonFile.name} ${missing.length > 1 ? 'were' : 'was'} not picked`);
  return {
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
    weightData: await Promise.all(chosen.map((f) => f!.arrayBuffer())),
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy ?? null,
  };
}
