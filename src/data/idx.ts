// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian
// header (two zero bytes, a type code, the rank, one u32 per dimension) and the values. Gzip
// or raw; the same code in Node and the browser.

import { gunzip, isGzip, readBytes, sourceName, type Source, type SourceOptions } from './source.js';

export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** An IDX array: values in row-major order (Uint8Array for bytes, as stored), its shape and type. */
export interface IdxArray {
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
  shape: number[];
  type: IdxType;
}

const types: Record<number, { type: IdxType; bytes: number }> = {
  0x08: { type: 'uint8', bytes: 1 },
  0x09: { type: 'int8', bytes: 1 },
  0x0b: { type: 'int16', bytes: 2 },
  0x0c: { type: 'int32', bytes: 4 },
  0x0d: { type: 'float32', bytes: 4 },
  0x0e: { type: 'float64', bytes: 8 },
};

/**
 * Reads an IDX file (gzipped or raw) from bytes, a path (Node) or a URL. Errors name the file
 * and the problem: a wrong magic number, truncated data, a corrupt gzip stream.
 */
export async function readIdx(source: Source, options: SourceOptions = {}): Promise<IdxArray> {
  const name = sourceName(source, options);
  let bytes = await readBytes(source, name);
  if (isGzip(bytes)) bytes = await gunzip(bytes, name);
  return parseIdx(bytes, name);
}

/** Parses the bytes of an uncompressed IDX file. */
export function parseIdx(bytes: Uint8Array, name = 'the given bytes'): IdxArray {
  if (bytes.length < 4) throw new Error(`${name}: not an IDX file: ${bytes.length} bytes, shorter than the 4-byte magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const info = types[bytes[2]];
  if (bytes[0] !== 0 || bytes[1] !== 0 || !info) {
    throw new Error(`${name}: not an IDX file: wrong magic number 0x${magic.toString(16).padStart(8, '0')} (expected 0x0000TTRR: type 08, 09, 0B, 0C, 0D or 0E, then the rank)`);
  }
  const rank = bytes[3];
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new Error(`${name}: truncated IDX header: rank ${rank} needs ${headerBytes} bytes, the file has ${bytes.length}`);
  const shape: number[] = [];
  for (let k = 0; k < rank; k++) shape.push(view.getUint32(4 + 4 * k));
  const count = shape.reduce((a, d) => a * d, 1);
  const expected = headerBytes + count * info.bytes;
  if (bytes.length < expected) {
    throw new Error(`${name}: truncated IDX data: shape [${shape}] of ${info.type} needs ${expected} bytes, the file has ${bytes.length}`);
  }
  if (bytes.length > expected) {
    throw new Error(`${name}: ${bytes.length - expected} unexpected bytes after the IDX data (shape [${shape}] of ${info.type} ends at byte ${expected})`);
  }
  const body = bytes.subarray(headerBytes, expected);
  switch (info.type) {
    case 'uint8':
      return { data: body, shape, type: info.type };
    case 'int8':
      return { data: new Int8Array(body.buffer, body.byteOffset, count), shape, type: info.type };
    default: {
      // Big-endian on disk; decode element by element into native order.
      const out = info.type === 'int16' ? new Int16Array(count) : info.type === 'int32' ? new Int32Array(count) : info.type === 'float32' ? new Float32Array(count) : new Float64Array(count);
      const read = {
        int16: (o: number) => view.getInt16(o),
        int32: (o: number) => view.getInt32(o),
        float32: (o: number) => view.getFloat32(o),
        float64: (o: number) => view.getFloat64(o),
      }[info.type];
      for (let i = 0; i < count; i++) out[i] = read(headerBytes + i * info.bytes);
      return { data: out, shape, type: info.type };
    }
  }
}
