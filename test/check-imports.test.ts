// scripts/check-imports.mjs on small fixture trees: a type-only cycle, a layer violation, a long
// file, import look-alikes that are not imports, and a clean tree; the CLI's exit codes.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { checkImports, formatReport } from '../scripts/check-imports.mjs';

const script = fileURLToPath(new URL('../scripts/check-imports.mjs', import.meta.url));
const roots: string[] = [];

/** Writes `files` (paths relative to the fixture root) into a fresh temporary folder. */
function fixture(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'check-imports-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

const clean = {
  'src/shaders/matmul.ts': "import { preamble } from './preamble.js';\nexport const matmul = () => preamble;\n",
  'src/shaders/preamble.ts': 'export const preamble = /* wgsl */ `fn f() {}`;\n',
  'src/shaders/conv2d/index.ts': "export * from './tiled.js';\n",
  'src/shaders/conv2d/tiled.ts': "import { preamble } from '../preamble.js';\nexport const tiled = preamble;\n",
  'src/gpu/device.ts': [
    "import { matmul } from '../shaders/matmul.js';",
    "import { tiled } from '../shaders/conv2d/index.js';",
    "import { create } from 'webgpu';",
    'export const device = [matmul, tiled, create];',
    '',
  ].join('\n'),
  'src/nn/ops.ts': [
    'import {',
    '  device,',
    "} from '../gpu/device.js';",
    "export type { Shape } from './shape.js';",
    "export const load = () => import('../shaders/matmul.js');",
    'export const ops = device;',
    '',
  ].join('\n'),
  'src/nn/shape.ts': 'export type Shape = number[];\n',
  'src/data/dataset.ts': "import { ops } from '../nn/ops.js';\nexport const dataset = ops;\n",
  'src/index.ts': "export * from './data/dataset.js';\nexport { ops } from './nn/ops.js';\n",
  // A test file may import anything: it is not part of the checked structure.
  'src/shaders/matmul.test.ts': "import { dataset } from '../data/dataset.js';\nexport const t = dataset;\n",
};

describe('checkImports', () => {
  test('a clean tree: every edge found, nothing reported', () => {
    const result = checkImports(fixture(clean));
    expect(result.files).toHaveLength(9);
    expect(result.edges.map((e) => `${e.from} -> ${e.to}`)).toEqual([
      'data/dataset.ts -> nn/ops.ts',
      'gpu/device.ts -> shaders/conv2d/index.ts',
      'gpu/device.ts -> shaders/matmul.ts',
      'index.ts -> data/dataset.ts',
      'index.ts -> nn/ops.ts',
      'nn/ops.ts -> gpu/device.ts',
      'nn/ops.ts -> nn/shape.ts',
      'nn/ops.ts -> shaders/matmul.ts',
      'shaders/conv2d/index.ts -> shaders/conv2d/tiled.ts',
      'shaders/conv2d/tiled.ts -> shaders/preamble.ts',
      'shaders/matmul.ts -> shaders/preamble.ts',
    ]);
    expect(result.edges.find((e) => e.to === 'nn/shape.ts')?.typeOnly).toBe(true);
    expect(result.cycles).toEqual([]);
    expect(result.sccs).toEqual([]);
    expect(result.violations).toEqual([]);
    expect(result.long).toEqual([]);
    expect(result.unresolved).toEqual([]);
    const report = formatReport(result);
    expect(report.ok).toBe(true);
    expect(report.text).toBe('imports: 9 files, 11 edges, no cycles, layer order kept, no file over 500 lines');
  });

  test('a cycle made only of type imports is still a cycle', () => {
    const result = checkImports(fixture({
      ...clean,
      'src/nn/layer.ts': "import type { Model } from './model.js';\nexport interface Layer { model: Model }\n",
      'src/nn/model.ts': "import { type Layer } from './layer.js';\nexport interface Model { layers: Layer[] }\n",
      'src/nn/self.ts': "export type Self = typeof import('./self.js');\n",
    }));
    expect(result.sccs).toEqual([['nn/layer.ts', 'nn/model.ts'], ['nn/self.ts']]);
    expect(result.cycles).toEqual([
      ['nn/layer.ts', 'nn/model.ts', 'nn/layer.ts'],
      ['nn/self.ts', 'nn/self.ts'],
    ]);
    const text = formatReport(result).text;
    expect(text).toContain('nn/layer.ts → nn/model.ts → nn/layer.ts   (type-only: nn/layer.ts → nn/model.ts)');
    expect(formatReport(result).ok).toBe(false);
  });

  test('every cycle of a tangled group is listed once', () => {
    const result = checkImports(fixture({
      'src/nn/a.ts': "import './b.js';\nimport './c.js';\n",
      'src/nn/b.ts': "import './a.js';\nimport './c.js';\n",
      'src/nn/c.ts': "import './a.js';\n",
    }));
    expect(result.sccs).toEqual([['nn/a.ts', 'nn/b.ts', 'nn/c.ts']]);
    expect(result.cycles).toEqual([
      ['nn/a.ts', 'nn/b.ts', 'nn/a.ts'],
      ['nn/a.ts', 'nn/b.ts', 'nn/c.ts', 'nn/a.ts'],
      ['nn/a.ts', 'nn/c.ts', 'nn/a.ts'],
    ]);
  });

  test('an import that points up a layer is a violation, type-only or not', () => {
    const result = checkImports(fixture({
      ...clean,
      'src/nn/fit.ts': "import type { Dataset } from '../data/dataset.js';\nexport type Fit = Dataset;\n",
      'src/shaders/bad.ts': "export const load = () => import('../gpu/device.js');\n",
      'src/gpu/root.ts': "import * as sf from '../index.js';\nexport const x = sf;\n",
      'src/io/reader.ts': 'export const reader = 1;\n',
    }));
    expect(result.violations.map((v) => v.message)).toEqual([
      'src/io/ is not in the layer table (LAYERS in scripts/check-imports.mjs): add a line saying what it may import',
      'src/gpu/root.ts imports src/index.ts: gpu must not import the package root (src/index.ts sits above every layer)',
      'src/nn/fit.ts imports src/data/dataset.ts: nn must not import data',
      'src/shaders/bad.ts imports src/gpu/device.ts: shaders must not import gpu',
    ]);
    expect(result.cycles).toEqual([]);
  });

  test('a file over the line limit is reported, and the limit can be changed or turned off', () => {
    const long = Array.from({ length: 501 }, (_, k) => `export const x${k} = ${k};`).join('\n') + '\n';
    const exact = Array.from({ length: 500 }, (_, k) => `export const y${k} = ${k};`).join('\n') + '\n';
    const root = fixture({ ...clean, 'src/data/long.ts': long, 'src/data/exact.ts': exact, 'src/data/long.test.ts': long });
    expect(checkImports(root).long).toEqual([{ file: 'data/long.ts', lines: 501 }]);
    expect(checkImports(root, { maxLines: 400 }).long.map((l) => l.file)).toEqual(['data/exact.ts', 'data/long.ts']);
    expect(checkImports(root, { maxLines: 0 }).long).toEqual([]);
    expect(formatReport(checkImports(root)).text).toContain('src/data/long.ts: 501 lines');
  });

  test('imports written in comments, strings, templates and regexes are not imports', () => {
    const result = checkImports(fixture({
      'src/shaders/kernel.ts': [
        "// import { device } from '../gpu/device.js';",
        "/* export * from '../nn/ops.js'; */",
        "export const code = /* wgsl */ `import x from '../gpu/device.js' ${'a'} import('../nn/ops.js')`;",
        // Read as anything but regexes, the backtick would open a template and the `//` a
        // comment, hiding the real imports after them.
        "export const tick = /`/; import { one } from './one.js';",
        "export const slashes = /\\/\\//; import './two.js';",
        "export const text = \"import('../gpu/device.js')\";",
        "export const half = 1 / 2; import { one } from './one.js'; export const two = 2 / one;",
        '',
      ].join('\n'),
      'src/shaders/one.ts': 'export const one = 1;\n',
      'src/shaders/two.ts': 'export const two = 2;\n',
      'src/gpu/device.ts': 'export const device = 1;\n',
      'src/nn/ops.ts': 'export const ops = 1;\n',
    }));
    expect(result.edges.map((e) => `${e.from} -> ${e.to}`)).toEqual(['shaders/kernel.ts -> shaders/one.ts', 'shaders/kernel.ts -> shaders/two.ts']);
    expect(result.violations).toEqual([]);
  });

  test('a relative import naming no file is listed as unresolved', () => {
    const result = checkImports(fixture({ ...clean, 'src/nn/gone.ts': "import { x } from './conv2d.js';\nexport const y = x;\n" }));
    expect(result.unresolved).toEqual([{ from: 'nn/gone.ts', specifier: './conv2d.js' }]);
  });
});

describe('the command line', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });

  test('exits 0 with one summary line on a clean tree', () => {
    const out = run(fixture(clean));
    expect(out.status).toBe(0);
    expect(out.stdout.trim()).toBe('imports: 9 files, 11 edges, no cycles, layer order kept, no file over 500 lines');
  });

  test('exits 1 and lists cycles, violations and long files', () => {
    const long = Array.from({ length: 30 }, (_, k) => `export const x${k} = ${k};`).join('\n');
    const out = run(fixture({
      ...clean,
      'src/nn/fit.ts': "import { dataset } from '../data/dataset.js';\nimport type { M } from './model.js';\nexport const fit = dataset;\n",
      'src/nn/model.ts': "import { fit } from './fit.js';\nexport type M = typeof fit;\n",
      'src/nn/long.ts': long,
    }), '--max-lines', '20');
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('nn/fit.ts → nn/model.ts → nn/fit.ts');
    expect(out.stderr).toContain('src/nn/fit.ts imports src/data/dataset.ts: nn must not import data');
    expect(out.stderr).toContain('src/nn/long.ts: 30 lines');
    expect(out.stderr).toContain('1 cycle group, 1 layer violation, 1 file over 20 lines — FAILED');
  });

  test('exits 2 on a bad option or a root without src/', () => {
    expect(run('--max-lines', 'many').status).toBe(2);
    expect(run('--frobnicate').status).toBe(2);
    expect(run(fixture({ 'README.md': 'no src here\n' })).status).toBe(2);
  });
});
