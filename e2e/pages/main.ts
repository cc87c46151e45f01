// Imports the library in the browser, runs an eager kernel on navigator.gpu and shows the result.
import * as sf from 'shaderflow';

const status = document.getElementById('status')!;

async function main(): Promise<void> {
  const info = await sf.ready();
  document.getElementById('adapter')!.textContent = [info.vendor, info.architecture, info.description].filter(Boolean).join(' · ') || 'unknown adapter';
  const a = sf.tensor([1, 2, 3, 4]);
  const b = sf.tensor([10, 20, 30, 40]);
  const c = sf.add(a, sf.mul(b, 2));
  const values = Array.from(await c.data());
  document.getElementById('result')!.textContent = JSON.stringify(values);
  status.textContent = 'Done';
  status.dataset.state = 'done';
}

main().catch((error: Error) => {
  status.textContent = error.message;
  status.dataset.state = 'error';
});
