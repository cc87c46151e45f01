// Per-adapter kernel choice: the first time a plan meets a tunable kernel (src/shaders/variants.ts)
// of a shape the adapter has no choice for, it times every variant on the plan's own buffers and
// keeps the fastest; choices persist by adapter in a JSON file under the user's cache directory
// (Node) or in IndexedDB (browser), so a later process builds the chosen kernel directly.

import type { Kernel, TunedChoices, Tunable, Variant } from '../shaders/kernel.js';
import { type BindContext, bindKernel } from './bind.js';

/** What timing needs of the runtime (src/gpu/runtime.ts). */
export interface TimingContext extends BindContext {
  encode(encode: (encoder: GPUCommandEncoder) => void, name: string): void;
  flush(): Promise<void>;
  untilLost<T>(promise: Promise<T>): Promise<T>;
  release(buffer: GPUBuffer): void;
  read(source: GPUBuffer, byteLength: number): Promise<ArrayBuffer>;
}

/**
 * One dispatch of a plan as in-place tuning sees it: the kernel it runs now, its bindings, its
 * variants where it has any, and whether it writes memory from outside the plan (an optimizer
 * update, a metrics accumulator), which tuning runs must leave alone.
 */
export interface PlacedDispatch {
  readonly kernel: Kernel;
  readonly bindings: readonly GPUBufferBinding[];
  readonly tuning?: Tunable;
  readonly writesOutside: boolean;
}

/**
 * 'tune': time the variants of each new shape, then use the choice; 'cached': use choices made
 * before, time nothing; 'off': the built-in choice always.
 */
export type AutotuneMode = 'tune' | 'cached' | 'off';

/** One choice: the variant kept and the milliseconds per dispatch each variant took. */
export interface TunedChoice {
  readonly variant: Variant;
  readonly timings: readonly { readonly variant: Variant; readonly ms: number }[];
}

/** Choices by tuning key, for one adapter. */
export type TunedTable = Record<string, TunedChoice>;

/** Where the choices of every adapter are kept between processes. */
export interface TuningStore {
  readonly where: string;
  load(adapter: string): Promise<TunedTable>;
  save(adapter: string, table: TunedTable): Promise<void>;
}

const isNode = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** $SHADERFLOW_CACHE_DIR, else $XDG_CACHE_HOME/shaderflow, else ~/.cache/shaderflow. */
function nodeCacheDir(): string {
  const env = process.env;
  if (env.SHADERFLOW_CACHE_DIR) return env.SHADERFLOW_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || `${env.HOME || env.USERPROFILE || '.'}/.cache`;
  return `${base}/shaderflow`;
}

/** tuning.json in the cache directory: { [adapter]: { [key]: choice } }, written whole. */
function fileStore(): TuningStore {
  const path = `${nodeCacheDir()}/tuning.json`;
  const fsName = 'node:fs/promises'; // a variable, so browser bundlers leave it alone
  const readAll = async (): Promise<Record<string, TunedTable>> => {
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    try {
      const all = JSON.parse(await fs.readFile(path, 'utf8')) as unknown;
      return typeof all === 'object' && all !== null && !Array.isArray(all) ? (all as Record<string, TunedTable>) : {};
    } catch {
      return {}; // absent or unreadable: tuning starts afresh and rewrites it
    }
  };
  return {
    where: path,
    load: async (adapter) => (await readAll())[adapter] ?? {},
    async save(adapter, table) {
      const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
      const all = { ...(await readAll()), [adapter]: table };
      await fs.mkdir(nodeCacheDir(), { recursive: true });
      // Another process may be saving too: write a file of our own, then rename it into place.
      const temp = `${path}.${process.pid}.tmp`;
      await fs.writeFile(temp, `${JSON.stringify(all, null, 1)}\n`);
      await fs.rename(temp, path);
    },
  };
}

/** The 'tuning' object store of IndexedDB database 'shaderflow', one record per adapter. */
function indexedDbStore(): TuningStore {
  const open = (): Promise<IDBDatabase> => new Promise((resolve, reject) => {
    const request = indexedDB.open('shaderflow', 1);
    request.onupgradeneeded = () => request.result.createObjectStore('tuning');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const run = async <T>(mode: IDBTransactionMode, use: (store: IDBObjectStore) => IDBRequest): Promise<T> => {
    const db = await open();
    try {
      return await new Promise<T>((resolve, reject) => {
        const request = use(db.transaction('tuning', mode).objectStore('tuning'));
        request.onsuccess = () => resolve(request.result as T);
        request.onerror = () => reject(request.error);
      });
    } finally {
      db.close();
    }
  };
  return {
    where: 'IndexedDB shaderflow/tuning',
    load: async (adapter) => (await run<TunedTable | undefined>('readonly', (s) => s.get(adapter))) ?? {},
    save: async (adapter, table) => void (await run('readwrite', (s) => s.put(table, adapter))),
  };
}

/** A store that keeps nothing: where neither a file system nor IndexedDB is at hand. */
const memoryStore: TuningStore = { where: 'memory', load: async () => ({}), save: async () => undefined };

export function defaultStore(): TuningStore {
  if (isNode()) return fileStore();
  return typeof indexedDB !== 'undefined' ? indexedDbStore() : memoryStore;
}

/**
 * Milliseconds per dispatch of `kernel` on these bindings, from each of `trials` timed batches
 * after a compiling run. Its inputs stay in the caches, so this favours variants that a step, whose
 * data streams from memory, may not: plans time in place where they can.
 */
async function timeKernel(rt: TimingContext, kernel: Kernel, bindings: readonly GPUBufferBinding[]): Promise<number[]> {
  const { pipeline, bindGroup, uniformBuffer } = bindKernel(rt, kernel, bindings);
  const batch = async (reps: number): Promise<number> => {
    const start = performance.now();
    rt.encode((encoder) => {
      const pass = encoder.beginComputePass({ label: `${kernel.name} (autotune)` });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      for (let r = 0; r < reps; r++) pass.dispatchWorkgroups(...kernel.dispatch);
      pass.end();
    }, `${kernel.name} (autotune)`);
    await rt.flush();
    await rt.untilLost(rt.device.queue.onSubmittedWorkDone());
    return performance.now() - start;
  };
  try {
    await batch(1); // the first dispatch compiles the pipeline on CPU drivers
    const single = await batch(1);
    // Batches of about 20 ms, so submit overhead and timer resolution stay small.
    const reps = Math.max(1, Math.min(64, Math.round(20 / Math.max(single, 0.01))));
    const samples: number[] = [];
    for (let trial = 0; trial < trials; trial++) samples.push((await batch(reps)) / reps);
    return samples;
  } finally {
    if (uniformBuffer) rt.release(uniformBuffer);
  }
}

/** A variant replaces the built-in kernel only if its best time is under this share of the built-in's. */
const margin = 0.9;

/** Timings per variant: the least noisy (fastest) is kept, the spread decides whether a win is real. */
const trials = 3;

/** The choices of the runtime's adapter: read at device start, extended by tuning, saved after it. */
export class Tuning implements TunedChoices {
  /** Variants timed so far in this process (tests and benchmarks read it). */
  timed = 0;

  constructor(
    readonly adapter: string,
    public mode: AutotuneMode,
    private readonly table: TunedTable,
    readonly store: TuningStore,
  ) {}

  static async load(adapter: string, mode: AutotuneMode, store = defaultStore()): Promise<Tuning> {
    let table: TunedTable = {};
    try {
      table = await store.load(adapter);
    } catch {
      table = {}; // a broken store only costs the choices
    }
    return new Tuning(adapter, mode, table, store);
  }

  chosen(key: string): Variant | undefined {
    return this.mode === 'off' ? undefined : this.table[key]?.variant;
  }

  /** Every choice made for this adapter, by tuning key. */
  get choices(): Readonly<TunedTable> {
    return this.table;
  }

  /** The kernel to run for `tuning`: the chosen variant's where a choice exists, else undefined. */
  kernelFor(tuning: Tunable): Kernel | undefined {
    const variant = this.chosen(tuning.key);
    return variant ? tuning.build(variant) : undefined;
  }

  /** Whether a plan should time `tuning`'s variants now. */
  needs(tuning: Tunable): boolean {
    return this.mode === 'tune' && !(tuning.key in this.table);
  }

  /** Tuning in progress: plans compiling at once take turns, so no timing runs beside another. */
  private turn: Promise<unknown> = Promise.resolve();

  /** Runs `fn` when no other tuning runs (plans compiling at once take turns), then saves what it chose. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.turn.then(async () => {
      const before = Object.keys(this.table).length;
      const value = await fn();
      if (Object.keys(this.table).length > before) await this.save();
      return value;
    });
    this.turn = result.catch(() => undefined);
    return result;
  }

  /**
   * Keeps the fastest variant of `key` given each one's timings in milliseconds (the built-in,
   * variant 0, first), unless its win is too small or too unsteady to trust: a variant must be
   * faster than the built-in in every trial, and its best time under `margin` of the
   * built-in's. Tiny kernels time within the timer's resolution of one another, and a choice
   * should not flip with the machine's load.
   */
  record(key: string, samples: readonly { variant: Variant; ms: readonly number[] }[]): Variant {
    this.timed += samples.length;
    const timings = samples.map(({ variant, ms }) => ({ variant, ms: Math.min(...ms), worst: Math.max(...ms) }));
    const builtIn = timings[0];
    const wins = timings.filter((t) => t.worst < builtIn.ms && t.ms < margin * builtIn.ms);
    const best = wins.reduce((a, b) => (b.ms < a.ms ? b : a), builtIn);
    this.table[key] = { variant: best.variant, timings: timings.map(({ variant, ms }) => ({ variant, ms })) };
    return best.variant;
  }

  /**
   * Times, in place, the variants of every kernel of a plan's `dispatches` that has no choice
   * yet: the plan runs once per variant index, each such dispatch taking its variant of that
   * index (or its built-in one past its last), with a GPU timestamp around each, `trials`
   * times over. Dispatches that write outside the plan are left out, so running before
   * the plan's first real run changes nothing anyone sees. Without timestamp queries each
   * variant is timed alone (timeAlone). Call inside exclusive().
   */
  async tuneInPlace(rt: TimingContext, dispatches: readonly PlacedDispatch[]): Promise<void> {
    const todo = new Map<number, { tuning: Tunable; variants: readonly { variant: Variant; kernel: Kernel }[]; ms: number[][] }>();
    dispatches.forEach((d, i) => {
      if (!d.tuning || !this.needs(d.tuning) || d.kernel.dispatch.some((n) => n === 0)) return;
      if ([...todo.values()].some((t) => t.tuning.key === d.tuning!.key)) return; // the same shape twice: once is enough
      const variants = d.tuning.variants();
      todo.set(i, { tuning: d.tuning, variants, ms: variants.map(() => []) });
    });
    if (todo.size === 0) return;
    if (!rt.device.features.has('timestamp-query')) {
      for (const [i, t] of todo) await this.timeAlone(rt, t.tuning, dispatches[i].bindings);
      return;
    }
    await Promise.all([...todo.values()].flatMap((t) => t.variants.map((v) => rt.pipelines.compile(v.kernel))));
    const uniforms: GPUBuffer[] = [];
    const bind = (kernel: Kernel, bindings: readonly GPUBufferBinding[]) => {
      const bound = bindKernel(rt, kernel, bindings);
      if (bound.uniformBuffer) uniforms.push(bound.uniformBuffer);
      return { ...bound, kernel };
    };
    const rounds = Math.max(...[...todo.values()].map((t) => t.variants.length));
    const base = dispatches.map((d) => (d.writesOutside ? null : bind(d.kernel, d.bindings)));
    const variant = new Map<string, ReturnType<typeof bind>>();
    for (const [i, t] of todo) t.variants.forEach((v, r) => variant.set(`${i} ${r}`, r === 0 && v.kernel === dispatches[i].kernel ? base[i]! : bind(v.kernel, dispatches[i].bindings)));
    const querySet = rt.device.createQuerySet({ type: 'timestamp', count: 2 * todo.size });
    const resolved = rt.device.createBuffer({ size: 16 * todo.size, usage: 0x0200 /* QUERY_RESOLVE */ | 0x0004 /* COPY_SRC */ });
    try {
      for (let trial = 0; trial < trials; trial++) {
        for (let r = 0; r < rounds; r++) {
          const timed: [index: number, round: number][] = [];
          rt.encode((encoder) => {
            dispatches.forEach((_, i) => {
              const t = todo.get(i);
              const mine = t && r < t.variants.length;
              const d = mine ? variant.get(`${i} ${r}`)! : t ? variant.get(`${i} 0`)! : base[i];
              if (!d) return;
              const at = timed.length;
              if (mine) timed.push([i, r]);
              const pass = encoder.beginComputePass(mine ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * at, endOfPassWriteIndex: 2 * at + 1 } } : {});
              if (d.kernel.dispatch.every((n) => n > 0)) {
                pass.setPipeline(d.pipeline);
                pass.setBindGroup(0, d.bindGroup);
                pass.dispatchWorkgroups(...d.kernel.dispatch);
              }
              pass.end();
            });
            encoder.resolveQuerySet(querySet, 0, 2 * timed.length, resolved, 0);
          }, 'autotune');
          const times = new BigUint64Array(await rt.read(resolved, 16 * timed.length));
          timed.forEach(([i, round], k) => {
            const t = todo.get(i)!;
            t.ms[round].push(Number(times[2 * k + 1] - times[2 * k]) / 1e6);
          });
        }
      }
    } finally {
      querySet.destroy();
      resolved.destroy();
      for (const buffer of uniforms) rt.release(buffer);
    }
    for (const t of todo.values()) this.record(t.tuning.key, t.variants.map((v, r) => ({ variant: v.variant, ms: t.ms[r] })));
  }

  /**
   * Times each variant alone, dispatched again and again on `bindings`: for adapters without
   * timestamp queries, where a plan cannot time its kernels in place.
   */
  async timeAlone(rt: TimingContext, tuning: Tunable, bindings: readonly GPUBufferBinding[]): Promise<void> {
    const samples: { variant: Variant; ms: number[] }[] = [];
    for (const { variant, kernel } of tuning.variants()) {
      await rt.pipelines.compile(kernel);
      samples.push({ variant, ms: await timeKernel(rt, kernel, bindings) });
    }
    this.record(tuning.key, samples);
  }

  /** Writes the choices to the store; a store that fails costs only the persistence. */
  async save(): Promise<void> {
    try {
      await this.store.save(this.adapter, this.table);
    } catch {
      // read-only cache directory or blocked IndexedDB: choices last for this process only
    }
  }
}
