// The GPU-resident description of a Dataset (residentSource()): its source columns concatenated
// on the host, and an index pipeline that mirrors its verbs to yield each batch's row indices.

import type { ResidentColumn, ResidentSource } from '../nn/training/resident.js';
import { cacheGen, concatGen, iterate, repeatGen, shuffleGen, skipGen, takeGen, type Make, type Node } from './pipeline.js';
import { assemble, sameTemplate, type HostData } from './slices.js';

export async function resident(dataset: { readonly node: Node; readonly size: number | null }): Promise<ResidentSource | null> {
  const sources: Array<Extract<Node, { kind: 'source' }>> = [];
  const offsets = new Map<Node, number>();
  let rows = 0;
  let batch: { size: number; dropRemainder: boolean } | null = null;
  const maps: Array<(element: unknown) => unknown> = [];

  // Builds the index pipeline mirroring `node`; null when the node cannot be resident.
  // `afterBatch`: `node` lies downstream of the batch (the walk starts at the end of the pipeline).
  const build = (node: Node, afterBatch: boolean): Make<unknown> | null => {
    switch (node.kind) {
      case 'source': {
        if (!offsets.has(node)) {
          offsets.set(node, rows);
          rows += node.columns[0].rows;
          sources.push(node);
        }
        const offset = offsets.get(node)!;
        const n = node.columns[0].rows;
        return async function* () {
          for (let i = 0; i < n; i++) yield offset + i;
        };
      }
      case 'batch': {
        if (!afterBatch || batch) return null; // a batch of batches is not one gather
        batch = { size: node.size, dropRemainder: node.dropRemainder };
        const up = build(node.up, false);
        if (!up) return null;
        const { size, dropRemainder } = node;
        return async function* () {
          let group: number[] = [];
          for await (const i of iterate(up)) {
            group.push(i as number);
            if (group.length === size) {
              yield Int32Array.from(group);
              group = [];
            }
          }
          if (group.length > 0 && !dropRemainder) yield Int32Array.from(group);
        };
      }
      case 'map': {
        if (!afterBatch) return null; // a map before batch sees host Slices: not resident
        maps.unshift(node.fn);
        return build(node.up, afterBatch);
      }
      case 'shuffle': {
        const up = build(node.up, afterBatch);
        const { bufferSize, state } = node;
        return up && (() => shuffleGen(up, bufferSize, state));
      }
      case 'repeat': {
        const up = build(node.up, afterBatch);
        const { count } = node;
        return up && (() => repeatGen(up, count));
      }
      case 'take': {
        const up = build(node.up, afterBatch);
        const count = node.count < 0 ? Infinity : node.count;
        return up && (() => takeGen(up, count));
      }
      case 'skip': {
        const up = build(node.up, afterBatch);
        const { count } = node;
        return up && (() => skipGen(up, count));
      }
      case 'concatenate': {
        if (afterBatch) return null; // concatenated batches: each side would need its own batch size
        const a = build(node.up, afterBatch);
        const b = build(node.other, afterBatch);
        return a && b && (() => concatGen(a, b));
      }
      case 'prefetch':
        return build(node.up, afterBatch);
      case 'cache': {
        const up = build(node.up, afterBatch);
        return up && cacheGen(up);
      }
      default:
        return null;
    }
  };

  const top = build(dataset.node, true);
  const found = batch as { size: number; dropRemainder: boolean } | null;
  if (!top || !found || sources.length === 0) return null;

  // Every source must have the structure, shapes and dtypes of the first.
  const first = sources[0];
  for (const s of sources.slice(1)) {
    if (!sameTemplate(s.template, first.template) || s.columns.length !== first.columns.length) return null;
    const same = s.columns.every((c, k) => {
      const f = first.columns[k];
      return c.dtype === f.dtype && c.shape.length === f.shape.length && c.shape.every((d, i) => d === f.shape[i]);
    });
    if (!same) return null;
  }

  const columns: ResidentColumn[] = [];
  for (let k = 0; k < first.columns.length; k++) {
    const parts = await Promise.all(sources.map((s) => s.columns[k].load()));
    const f = first.columns[k];
    let data: HostData;
    if (parts.length === 1) data = parts[0];
    else {
      const allBytes = parts.every((p) => p instanceof Uint8Array);
      const total = parts.reduce((n, p) => n + p.length, 0);
      data = allBytes ? new Uint8Array(total) : f.dtype === 'int32' ? new Int32Array(total) : new Float32Array(total);
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.length;
      }
    }
    const column: ResidentColumn = { path: f.path, data, shape: [rows, ...f.shape], dtype: f.dtype };
    if (sources.length === 1 && f.tensor) column.tensor = f.tensor;
    columns.push(column);
  }

  const template = first.template;
  return {
    columns,
    rows,
    batchSize: found.size,
    dropRemainder: found.dropRemainder,
    size: dataset.size,
    assemble: (leaves) => assemble(template, leaves),
    maps,
    indexBatches: () => iterate(top) as AsyncIterableIterator<Int32Array>,
  };
}
