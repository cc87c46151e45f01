// Device acquisition: navigator.gpu in a browser, Dawn (the `webgpu` package) in Node, or a
// GPUDevice the caller already has. One runtime is current at a time.

import { type BackendInfo, Runtime } from './runtime.js';
import { type AutotuneMode, Tuning } from './tuning.js';

export interface ReadyOptions {
  /** Use this device instead of requesting one (an app that already has WebGPU running). */
  device?: GPUDevice;
  /** A GPU entry point to request the adapter from, in place of navigator.gpu or Dawn. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Options for Dawn's `create()` in Node, e.g. `['backend=vulkan']`. */
  dawnOptions?: string[];
  /**
   * Request 'shader-f16' (for compile's `forwardWeights: 'float16'`) where the adapter has it.
   * Default: on a GPU yes; on CPU adapters (lavapipe, SwiftShader) only when asked, here or by
   * $SHADERFLOW_F16=1 in Node, since the feature slows their shader compiler (the seed CNN's
   * first step with a cold cache: 11 s without it, 18 s with it, on lavapipe).
   */
  halfPrecision?: boolean;
}

/** The limits training needs raised above WebGPU's defaults, requested up to what the adapter offers. */
const raisedLimits = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

/** Optional features used where present: GPU timestamps for profiling, subgroup operations for loads shared across lanes. */
const wantedFeatures: GPUFeatureName[] = ['timestamp-query', 'subgroups' as GPUFeatureName];

/** Whether an adapter, as it describes itself, is a CPU driver (llvmpipe, lavapipe, SwiftShader). */
function isCpuAdapter(info: { vendor?: string; architecture?: string; device?: string; description?: string }): boolean {
  return /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

/** Whether to request 'shader-f16' (ReadyOptions.halfPrecision). */
function wantsHalves(options: ReadyOptions, info: GPUAdapterInfo): boolean {
  if (options.halfPrecision !== undefined) return options.halfPrecision;
  if (isNode() && process.env.SHADERFLOW_F16) return process.env.SHADERFLOW_F16 === '1';
  return !isCpuAdapter(info);
}

export const driverHelp =
  'In Node, shaderflow runs on Dawn (the `webgpu` package), which needs a Vulkan, Metal or D3D12 driver. ' +
  "On a Debian machine without a GPU, install Mesa's CPU Vulkan driver, lavapipe, version 23 or newer " +
  "(Debian 12's own is too old): echo 'deb http://deb.debian.org/debian bookworm-backports main' > " +
  '/etc/apt/sources.list.d/backports.list && apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers. ' +
  'In a browser, use Chrome or Edge 113+ on a page served over https or from localhost.';

let current: Runtime | null = null;
let acquiring: Promise<Runtime> | null = null;
// Dawn's GPU object must outlive every device it created: if it is garbage-collected, Dawn
// frees state that live devices still use and the process crashes. It is kept here for good.
let dawn: GPU | null = null;

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

async function nodeGpu(options: ReadyOptions): Promise<GPU> {
  if (dawn) return dawn;
  const name = 'webgpu'; // a variable, so browser bundlers leave Dawn alone
  let module: { create(options: string[]): GPU };
  try {
    module = (await import(/* @vite-ignore */ name)) as typeof module;
  } catch (error) {
    throw new Error(`Could not load Dawn from the 'webgpu' package (npm install webgpu): ${(error as Error).message}`);
  }
  dawn = module.create(options.dawnOptions ?? []);
  return dawn;
}

async function findGpu(options: ReadyOptions): Promise<{ gpu: GPU; platform: BackendInfo['platform'] }> {
  if (options.gpu) return { gpu: options.gpu, platform: 'custom' };
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, platform: 'browser' };
  if (isNode()) return { gpu: await nodeGpu(options), platform: 'node' };
  throw new Error(
    'This browser does not expose WebGPU (navigator.gpu is undefined). Use Chrome or Edge 113+ on a page ' +
      'served over https or from localhost, or enable WebGPU in the browser settings.',
  );
}

/** The subgroup size kernels may rely on: present when every subgroup of the device has the same size. */
function subgroupSize(device: GPUDevice, adapterInfo: GPUAdapterInfo | undefined): { subgroupSize?: number } {
  const info = adapterInfo as (GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number }) | undefined;
  if (!device.features.has('subgroups') || !info?.subgroupMinSize || info.subgroupMinSize !== info.subgroupMaxSize) return {};
  return { subgroupSize: info.subgroupMinSize };
}

function describe(device: GPUDevice, adapterInfo: GPUAdapterInfo | undefined, platform: BackendInfo['platform']): BackendInfo {
  const info = adapterInfo ?? device.adapterInfo;
  const limits: Record<string, number> = {};
  for (const name of raisedLimits) limits[name] = device.limits[name];
  return {
    platform,
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    features: [...device.features].sort(),
    limits,
    ...subgroupSize(device, info),
  };
}

const modes: readonly AutotuneMode[] = ['tune', 'cached', 'off'];
let chosenMode: AutotuneMode | null = null;

/**
 * The autotune mode of a new device: what sf.autotune set, else $SHADERFLOW_AUTOTUNE in Node,
 * else 'tune' on a GPU and 'cached' on a CPU adapter (lavapipe, SwiftShader), where each variant
 * costs up to a second of shader compilation.
 */
function modeFor(info: BackendInfo): AutotuneMode {
  if (chosenMode) return chosenMode;
  const env = isNode() ? process.env.SHADERFLOW_AUTOTUNE : undefined;
  if (env !== undefined && env !== '') {
    if (!modes.includes(env as AutotuneMode)) throw new Error(`SHADERFLOW_AUTOTUNE must be one of ${modes.join(', ')}, got '${env}'`);
    return env as AutotuneMode;
  }
  return isCpuAdapter(info) ? 'cached' : 'tune';
}

/** What kernel choices are kept under: the platform and the adapter as it describes itself. */
function adapterKey(info: BackendInfo): string {
  return `${info.platform}: ${[info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ')}`;
}

async function runtimeFor(device: GPUDevice, info: BackendInfo): Promise<Runtime> {
  return new Runtime(device, info, await Tuning.load(adapterKey(info), modeFor(info)));
}

async function acquire(options: ReadyOptions): Promise<Runtime> {
  if (options.device) return runtimeFor(options.device, describe(options.device, undefined, 'custom'));
  const { gpu, platform } = await findGpu(options);
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) throw new Error(`No WebGPU adapter was found. ${driverHelp}`);
  const requiredLimits: Record<string, number> = {};
  for (const name of raisedLimits) requiredLimits[name] = adapter.limits[name];
  const wanted = wantsHalves(options, adapter.info) ? [...wantedFeatures, 'shader-f16' as GPUFeatureName] : wantedFeatures;
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'shaderflow' });
  return runtimeFor(device, describe(device, adapter.info, platform));
}

/**
 * Acquires the GPU device all later work runs on and reports its adapter. Safe to call many
 * times: it reuses the current device unless that was lost or another `device` is passed.
 */
export async function ready(options: ReadyOptions = {}): Promise<BackendInfo> {
  if (current && !current.isLost && (!options.device || options.device === current.device)) return current.info;
  acquiring ??= acquire(options).finally(() => (acquiring = null));
  const runtime = await acquiring;
  current = runtime;
  return runtime.info;
}

/** The current runtime; throws with what to do when there is none or its device was lost. */
export function runtime(): Runtime {
  if (!current) throw new Error('shaderflow has no GPU device yet: call `await sf.ready()` first');
  current.check();
  return current;
}

/** The adapter and limits of the current device. */
export function backendInfo(): BackendInfo {
  return runtime().info;
}

export interface AutotuneState {
  readonly mode: AutotuneMode;
  /** Where the choices persist: a file in Node, IndexedDB in a browser. */
  readonly store: string;
  /** The choices made for the current adapter, by kernel family and shape. */
  readonly choices: Readonly<Record<string, { readonly variant: object; readonly timings: readonly { variant: object; ms: number }[] }>>;
}

/**
 * Sets how kernels are chosen per adapter (with a mode) and reports the current device's state.
 * 'tune' times every variant of a kernel shape the adapter has no choice for when a step first
 * compiles, and keeps the fastest for good; 'cached' uses choices made before; 'off' the built-in
 * ones. The default is 'tune' on a GPU and 'cached' on CPU adapters.
 */
export function autotune(mode?: AutotuneMode): AutotuneState {
  if (mode !== undefined) {
    if (!modes.includes(mode)) throw new Error(`sf.autotune: expected one of ${modes.join(', ')}, got ${JSON.stringify(mode)}`);
    chosenMode = mode;
    if (current) current.tuning.mode = mode;
    else return { mode, store: 'chosen when sf.ready() opens a device', choices: {} };
  }
  const tuning = runtime().tuning;
  return { mode: tuning.mode, store: tuning.store.where, choices: tuning.choices };
}
