// The readers on real files: Debian's Fashion-MNIST IDX files, PNGs this test writes itself with
// every colour type and row filter, CSV text; and a clear error for every kind of bad input.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ready } from '../gpu/device.js';
import { data } from './index.js';

const fashion = '/usr/share/datasets/fashion-mnist';
let dir = '';

beforeAll(async () => {
  await ready();
  dir = await mkdtemp(join(tmpdir(), 'shaderflow-data-'));
});

// ---------------------------------------------------------------------------------------------
// IDX

function idxBytes(type: number, shape: number[], body: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  const view = new DataView(header.buffer);
  header[2] = type;
  header[3] = shape.length;
  shape.forEach((d, k) => view.setUint32(4 + 4 * k, d));
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

describe('readIdx', () => {
  it('reads the gzipped Fashion-MNIST files: counts, labels and pixels', async () => {
    const labels = await data.readIdx(`${fashion}/t10k-labels-idx1-ubyte.gz`);
    expect(labels.type).toBe('uint8');
    expect(labels.shape).toEqual([10000]);
    expect(Array.from(labels.data.subarray(0, 10))).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    const counts = new Array(10).fill(0);
    for (const l of labels.data) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));

    const images = await data.readIdx(`${fashion}/t10k-images-idx3-ubyte.gz`);
    expect(images.shape).toEqual([10000, 28, 28]);
    const row14 = Array.from(images.data.subarray(14 * 28, 15 * 28));
    expect(row14.slice(12, 16)).toEqual([98, 136, 110, 109]);
    const sum = (from: number) => Array.from(images.data.subarray(from, from + 784)).reduce((a, b) => a + b, 0);
    expect(sum(0)).toBe(33456);
    expect(sum(9999 * 784)).toBe(24390);

    const trainLabels = await data.readIdx(`${fashion}/train-labels-idx1-ubyte.gz`);
    expect(trainLabels.shape).toEqual([60000]);
    expect(Array.from(trainLabels.data.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
  });

  it('reads raw files and big-endian types from bytes', async () => {
    const raw = idxBytes(0x08, [2, 3], Uint8Array.from([1, 2, 3, 4, 5, 6]));
    const path = join(dir, 'raw-idx1-ubyte');
    await writeFile(path, raw);
    const fromFile = await data.readIdx(path);
    expect(fromFile.shape).toEqual([2, 3]);
    expect(Array.from(fromFile.data)).toEqual([1, 2, 3, 4, 5, 6]);

    const body = new Uint8Array(12);
    const view = new DataView(body.buffer);
    [-5, 70000, 1 << 30].forEach((v, i) => view.setInt32(4 * i, v));
    const ints = await data.readIdx(idxBytes(0x0c, [3], body));
    expect(ints.type).toBe('int32');
    expect(Array.from(ints.data)).toEqual([-5, 70000, 1 << 30]);
    const floats = new Uint8Array(8);
    new DataView(floats.buffer).setFloat32(0, 1.5);
    new DataView(floats.buffer).setFloat32(4, -2.25);
    expect(Array.from((await data.readIdx(idxBytes(0x0d, [2], floats))).data)).toEqual([1.5, -2.25]);
    expect(Array.from((await data.readIdx(gzipSync(raw))).data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('names the file and the problem: wrong magic, truncated data, corrupt gzip, missing file', async () => {
    const bad = join(dir, 'not-idx.gz');
    await writeFile(bad, gzipSync(Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0])));
    await expect(data.readIdx(bad)).rejects.toThrow(new RegExp(`${bad}: not an IDX file: wrong magic number 0x12345678`));

    const truncated = join(dir, 'truncated-idx3-ubyte');
    await writeFile(truncated, idxBytes(0x08, [2, 28, 28], new Uint8Array(1000)));
    await expect(data.readIdx(truncated)).rejects.toThrow(new RegExp(`${truncated}: truncated IDX data: shape \\[2,28,28\\] of uint8 needs 1584 bytes, the file has 1016`));

    const gz = gzipSync(idxBytes(0x08, [100], new Uint8Array(100).fill(7)));
    const cut = join(dir, 'cut.gz');
    await writeFile(cut, gz.subarray(0, gz.length - 10));
    await expect(data.readIdx(cut)).rejects.toThrow(new RegExp(`${cut}: corrupt gzip stream`));
    const flipped = Uint8Array.from(gz);
    flipped[12] ^= 0xff;
    flipped[14] ^= 0x5a;
    await expect(data.readIdx(flipped, { name: 'labels.gz' })).rejects.toThrow(/labels\.gz: corrupt gzip stream/);

    await expect(data.readIdx(join(dir, 'absent.gz'))).rejects.toThrow(/absent\.gz: no such file/);
    await expect(data.readIdx(Uint8Array.from([0, 0]))).rejects.toThrow(/the given bytes: not an IDX file/);
  });
});

// ---------------------------------------------------------------------------------------------
// PNG: a small encoder, so the suite writes every colour type with every row filter.

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

interface PngSpec {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  /** Samples per pixel as stored (palette: one index). */
  samples: Uint8Array;
  /** The filter of each row, cycling. */
  filters: number[];
  palette?: number[][];
  transparency?: number[];
  extraChunks?: Uint8Array[];
}

/** Encodes an 8-bit PNG, filtering row r with filters[r % filters.length]. */
function encodePng(spec: PngSpec): Uint8Array {
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[spec.colorType];
  const stride = spec.width * channels;
  const raw = new Uint8Array(spec.height * (stride + 1));
  for (let r = 0; r < spec.height; r++) {
    const filter = spec.filters[r % spec.filters.length];
    raw[r * (stride + 1)] = filter;
    for (let i = 0; i < stride; i++) {
      const x = spec.samples[r * stride + i];
      const a = i >= channels ? spec.samples[r * stride + i - channels] : 0;
      const b = r > 0 ? spec.samples[(r - 1) * stride + i] : 0;
      const c = r > 0 && i >= channels ? spec.samples[(r - 1) * stride + i - channels] : 0;
      const predicted = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter];
      raw[r * (stride + 1) + 1 + i] = (x - predicted) & 0xff;
    }
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, spec.width);
  view.setUint32(4, spec.height);
  ihdr[8] = 8;
  ihdr[9] = spec.colorType;
  const parts = [Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  parts.push(chunk('tEXt', new TextEncoder().encode('Comment\0written by the shaderflow tests')));
  parts.push(...(spec.extraChunks ?? []));
  if (spec.palette) parts.push(chunk('PLTE', Uint8Array.from(spec.palette.flat())));
  if (spec.transparency) parts.push(chunk('tRNS', Uint8Array.from(spec.transparency)));
  const compressed = deflateSync(raw);
  // Two IDAT chunks: decoders must join them.
  const half = compressed.length >> 1;
  parts.push(chunk('IDAT', compressed.subarray(0, half)), chunk('IDAT', compressed.subarray(half)));
  parts.push(chunk('IEND', new Uint8Array(0)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 37 + seed * 101 + ((i * i) >> 3)) & 0xff);
}

describe('decodePng', () => {
  const width = 7;
  const height = 6;
  for (const [colorType, channels] of [[0, 1], [2, 3], [4, 2], [6, 4]] as const) {
    for (const filter of [0, 1, 2, 3, 4]) {
      it(`round-trips colour type ${colorType} with filter ${filter}`, async () => {
        const samples = pattern(width * height * channels, colorType * 5 + filter);
        const png = encodePng({ width, height, colorType, samples, filters: [filter, (filter + 2) % 5] });
        const image = await data.decodePng(png);
        expect(image.shape).toEqual([height, width, channels]);
        expect(image.channels).toBe(channels);
        expect(Array.from(image.data)).toEqual(Array.from(samples));
      });
    }
  }

  it('expands palettes to RGB, and to RGBA with a tRNS chunk; skips unknown ancillary chunks', async () => {
    const palette = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 8, 7]];
    const indices = Uint8Array.from({ length: width * height }, (_, i) => i % 4);
    const rgb = await data.decodePng(encodePng({ width, height, colorType: 3, samples: indices, filters: [0, 1, 2, 3, 4], palette, extraChunks: [chunk('zzTp', Uint8Array.from([1, 2, 3]))] }));
    expect(rgb.shape).toEqual([height, width, 3]);
    expect(Array.from(rgb.data.subarray(0, 12))).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7]);
    const rgba = await data.decodePng(encodePng({ width, height, colorType: 3, samples: indices, filters: [4], palette, transparency: [0, 128] }));
    expect(rgba.shape).toEqual([height, width, 4]);
    expect(Array.from(rgba.data.subarray(0, 16))).toEqual([255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255, 9, 8, 7, 255]);
  });

  it('reads from a path and feeds fromTensorSlices', async () => {
    const samples = pattern(width * height, 3);
    const path = join(dir, 'grey.png');
    await writeFile(path, encodePng({ width, height, colorType: 0, samples, filters: [4] }));
    const image = await data.decodePng(path);
    const [batch] = await data.fromTensorSlices(image).batch(height).toArray();
    expect(batch.shape).toEqual([height, width, 1]);
    expect(Array.from(await batch.data())).toEqual(Array.from(samples));
    batch.dispose();
  });

  it('names the file and the problem: bad CRC, truncated IDAT, not a PNG, corrupt data', async () => {
    const good = encodePng({ width, height, colorType: 2, samples: pattern(width * height * 3, 1), filters: [1] });
    const path = join(dir, 'bad-crc.png');
    const badCrc = Uint8Array.from(good);
    badCrc[33 + 20] ^= 1; // a byte inside the tEXt chunk after IHDR
    await writeFile(path, badCrc);
    await expect(data.decodePng(path)).rejects.toThrow(new RegExp(`${path}: bad CRC in the tEXt chunk at byte 33`));

    const idat = Buffer.from(good).indexOf('IDAT') - 4;
    await expect(data.decodePng(good.subarray(0, idat + 15), { name: 'cut.png' })).rejects.toThrow(/cut\.png: truncated PNG: the IDAT chunk at byte \d+ needs \d+ data bytes, only 3 remain/);
    await expect(data.decodePng(good.subarray(0, good.length - 12), { name: 'no-end.png' })).rejects.toThrow(/no-end\.png: truncated PNG: no IEND chunk/);
    await expect(data.decodePng(new TextEncoder().encode('GIF89a......'), { name: 'x.gif' })).rejects.toThrow(/x\.gif: not a PNG file/);

    // Valid chunks around a zlib stream cut in half: the image data itself is truncated.
    const raw = encodePng({ width, height, colorType: 0, samples: pattern(width * height, 2), filters: [0] });
    const ihdrEnd = 8 + 25;
    const full = deflateSync(new Uint8Array(height * (width + 1)).fill(3));
    const shortIdat = concat(raw.subarray(0, ihdrEnd), chunk('IDAT', full.subarray(0, full.length >> 1)), chunk('IEND', new Uint8Array(0)));
    await expect(data.decodePng(shortIdat, { name: 'short.png' })).rejects.toThrow(/short\.png: .*(corrupt|truncated)/i);
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// CSV

describe('readCsv', () => {
  it('reads a header, a category label column, quoted fields and CRLF', async () => {
    const text = 'a,b,"note, with comma",kind\r\n1,2,"say ""hi""",cat\r\n3,4.5,x,dog\r\n\r\n-1,1e3,y,cat\r\n';
    const csv = await data.readCsv(text, { labelColumn: 'kind', columnTypes: { 'note, with comma': 'skip' } });
    expect(csv.featureNames).toEqual(['a', 'b']);
    expect(csv.classNames).toEqual(['cat', 'dog']);
    expect(csv.x.shape).toEqual([3, 2]);
    expect(Array.from(await csv.x.data())).toEqual([1, 2, 3, 4.5, -1, 1000]);
    expect(csv.y!.dtype).toBe('int32');
    expect(Array.from(await csv.y!.data())).toEqual([0, 1, 0]);
    csv.x.dispose();
    csv.y!.dispose();
  });

  it('reads files without a header, numeric labels by index, and category features', async () => {
    const path = join(dir, 'plain.csv');
    await writeFile(path, '0.5,red,1\n1.5,blue,0\n2.5,red,1\n');
    const csv = await data.readCsv(path, { header: false, labelColumn: 2, columnTypes: { 1: 'category' } });
    expect(csv.categories).toEqual({ '1': ['red', 'blue'] });
    expect(Array.from(await csv.x.data())).toEqual([0.5, 0, 1.5, 1, 2.5, 0]);
    expect(csv.y!.dtype).toBe('int32');
    expect(Array.from(await csv.y!.data())).toEqual([1, 0, 1]);
    csv.x.dispose();
    csv.y!.dispose();
  });

  it('names the file, line and column of ragged rows and cells that are not numbers', async () => {
    const path = join(dir, 'ragged.csv');
    await writeFile(path, 'a,b,c\n1,2,3\n4,5\n');
    await expect(data.readCsv(path)).rejects.toThrow(new RegExp(`${path}: line 3 has 2 fields, but the header has 3`));
    await expect(data.readCsv('a,b\n1,2\n3,oops\n', { name: 'cells.csv' })).rejects.toThrow(/cells\.csv: line 3, column 'b' \(2\): "oops" is not a number/);
    await expect(data.readCsv('a,b\n1,\n', { name: 'empty.csv' })).rejects.toThrow(/empty\.csv: line 2, column 'b' \(2\): "" is not a number/);
    await expect(data.readCsv('a,b\n1,2\n', { labelColumn: 'c' })).rejects.toThrow(/labelColumn "c" is not a column \(columns: a, b\)/);
    await expect(data.readCsv('a,"b\n1,2\n')).rejects.toThrow(/line 1: a quoted field is never closed/);
    await expect(data.readCsv('a,b\n', { name: 'header-only.csv' })).rejects.toThrow(/header-only\.csv: no data rows/);
    await expect(data.readCsv(join(dir, 'missing.csv'))).rejects.toThrow(/missing\.csv: no such file/);
  });
});
