// The sf.data namespace: Dataset pipelines, trainTestSplit and the file readers.

export { Dataset, fromTensorSlices, array, range, generator, type Slice, type HostArray, type SliceInput, type SliceStructure, type Sliced, type Batched } from './dataset.js';
export type { ResidentSource, ResidentColumn } from '../nn/training/resident.js';
export { trainTestSplit, type TrainTestSplitOptions } from './split.js';
export { readIdx, parseIdx, type IdxArray, type IdxType } from './idx.js';
export { readCsv, type CsvOptions, type CsvData, type CsvColumnType } from './csv.js';
export { decodePng, type DecodedImage } from './png.js';
export type { Source, SourceOptions } from './source.js';
