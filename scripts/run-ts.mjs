// Runs a TypeScript entry point (a benchmark or a tool) through Vite's module runner, which
// strips types on the fly; Node 20 cannot run TypeScript by itself.
//
// Dawn prints two notices on every adapter of some Vulkan drivers (lavapipe among them) straight
// to the process's stderr, where no JavaScript can intercept them: "maxDynamic…BuffersPerPipeline
// Layout artificially reduced … to fit dynamic offset allocation limit". They say nothing about
// the run, so the entry point runs in a child process whose stderr passes through here with
// exactly those lines dropped.
//
// With --bundle first, the parent bundles the entry point and the project's modules it imports
// into one ES module (Vite's SSR build: packages stay imports) under node_modules/.cache, and the
// child runs that with plain Node: Vite and its native transformer then take no memory in the
// process that trains (about 190 MB of RSS; the main job runs this way). Only for entry points
// whose modules do not locate files through import.meta.url.
import { spawn } from 'node:child_process';
import { basename, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { build, runnerImport } from 'vite';

const dawnNotice = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

const bundle = process.argv[2] === '--bundle';
const [file, ...args] = process.argv.slice(bundle ? 3 : 2);
if (!file) {
  console.error('usage: node scripts/run-ts.mjs [--bundle] FILE.ts [args...]');
  process.exit(2);
}
if (process.env.SF_RUN_TS_CHILD) {
  process.argv = [process.argv[0], resolve(file), ...args];
  await runnerImport(resolve(file), { configFile: false, logLevel: 'warn', server: { watch: null } });
} else {
  let command = [...process.execArgv, ...process.argv.slice(1)];
  if (bundle) {
    const outDir = resolve('node_modules/.cache/shaderflow-run');
    const name = basename(file).replace(/\.[cm]?ts$/, '');
    await build({
      configFile: false,
      logLevel: 'warn',
      build: { ssr: resolve(file), outDir, emptyOutDir: false, minify: false, sourcemap: true, target: 'node20', rollupOptions: { output: { entryFileNames: `${name}.mjs`, format: 'es' } } },
    });
    command = [...process.execArgv, '--enable-source-maps', resolve(outDir, `${name}.mjs`), ...args];
  }
  const child = spawn(process.execPath, command, {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, SF_RUN_TS_CHILD: '1' },
  });
  createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
    if (!dawnNotice.test(line)) process.stderr.write(`${line}\n`);
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    else process.exitCode = code ?? 1;
  });
}
