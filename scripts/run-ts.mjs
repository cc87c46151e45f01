// Runs a TypeScript entry point (a benchmark or a tool) through Vite's module runner, which
// strips types on the fly; Node 20 cannot run TypeScript by itself.
import { resolve } from 'node:path';
import { runnerImport } from 'vite';

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/run-ts.mjs FILE.ts [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], resolve(file), ...args];
await runnerImport(resolve(file), { configFile: false, logLevel: 'warn', server: { watch: null } });
