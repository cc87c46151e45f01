// src/data's public face: `sf.data` (pipelines, split, readers) and `sf.datasets` (built-ins).

export * as data from './api.js';
export * as datasets from './datasets.js';
