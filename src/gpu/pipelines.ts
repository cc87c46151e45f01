// Compute pipelines cached by their full WGSL source: a shader is never compiled twice, and no
// hand-built key can ever map two different programs to one pipeline.

import type { BindingKind, Kernel } from '../shaders/kernel.js';

interface Entry {
  module: GPUShaderModule;
  layout: GPUBindGroupLayout;
  pipeline?: GPUComputePipeline;
  pending?: Promise<GPUComputePipeline>;
  /** Set once compilation info reports errors; every later use throws it at once. */
  error?: Error;
}

const bindingTypes: Record<BindingKind, GPUBufferBindingType> = {
  read: 'read-only-storage',
  write: 'storage',
  uniform: 'uniform',
};

/** A WGSL compilation error with the offending source lines and a caret under each error. */
export function formatCompileError(kernel: Pick<Kernel, 'name' | 'code'>, messages: readonly GPUCompilationMessage[]): Error {
  const lines = kernel.code.split('\n');
  const parts = [`WGSL compilation of kernel '${kernel.name}' failed:`];
  for (const m of messages) {
    if (m.type !== 'error') continue;
    parts.push(`  ${m.lineNum}:${m.linePos} error: ${m.message}`);
    for (let n = Math.max(1, m.lineNum - 2); n <= Math.min(lines.length, m.lineNum + 2); n++) {
      parts.push(`${n === m.lineNum ? '>' : ' '} ${String(n).padStart(4)} | ${lines[n - 1]}`);
      if (n === m.lineNum && m.linePos > 0) parts.push(`       | ${' '.repeat(m.linePos - 1)}^`);
    }
  }
  return new Error(parts.join('\n'));
}

export class PipelineCache {
  private readonly entries = new Map<string, Entry>();
  /** Shader modules created; the tests read it to see that nothing compiles twice. */
  compiled = 0;
  private readonly checks = new Set<Promise<void>>();

  constructor(private readonly device: GPUDevice, private readonly onCompileError: (error: Error) => void) {}

  private entry(kernel: Kernel): Entry {
    let entry = this.entries.get(kernel.code);
    if (entry) return entry;
    // A WGSL error would also raise a bare validation error here; compilation info reports it
    // with line numbers instead, so this scope swallows the bare one.
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code: kernel.code, label: kernel.name });
    void this.device.popErrorScope().catch(() => undefined);
    this.compiled++;
    const layout = this.device.createBindGroupLayout({
      label: kernel.name,
      entries: kernel.bindings.map((kind, binding) => ({
        binding,
        visibility: 0x4, // GPUShaderStage.COMPUTE
        buffer: { type: bindingTypes[kind] },
      })),
    });
    entry = { module, layout };
    this.entries.set(kernel.code, entry);
    return entry;
  }

  /** The pipeline and bind group layout, created synchronously (eager ops cannot wait). */
  get(kernel: Kernel): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    const entry = this.entry(kernel);
    if (entry.error) throw entry.error;
    if (entry.pipeline) return { pipeline: entry.pipeline, layout: entry.layout };
    // Compilation messages arrive asynchronously: the first error goes to the runtime, which
    // rejects the next read with it, and every later use of this kernel throws it at once.
    const check = entry.module.getCompilationInfo().then((info) => {
      if (!entry.error && info.messages.some((m) => m.type === 'error')) {
        entry.error = formatCompileError(kernel, info.messages);
        this.onCompileError(entry.error);
      }
    }, () => undefined);
    this.checks.add(check);
    void check.finally(() => this.checks.delete(check));
    entry.pipeline = this.device.createComputePipeline({
      label: kernel.name,
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [entry.layout] }),
      compute: { module: entry.module, entryPoint: 'main' },
    });
    return { pipeline: entry.pipeline, layout: entry.layout };
  }

  /** Compiles in the background; resolves when the pipeline is ready, rejects with the WGSL error and source lines. */
  compile(kernel: Kernel): Promise<GPUComputePipeline> {
    const entry = this.entry(kernel);
    if (entry.error) return Promise.reject(entry.error);
    if (entry.pipeline) return Promise.resolve(entry.pipeline);
    entry.pending ??= (async () => {
      const info = await entry.module.getCompilationInfo();
      if (info.messages.some((m) => m.type === 'error')) {
        entry.error ??= formatCompileError(kernel, info.messages);
        throw entry.error;
      }
      const pipeline = await this.device.createComputePipelineAsync({
        label: kernel.name,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [entry.layout] }),
        compute: { module: entry.module, entryPoint: 'main' },
      });
      entry.pipeline ??= pipeline;
      return entry.pipeline;
    })();
    return entry.pending;
  }

  /** Resolves once every compilation check of a synchronously created pipeline has reported. */
  async settled(): Promise<void> {
    while (this.checks.size) await Promise.all(this.checks);
  }

  get size(): number {
    return this.entries.size;
  }
}
