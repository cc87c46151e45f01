// PNG decoding through fast-png (pure JS, Node and browser alike, checks chunk CRCs on request),
// normalised to 8-bit channels: greyscale, grey + alpha, RGB, RGBA; palettes expanded.

import { convertIndexedToRgb, decode, type DecodedPng } from 'fast-png';
import { message, readBytes, sourceName, type Source, type SourceOptions } from './source.js';

/** A decoded image: 8-bit channels in row-major HWC order, ready for fromTensorSlices or sf.tensor. */
export interface DecodedImage {
  /** height · width · channels bytes. */
  data: Uint8Array;
  /** [height, width, channels]. */
  shape: [number, number, number];
  /** The dtype the pixels become in a Tensor. */
  dtype: 'float32';
  width: number;
  height: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA (palette images: 3, or 4 with a tRNS chunk). */
  channels: number;
}

const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Decodes a PNG from bytes, a path (Node) or a URL: every colour type, bit depth, row filter
 * and interlacing; ancillary chunks are skipped; CRCs are verified. 16-bit channels keep their
 * high byte, 1/2/4-bit grey is scaled to 0..255. Errors name the file and the problem.
 */
export async function decodePng(source: Source, options: SourceOptions = {}): Promise<DecodedImage> {
  const name = sourceName(source, options);
  const bytes = await readBytes(source, name);
  if (bytes.length < 8 || signature.some((b, i) => bytes[i] !== b)) throw new Error(`${name}: not a PNG file (the 8-byte PNG signature is missing)`);
  checkChunks(bytes, name);
  let png: DecodedPng;
  try {
    png = decode(bytes, { checkCrc: true });
  } catch (e) {
    throw new Error(`${name}: corrupt PNG (${message(e)})`);
  }
  return normalise(png, name);
}

/**
 * Walks the chunk list first so that a file cut short, a bad CRC or missing image data get a
 * precise message (which chunk, where) instead of a decoder's generic one.
 */
function checkChunks(bytes: Uint8Array, name: string): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  let sawData = false;
  while (at < bytes.length) {
    if (at + 8 > bytes.length) throw new Error(`${name}: truncated PNG: a chunk header at byte ${at} is cut short`);
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (!/^[A-Za-z]{4}$/.test(type)) throw new Error(`${name}: corrupt PNG: invalid chunk type at byte ${at + 4}`);
    const end = at + 12 + length;
    if (end > bytes.length) throw new Error(`${name}: truncated PNG: the ${type} chunk at byte ${at} needs ${length} data bytes, only ${Math.max(0, bytes.length - at - 12)} remain`);
    const expected = crc32(bytes, at + 4, at + 8 + length);
    const stored = view.getUint32(at + 8 + length);
    if (expected !== stored) throw new Error(`${name}: bad CRC in the ${type} chunk at byte ${at} (stored 0x${stored.toString(16)}, computed 0x${expected.toString(16)})`);
    if (type === 'IDAT') sawData = true;
    if (type === 'IEND') return;
    at = end;
  }
  throw new Error(`${name}: truncated PNG: no IEND chunk${sawData ? ' (the image data may be cut short)' : ' and no image data (IDAT)'}`);
}

let crcTable: Uint32Array | null = null;

function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function normalise(png: DecodedPng, name: string): DecodedImage {
  const { width, height, depth } = png;
  const pixels = width * height;
  let channels = png.channels;
  let data: Uint8Array;
  if (png.palette) {
    data = convertIndexedToRgb(png);
    channels = png.palette[0].length;
  } else if (depth === 16) {
    const wide = png.data as Uint16Array;
    data = new Uint8Array(wide.length);
    for (let i = 0; i < wide.length; i++) data[i] = wide[i] >>> 8;
  } else if (depth < 8) {
    // fast-png leaves sub-byte grey packed, each row starting on a byte boundary.
    const packed = png.data as Uint8Array;
    const rowBytes = Math.ceil((width * depth) / 8);
    const scale = 255 / ((1 << depth) - 1);
    data = new Uint8Array(pixels);
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const bit = c * depth;
        const byte = packed[r * rowBytes + (bit >> 3)];
        data[r * width + c] = Math.round(((byte >> (8 - depth - (bit & 7))) & ((1 << depth) - 1)) * scale);
      }
    }
  } else {
    data = png.data as Uint8Array;
  }
  if (data.length !== pixels * channels) {
    throw new Error(`${name}: corrupt PNG: decoded ${data.length} bytes for ${width}x${height}x${channels} (${pixels * channels} expected); the image data may be truncated`);
  }
  return { data, shape: [height, width, channels], dtype: 'float32', width, height, channels };
}
