// The demo's entry: finds a WebGPU adapter (or explains how to get one), then sets up the Iris
// and MNIST experiments behind two tabs. window.__demo exposes their state to the e2e tests.

import * as sf from 'shaderflow';
import { type IrisState, setupIris } from './iris.js';
import { type MnistState, setupMnist } from './mnist.js';
import { errorMessage } from './training-view.js';

interface DemoState {
  webgpu: 'pending' | 'ready' | 'missing';
  adapter: sf.BackendInfo | null;
  iris: IrisState;
  mnist: MnistState;
  sf: typeof sf;
}

declare global {
  interface Window {
    __demo: DemoState;
  }
}

const demo: DemoState = {
  webgpu: 'pending',
  adapter: null,
  iris: { state: 'idle', history: null, error: null },
  mnist: { state: 'idle', history: null, error: null, drawProbabilities: null, drawBusy: false, model: null },
  sf,
};
window.__demo = demo;

const gpu = document.getElementById('gpu')!;
const adapterText = document.getElementById('adapter')!;

function showMissing(reason: string): void {
  demo.webgpu = 'missing';
  gpu.dataset.state = 'missing';
  adapterText.textContent = 'WebGPU unavailable';
  document.getElementById('no-webgpu-reason')!.textContent = reason;
  document.getElementById('no-webgpu')!.hidden = false;
  document.getElementById('app')!.hidden = true;
}

function setupTabs(): void {
  const tabs = Array.from(document.querySelectorAll<HTMLButtonElement>('[role=tab]'));
  const select = (tab: HTMLButtonElement) => {
    for (const t of tabs) {
      const selected = t === tab;
      t.setAttribute('aria-selected', String(selected));
      t.tabIndex = selected ? 0 : -1;
      document.getElementById(t.getAttribute('aria-controls')!)!.hidden = !selected;
    }
  };
  tabs.forEach((tab, k) => {
    tab.addEventListener('click', () => select(tab));
    tab.addEventListener('keydown', (e) => {
      const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (!step) return;
      const next = tabs[(k + step + tabs.length) % tabs.length];
      select(next);
      next.focus();
    });
  });
  const fromHash = tabs.find((t) => `#${t.getAttribute('aria-controls')}` === location.hash);
  select(fromHash ?? tabs[0]);
}

async function main(): Promise<void> {
  if (!(navigator as { gpu?: GPU }).gpu) {
    showMissing('This browser does not expose WebGPU (navigator.gpu is undefined).');
    return;
  }
  let info: sf.BackendInfo;
  try {
    info = await sf.ready();
  } catch (e) {
    showMissing(errorMessage(e));
    return;
  }
  demo.adapter = info;
  demo.webgpu = 'ready';
  gpu.dataset.state = 'ready';
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ') || 'an unnamed adapter';
  adapterText.textContent = `WebGPU: ${name}`;
  adapterText.title = `max buffer ${(info.limits.maxBufferSize / 2 ** 20).toFixed(0)} MiB · ${info.features.join(', ') || 'no optional features'}`;
  document.getElementById('app')!.hidden = false;
  setupTabs();
  const failed = (id: string) => (e: unknown) => {
    const section = document.getElementById(id)!;
    section.dataset.state = 'error';
    const status = section.querySelector<HTMLElement>('[data-role=status]');
    if (status) {
      status.dataset.state = 'error';
      status.textContent = `Could not set up: ${errorMessage(e)}`;
    }
    demo[id as 'iris' | 'mnist'].state = 'error';
    demo[id as 'iris' | 'mnist'].error = errorMessage(e);
  };
  await Promise.all([
    setupIris(document.getElementById('iris')!, demo.iris).catch(failed('iris')),
    setupMnist(document.getElementById('mnist')!, demo.mnist, info).catch(failed('mnist')),
  ]);
  document.body.dataset.ready = 'true';
}

void main();
