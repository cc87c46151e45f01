// scripts/run-ts.mjs, which runs the main job and the benchmarks: Dawn's two driver notices are
// dropped from stderr, exactly those lines; everything else and the exit code pass through.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';

test('drops exactly the two Dawn notices and keeps the rest, and the exit code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sf-run-ts-'));
  try {
    const entry = join(dir, 'entry.ts');
    writeFileSync(entry, [
      "const notice = (kind: string): string => `Warning: maxDynamic${kind}BuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\\n`;",
      "process.stderr.write(notice('Uniform') + 'a real warning\\n' + notice('Storage'));",
      "process.stderr.write('Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced, said differently\\n');",
      "console.log('out');",
      'process.exitCode = 3;',
    ].join('\n'));
    const run = spawnSync(process.execPath, ['scripts/run-ts.mjs', entry], { encoding: 'utf8' });
    expect(run.stdout).toBe('out\n');
    expect(run.stderr).toBe('a real warning\nWarning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced, said differently\n');
    expect(run.status).toBe(3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--bundle runs the entry as one bundled ES module with plain Node, passing arguments and the exit code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sf-run-ts-'));
  try {
    writeFileSync(join(dir, 'helper.ts'), 'export const twice = (n: number): number => 2 * n;\n');
    const entry = join(dir, 'entry.ts');
    writeFileSync(entry, [
      "import { twice } from './helper.js';",
      'const n: number = Number(process.argv[2]);',
      // Plain Node runs the bundle itself; under Vite's module runner this would be the .ts file.
      "const bundled = import.meta.url.endsWith('/node_modules/.cache/shaderflow-run/entry.mjs');",
      'console.log(twice(n), process.argv.slice(2).join(" "), bundled);',
      'process.exitCode = 4;',
    ].join('\n'));
    const run = spawnSync(process.execPath, ['scripts/run-ts.mjs', '--bundle', entry, '21', '--flag'], { encoding: 'utf8' });
    expect(run.stdout).toBe('42 21 --flag true\n');
    expect(run.status).toBe(4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
