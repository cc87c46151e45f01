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
