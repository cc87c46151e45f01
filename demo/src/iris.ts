// The Iris experiment: the notebook's MLP (Dense 10 relu, Dropout 0.2, Dense 3 softmax) on an
// 80/20 split, the training set repeated 20 times per epoch, shuffled and batched.

import * as sf from 'shaderflow';
import { confusion, confusionTable } from './results.js';
import { argmaxRows, bindStop, errorMessage, makeOptimizer, readSettings, summaryText, TrainingView } from './training-view.js';

export interface IrisState {
  state: string;
  history: sf.History | null;
  error: string | null;
}

export async function setupIris(section: HTMLElement, exposed: IrisState): Promise<void> {
  const form = section.querySelector<HTMLFormElement>('form.settings')!;
  const trainButton = section.querySelector<HTMLButtonElement>('[data-action=train]')!;
  const stopButton = section.querySelector<HTMLButtonElement>('[data-action=stop]')!;
  const summary = section.querySelector<HTMLElement>('[data-role=summary]')!;
  const results = section.querySelector<HTMLElement>('[data-role=results]')!;
  const view = new TrainingView(section);
  const setState = (state: Parameters<TrainingView['setState']>[0], message: string) => {
    exposed.state = state;
    view.setState(state, message);
  };

  const { x, y, classNames } = await sf.datasets.iris();
  const [xTrain, xTest, yTrain, yTest] = await sf.data.trainTestSplit(x, y, { testSize: 0.2, seed: 42 });
  x.dispose();
  y.dispose();
  const testLabels = await yTest.data();

  const makeModel = (seed: number) =>
    sf.sequential({
      name: 'iris_mlp',
      layers: [
        sf.layers.dense({ units: 10, activation: 'relu', inputShape: [4], kernelInitializer: sf.initializers.glorotUniform({ seed: seed + 1 }) }),
        sf.layers.dropout({ rate: 0.2, seed: seed + 2 }),
        sf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: sf.initializers.glorotUniform({ seed: seed + 3 }) }),
      ],
    });
  const preview = makeModel(0);
  summary.textContent = summaryText(preview);
  preview.dispose();

  let model: sf.Sequential | null = null;
  bindStop(stopButton, () => model);

  trainButton.addEventListener('click', async () => {
    const settings = readSettings(form, (message) => setState('error', message));
    if (!settings) return;
    const { epochs, batchSize, learningRate, seed } = settings;
    const { optimizer } = settings;
    trainButton.disabled = true;
    stopButton.disabled = false;
    form.inert = true;
    results.hidden = true;
    exposed.history = null;
    exposed.error = null;
    model?.dispose();
    model = makeModel(seed);
    try {
      model.compile({ optimizer: makeOptimizer(optimizer, learningRate), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
      const train = sf.data.fromTensorSlices([xTrain, yTrain]).repeat(20).shuffle(1000, seed).batch(batchSize);
      const validation = sf.data.fromTensorSlices([xTest, yTest]).batch(batchSize);
      view.begin(epochs, train.size);
      setState('training', 'Training…');
      const history = await model.fit(train, { epochs, validationData: validation, callbacks: view.callbacks(), verbose: 0 });
      exposed.history = history;
      const stopped = history.epoch.length < epochs;
      const valAccuracy = history.history.val_accuracy?.at(-1);
      setState(stopped ? 'stopped' : 'done', `${stopped ? 'Stopped' : 'Trained'} after ${history.epoch.length} epoch${history.epoch.length === 1 ? '' : 's'}: validation accuracy ${valAccuracy === undefined ? '–' : `${(valAccuracy * 100).toFixed(1)}%`}.`);
      await showResults(model);
    } catch (e) {
      exposed.error = errorMessage(e);
      setState('error', `Training failed: ${errorMessage(e)}`);
    } finally {
      trainButton.disabled = false;
      stopButton.disabled = true;
      form.inert = false;
    }
  });

  async function showResults(trained: sf.Sequential): Promise<void> {
    const probs = trained.predict(xTest);
    const predicted = argmaxRows(await probs.data(), classNames.length);
    probs.dispose();
    const short = classNames.map((n) => n.replace(/^Iris-/, ''));
    const slot = results.querySelector<HTMLElement>('[data-role=confusion]')!;
    slot.replaceChildren(confusionTable(confusion(testLabels, predicted, classNames.length), short));
    results.hidden = false;
  }
}
