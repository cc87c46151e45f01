// Where file bytes come from: a Uint8Array or ArrayBuffer, a URL (fetch), or in Node a path
// (node:fs/promises, imported only when needed so the browser bundle never sees it).

/** Bytes, or a path / URL to read them from. */
export type Source = Uint8Array | ArrayBuffer | string | URL;

export interface SourceOptions {
  /** A name for the bytes in error messages, when the source is not a path or URL. */
  name?: string;
}

export const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** The name to put in error messages for `source`. */
export function sourceName(source: Source, options: SourceOptions = {}): string {
  if (options.name) return options.name;
  if (typeof source === 'string') return source;
  if (source instanceof URL) return source.href;
  return 'the given bytes';
}

/** Reads a source's bytes; errors name the file and say what went wrong. */
export async function readBytes(source: Source, name = sourceName(source)): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new Error(`${name}: expected a Uint8Array, an ArrayBuffer, a path or a URL, got ${describe(source)}`);
  }
  const href = typeof source === 'string' ? source : source.href;
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(href) && !/^file:/i.test(href);
  if (isUrl || !isNode) {
    let response: Response;
    try {
      response = await fetch(href);
    } catch (e) {
      throw new Error(`${name}: could not fetch it (${message(e)})`);
    }
    if (!response.ok) throw new Error(`${name}: HTTP ${response.status} ${response.statusText}`.trim());
    return new Uint8Array(await response.arrayBuffer());
  }
  // A variable specifier keeps bundlers from trying to resolve a Node built-in for the browser.
  const fsModule = 'node:fs/promises';
  const fs = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
  const path = /^file:/i.test(href) ? new URL(href) : href;
  try {
    const buffer = await fs.readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new Error(`${name}: no such file`);
    if (code === 'EISDIR') throw new Error(`${name}: is a directory, not a file`);
    throw new Error(`${name}: could not read it (${message(e)})`);
  }
}

/** True for bytes that start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Inflates a gzip stream with DecompressionStream, which Node (18+) and browsers both have,
 * so there is one code path and no dependency.
 */
export async function gunzip(bytes: Uint8Array, name: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`${name}: corrupt gzip stream (${message(e)})`);
  }
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  return `${typeof v} ${String(v)}`;
}
