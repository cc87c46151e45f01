// Runs a TypeScript entry point (a benchmark or a tool) through Vite's module runner, which
// strips types on the fly; Node 20 cannot run TypeScript by itself.
//
// Dawn prints two notices on every adapter of some Vulkan drivers (lavapipe among them) straight
// to the process's stderr, where no JavaScript can intercept them: "maxDynamic…BuffersPerPipeline
// Layout artificially reduced … to fit dynamic offset allocation limit". They say nothing about
// the run, so the entry point runs in a child process whose stderr passes through here with
// exactly those lines dropped.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { runnerImport } from 'vite';

const dawnNotice = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/run-ts.mjs FILE.ts [args...]');
  process.exit(2);
}
if (process.env.SF_RUN_TS_CHILD) {
  process.argv = [process.argv[0], resolve(file), ...args];
  await runnerImport(resolve(file), { configFile: false, logLevel: 'warn', server: { watch: null } });
} else {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
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
