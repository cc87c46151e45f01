// What the GPU-resident path of fit needs from a dataset: its columns, uploaded once, and each
// batch's row indices. src/nn defines it; src/data's Dataset implements it (residentSource()), so
// nn never imports the data layer.

import { runtime } from '../../gpu/device.js';
import { packBytes } from '../../shaders/data.js';
import { gatherAll, gatherBytes, type PackedBytes } from '../ops.js';
import { tensor, type Tensor } from '../tensor.js';
import { batchPair, type Feed } from './feed.js';
import { checkFinite } from './finite.js';
import type { BatchSource, Source } from './sources.js';
import type { TrainableModel } from './trainable.js';

/** One component of a resident source: all rows, concatenated over the sources. */
export interface ResidentColumn {
  /** Where the component sits in the element: '' for a lone x, '[0]', '.xs', ... */
  path: string;
  /** All rows, row-major; Uint8Array for byte data (pixels) that the GPU can unpack and scale. */
  data: Float32Array | Int32Array | Uint8Array;
  /** [rows, ...shape of one element]. */
  shape: number[];
  dtype: 'float32' | 'int32';
  /** The source Tensor when the column is exactly one Tensor: gather from it without uploading again. */
  tensor?: Tensor;
}

/** A dataset pipeline that only reorders and batches the rows it was made from. */
export interface ResidentSource {
  columns: ResidentColumn[];
  rows: number;
  batchSize: number;
  dropRemainder: boolean;
  /** Batches per iteration, as the Dataset's size. */
  size: number | null;
  /** Rebuilds an element of the source's structure from one value per column (the gathered batch Tensors). */
  assemble<L>(leaves: readonly L[]): unknown;
  /** The functions mapped after batch, to apply in order to each assembled batch. */
  maps: Array<(element: unknown) => unknown>;
  /** One iteration's row indices, one Int32Array per batch, in the order the Dataset yields them. */
  indexBatches(): AsyncIterableIterator<Int32Array>;
}

/** A batch source that can describe itself as resident (sf.data's Dataset). */
export interface Resident {
  residentSource(): Promise<ResidentSource | null>;
}

/**
 * The GPU-resident path for a Dataset that only reorders and batches tensors it was made from
 * (sf.data.fromTensorSlices(...).shuffle(...).batch(...), maps after batch): its columns are
 * uploaded once (uint8 pixels as packed bytes), each batch is the Dataset's own row indices,
 * gathered inside the compiled step, and maps after batch run there too. Null when the
 * pipeline cannot be resident or does not fit in the device's buffers.
 */
export async function residentDatasetSource(model: TrainableModel, purpose: 'train' | 'eval', data: BatchSource, where: string, verbose: number, checkInputs = false): Promise<Source | null> {
  if (typeof (data as Partial<Resident>).residentSource !== 'function') return null;
  const rs = await (data as unknown as Resident).residentSource();
  if (!rs || rs.columns.length !== 2) return null;
  const rt = runtime();
  const owned: Tensor[] = [];
  const columns: (Tensor | PackedBytes)[] = [];
  for (const column of rs.columns) {
    const bytes = column.data instanceof Uint8Array ? column.data.byteLength : column.data.length * 4;
    if (bytes > rt.pool.maxBufferSize) {
      for (const t of owned) t.dispose();
      return null;
    }
    if (column.tensor && !column.tensor.isDisposed) {
      columns.push(column.tensor);
    } else if (column.data instanceof Uint8Array) {
      const packed = packBytes(column.data);
      const words = tensor(new Int32Array(packed.buffer, 0, packed.length), [packed.length], 'int32');
      owned.push(words);
      columns.push({ words, rows: column.shape[0], rowShape: column.shape.slice(1) });
    } else {
      const t = tensor(column.data, column.shape, column.dtype);
      owned.push(t);
      columns.push(t);
    }
  }
  if (checkInputs) {
    try {
      for (const [k, column] of rs.columns.entries()) {
        const c = columns[k];
        if ('words' in c) continue; // bytes are always finite
        await checkFinite(c, where, `the dataset's ${column.path ? `component ${column.path}` : 'rows'}`);
      }
    } catch (e) {
      for (const t of owned) t.dispose();
      throw e;
    }
  }
  const id = owned.map((t) => t.id).join(',') || columns.map((c) => (c as Tensor).id).join(',');
  const feed: Feed = {
    key: `resident ${id}`,
    inputs: (indices) => {
      // The tensor columns in one dispatch; packed bytes unpack in their own.
      const tensors = columns.filter((c): c is Tensor => !('words' in c));
      const gathered = gatherAll(tensors, indices);
      let element = rs.assemble(columns.map((c) => ('words' in c ? gatherBytes(c, indices) : gathered[tensors.indexOf(c)])));
      for (const map of rs.maps) element = map(element);
      return batchPair(element, where);
    },
  };
  const step = model.step(purpose, feed);
  const spec = (size: number) => [{ shape: [size], dtype: 'int32' as const }];
  if (verbose >= 2) {
    const mb = columns.reduce((n, c) => n + ('words' in c ? c.words.size * 4 : c.size * 4), 0) / 2 ** 20;
    console.log(`${where}: the dataset is GPU-resident (${rs.rows} rows, ${mb.toFixed(1)} MiB uploaded once); each batch is gathered on the GPU`);
  }
  return {
    steps: rs.size,
    async prepare() {
      if (rs.rows > 0) await step.compile(spec(rs.batchSize)); // no rows, no batches: fit says so
    },
    async epoch(run) {
      let batches = 0;
      for await (const indices of rs.indexBatches()) {
        const planned = await step.compile(spec(indices.length));
        planned.run([indices]);
        batches++;
        if (!(await run(planned, indices.length))) break;
      }
      return batches;
    },
    dispose() {
      for (const t of owned) t.dispose();
    },
  };
}
