// The runtime around one GPUDevice: encodes kernel dispatches into a shared command encoder,
// submits it, reads buffers back without blocking, and turns WebGPU's asynchronous errors
// (validation, out-of-memory, WGSL compilation, device loss) into thrown Errors with context.

import type { Kernel, KernelLimits } from '../shaders/kernel.js';
import { bindKernel, storageBindingCount } from './bind.js';
import { PipelineCache } from './pipelines.js';
import { BufferPool, BufferUsage } from './pool.js';
import type { Tuning } from './tuning.js';

export interface BackendInfo {
  /** Where the device came from: the browser's navigator.gpu, Dawn in Node, or the caller. */
  platform: 'browser' | 'node' | 'custom';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
  /** The lanes a subgroup kernel shares its loads across, where the device has one subgroup size. */
  subgroupSize?: number;
}

/** Submit the shared encoder after this many dispatches even if nothing is read back. */
const maxDispatchesPerSubmit = 128;

export class Runtime {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly limits: KernelLimits;
  private encoder: GPUCommandEncoder | null = null;
  /** The first few kernels of the open encoder, for error messages. */
  private encodedKernels: string[] = [];
  /** Commands in the open encoder. */
  private encodedCount = 0;
  /** Uniform buffers of the open encoder; pooled again once it is submitted. */
  private releaseAfterSubmit: GPUBuffer[] = [];
  /**
   * Storage buffers the open encoder binds, or that were released while it may still read them.
   * Later dispatches in the same encoder may reuse them (commands run in order), but
   * queue.writeBuffer runs ahead of unsubmitted commands, so writing one first submits the
   * encoder (a step state written between eager optimizer updates).
   */
  private readonly usedByOpenEncoder = new Set<GPUBuffer>();
  private scopeOpen = false;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private pendingError: Error | null = null;
  private lostError: Error | null = null;
  private readonly waiting = new Set<(error: Error) => void>();
  /** Queue submits and awaited readbacks so far: tests read them to check that a step submits once and never waits. */
  readonly counters = { submits: 0, reads: 0 };

  /** @param tuning The adapter's kernel choices (src/gpu/tuning.ts); kernels built for this device follow them. */
  constructor(readonly device: GPUDevice, readonly info: BackendInfo, readonly tuning: Tuning) {
    const l = device.limits;
    this.limits = {
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      ...(info.subgroupSize ? { subgroupSize: info.subgroupSize } : {}),
      tuned: this.tuning,
    };
    this.pool = new BufferPool(device, Math.min(l.maxBufferSize, l.maxStorageBufferBindingSize));
    this.pipelines = new PipelineCache(device, (error) => this.report(error, true));
    void device.lost.then((lost) => this.onLost(lost));
    device.onuncapturederror = (event) => this.report(new Error(`WebGPU error: ${event.error.message}`));
  }

  get isLost(): boolean {
    return this.lostError !== null;
  }

  /** Throws if the device is gone; every entry point calls it first. */
  check(): void {
    if (this.lostError) throw this.lostError;
  }

  private pendingIsCompileError = false;

  private report(error: Error, isCompileError = false): void {
    // A WGSL error explains the validation errors that follow from it, so it takes precedence.
    if (this.pendingError && (this.pendingIsCompileError || !isCompileError)) return;
    this.pendingError = error;
    this.pendingIsCompileError = isCompileError;
  }

  /** Throws (once) the first error WebGPU reported since the last call. */
  throwPendingError(): void {
    const error = this.pendingError;
    this.pendingError = null;
    this.pendingIsCompileError = false;
    if (error) throw error;
  }

  private onLost(lost: GPUDeviceLostInfo): void {
    this.lostError = new Error(
      `The GPU device was lost (${lost.reason || 'unknown reason'}${lost.message ? `: ${lost.message}` : ''}); ` +
        'pending work was discarded and its tensors are gone. Call sf.ready() to acquire a new device.',
    );
    for (const reject of this.waiting) reject(this.lostError);
    this.waiting.clear();
    if (this.flushTimer) clearTimeout(this.flushTimer);
  }

  /** Opens error scopes around all GPU work until the next flush, so its errors get context. */
  private beginScope(): void {
    if (this.scopeOpen) return;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    this.scopeOpen = true;
    // Eager work starts on the GPU (and its errors surface) soon even when nothing reads it back.
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, 0);
  }

  private currentEncoder(): GPUCommandEncoder {
    this.check();
    this.beginScope();
    this.encoder ??= this.device.createCommandEncoder({ label: 'shaderflow' });
    return this.encoder;
  }

  /** A buffer from the pool; its contents are undefined. */
  allocate(bytes: number, label: string, usage: number): GPUBuffer {
    this.check();
    this.beginScope();
    return this.pool.acquire(bytes, usage, label);
  }

  /** Returns a buffer to the pool for reuse. */
  release(buffer: GPUBuffer): void {
    if (this.lostError) return;
    if (this.encoder) this.usedByOpenEncoder.add(buffer);
    this.pool.release(buffer);
  }

  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.check();
    if (this.usedByOpenEncoder.has(buffer)) void this.flush();
    this.beginScope();
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  clear(buffer: GPUBuffer, byteLength: number): void {
    this.currentEncoder().clearBuffer(buffer, 0, Math.ceil(byteLength / 4) * 4);
  }

  /**
   * Hands the shared command encoder to `encode` (a plan recording its prepared dispatches), so
   * eager work before it stays in order; `name` labels it in error messages like a kernel's.
   */
  encode(encode: (encoder: GPUCommandEncoder) => void, name: string): void {
    encode(this.currentEncoder());
    this.noteEncoded(name);
  }

  /**
   * Encodes a copy of `bytes` bytes from `source` to `target` into the shared encoder, in order
   * with the dispatches around it; `name` labels it in error messages like a kernel's.
   */
  copy(source: GPUBuffer, sourceOffset: number, target: GPUBuffer, targetOffset: number, bytes: number, name: string): void {
    if (bytes === 0) return;
    this.currentEncoder().copyBufferToBuffer(source, sourceOffset, target, targetOffset, bytes);
    this.usedByOpenEncoder.add(source);
    this.usedByOpenEncoder.add(target);
    this.noteEncoded(name);
  }

  /** Encodes one dispatch of `kernel` over `buffers` (its storage bindings, in order). */
  dispatch(kernel: Kernel, buffers: readonly GPUBuffer[]): void {
    this.check();
    const storage = storageBindingCount(kernel);
    if (buffers.length !== storage) {
      throw new Error(`Kernel '${kernel.name}' binds ${storage} storage buffers, got ${buffers.length}`);
    }
    if (kernel.dispatch.some((n) => n === 0)) return;
    const encoder = this.currentEncoder();
    for (const buffer of buffers) this.usedByOpenEncoder.add(buffer);
    const { pipeline, bindGroup, uniformBuffer } = bindKernel(this, kernel, buffers.map((buffer) => ({ buffer })));
    if (uniformBuffer) this.releaseAfterSubmit.push(uniformBuffer);
    const pass = encoder.beginComputePass({ label: kernel.name });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...kernel.dispatch);
    pass.end();
    this.noteEncoded(kernel.name);
    if (this.encodedCount >= maxDispatchesPerSubmit) void this.flush();
  }

  /** Keeps the first few names of the open encoder's work for its error messages. */
  private noteEncoded(name: string): void {
    this.encodedCount++;
    if (this.encodedKernels.length < 8) this.encodedKernels.push(name);
  }

  /**
   * Submits all encoded work. Resolves (never rejects) once WebGPU has checked it; a validation or
   * out-of-memory error is kept and thrown by the next read.
   */
  flush(): Promise<void> {
    if (this.lostError) return Promise.resolve();
    const kernels = this.encodedKernels;
    this.encodedKernels = [];
    this.encodedCount = 0;
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.counters.submits++;
      this.encoder = null;
      for (const buffer of this.releaseAfterSubmit) this.pool.release(buffer);
      this.releaseAfterSubmit = [];
      this.usedByOpenEncoder.clear();
    }
    if (!this.scopeOpen) return Promise.resolve();
    this.scopeOpen = false;
    const validation = this.device.popErrorScope();
    const memory = this.device.popErrorScope();
    const where = kernels.length ? ` while running kernels [${kernels.join(', ')}]` : '';
    return Promise.all([validation, memory]).then(
      ([v, m]) => {
        if (m) this.report(new Error(`The GPU ran out of memory${where}: ${m.message}`));
        if (v) this.report(new Error(`WebGPU validation error${where}: ${v.message}`));
      },
      () => undefined, // popErrorScope rejects only when the device is lost, reported separately
    );
  }

  /** Copies `byteLength` bytes of `source` to the host, without blocking the JS thread. */
  async read(source: GPUBuffer, byteLength: number, byteOffset = 0): Promise<ArrayBuffer> {
    this.check();
    if (byteLength === 0) return new ArrayBuffer(0);
    this.counters.reads++;
    const staging = this.pool.acquire(byteLength, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'readback');
    this.currentEncoder().copyBufferToBuffer(source, byteOffset, staging, 0, byteLength);
    const checked = this.flush();
    try {
      await this.untilLost(staging.mapAsync(0x0001 /* GPUMapMode.READ */, 0, byteLength));
      await this.settled(checked);
      this.throwPendingError();
      return staging.getMappedRange(0, byteLength).slice(0);
    } catch (error) {
      await this.settled(checked);
      this.check();
      this.throwPendingError();
      throw error;
    } finally {
      if (!this.lostError) {
        if (staging.mapState === 'mapped') staging.unmap();
        this.pool.release(staging);
      }
    }
  }

  /** Waits for a flush's error scopes and any pending WGSL compilation reports. */
  private async settled(checked: Promise<void>): Promise<void> {
    await checked;
    await this.pipelines.settled();
  }

  /** Races `promise` against device loss, so nothing waits forever on a dead device. */
  untilLost<T>(promise: Promise<T>): Promise<T> {
    this.check();
    return new Promise<T>((resolve, reject) => {
      this.waiting.add(reject);
      promise.then(resolve, reject).finally(() => this.waiting.delete(reject));
    });
  }
}
