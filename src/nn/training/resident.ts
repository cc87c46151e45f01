// What the GPU-resident path of fit needs from a dataset: its columns, uploaded once, and each
// batch's row indices. src/nn defines it; src/data's Dataset implements it (residentSource()), so
// nn never imports the data layer.

import type { Tensor } from '../tensor.js';

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
