// A pool of GPU buffers reused by size class, so steady-state training and eager ops allocate
// nothing. Sizes round up to one of four classes per power of two (at most 25% slack).

export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

/** Usage of every tensor buffer: bound as storage, copied in and out. */
export const storageUsage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

/** The smallest size class holding `bytes`: multiples of 16 below 256, then 4 steps per power of two. */
export function sizeClass(bytes: number): number {
  const min = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (min <= 256) return min;
  const step = 2 ** (Math.ceil(Math.log2(min)) - 3); // quarter of the power of two below
  return Math.ceil(min / step) * step;
}

export interface PoolStats {
  /** Buffers handed out and not yet released. */
  buffersInUse: number;
  bytesInUse: number;
  /** All bytes the pool owns on the device, in use or waiting for reuse. */
  bytesHeld: number;
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly inUse = new Set<GPUBuffer>();
  private held = 0;
  private used = 0;
  /** Buffers created since the pool was made; the tests read it to see reuse. */
  created = 0;

  constructor(private readonly device: GPUDevice, readonly maxBufferSize: number) {}

  acquire(bytes: number, usage: number, label = 'shaderflow'): GPUBuffer {
    const size = sizeClass(bytes);
    if (size > this.maxBufferSize) {
      throw new Error(`Cannot allocate ${bytes} bytes for '${label}': this device allows buffers of at most ${this.maxBufferSize} bytes`);
    }
    const key = `${usage}:${size}`;
    let buffer = this.free.get(key)?.pop();
    if (!buffer) {
      buffer = this.device.createBuffer({ size, usage, label });
      this.held += size;
      this.created++;
    }
    this.inUse.add(buffer);
    this.used += size;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.inUse.delete(buffer)) throw new Error('BufferPool.release: buffer is not in use (released twice?)');
    this.used -= buffer.size;
    const key = `${buffer.usage}:${buffer.size}`;
    const list = this.free.get(key);
    if (list) list.push(buffer);
    else this.free.set(key, [buffer]);
  }

  /** Destroys every buffer waiting for reuse and returns the bytes freed. */
  trim(): number {
    let freed = 0;
    for (const list of this.free.values()) {
      for (const buffer of list) {
        freed += buffer.size;
        buffer.destroy();
      }
    }
    this.free.clear();
    this.held -= freed;
    return freed;
  }

  stats(): PoolStats {
    return { buffersInUse: this.inUse.size, bytesInUse: this.used, bytesHeld: this.held };
  }
}
