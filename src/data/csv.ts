// CSV to Tensors: a header, per-column types (numbers, integer codes of categories, skipped),
// and a label column split off as y. Quoted fields ("a, b", "say ""hi""") follow RFC 4180.

import { emptyTensor, type Tensor } from '../nn/tensor.js';
import { readBytes, sourceName, type Source, type SourceOptions } from './source.js';

export type CsvColumnType = 'float32' | 'int32' | 'category' | 'skip';

export interface CsvOptions extends SourceOptions {
  /** Whether the first line names the columns (default true); without one, columns are named '0', '1', ... */
  header?: boolean;
  delimiter?: string;
  /** Types by column name (or index): float32 for features by default; 'category' maps text to 0, 1, ... in order of appearance. */
  columnTypes?: Record<string, CsvColumnType>;
  /** The column (name or index) to return as y. Its type defaults to 'category' when it holds text, int32 for whole numbers, else float32. */
  labelColumn?: string | number;
}

export interface CsvData {
  /** float32 [rows, features]. */
  x: Tensor;
  /** [rows], when a labelColumn was given: int32 for categories and whole numbers. */
  y?: Tensor;
  featureNames: string[];
  labelName?: string;
  /** The category names of the label column, in code order. */
  classNames?: string[];
  /** The category names of categorical feature columns. */
  categories: Record<string, string[]>;
}

/** Splits CSV text into rows of fields, remembering each row's line number. */
function parseRows(text: string, delimiter: string, name: string): Array<{ line: number; fields: string[] }> {
  const rows: Array<{ line: number; fields: string[] }> = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let rowLine = 1;
  let quoted = false;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // byte-order mark
  const endRow = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0].trim() === '')) rows.push({ line: rowLine, fields });
    fields = [];
    field = '';
  };
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } else if (ch === delimiter) {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else field += ch;
  }
  if (quoted) throw new Error(`${name}: line ${rowLine}: a quoted field is never closed`);
  if (field !== '' || fields.length > 0) endRow();
  return rows;
}

/**
 * Reads a CSV file into Tensors. `source` is CSV text (a string with a line break), a path
 * (Node), a URL, or bytes. Errors name the file, the line and the column: ragged rows, cells
 * that are not numbers, unknown columns.
 */
export async function readCsv(source: Source, options: CsvOptions = {}): Promise<CsvData> {
  const known = ['name', 'header', 'delimiter', 'columnTypes', 'labelColumn'];
  for (const key of Object.keys(options)) if (!known.includes(key)) throw new Error(`readCsv: unknown option '${key}' (known: ${known.join(', ')})`);
  const isText = typeof source === 'string' && /[\r\n]/.test(source);
  const name = isText ? (options.name ?? 'CSV text') : sourceName(source, options);
  const text = isText ? (source as string) : new TextDecoder().decode(await readBytes(source, name));
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') throw new Error(`${name}: delimiter must be one character other than a quote or a line break, got ${JSON.stringify(delimiter)}`);

  const rows = parseRows(text, delimiter, name);
  const header = options.header ?? true;
  if (rows.length === 0 || (header && rows.length === 1)) throw new Error(`${name}: no data rows`);
  const width = rows[0].fields.length;
  const names = header ? rows[0].fields.map((f) => f.trim()) : Array.from({ length: width }, (_, k) => String(k));
  const body = header ? rows.slice(1) : rows;
  for (const row of body) {
    if (row.fields.length !== width) {
      throw new Error(`${name}: line ${row.line} has ${row.fields.length} fields, but ${header ? 'the header has' : 'the first line has'} ${width}; every row needs the same number of columns`);
    }
  }

  const columnIndex = (key: string | number, what: string): number => {
    const k = typeof key === 'number' ? key : names.indexOf(key);
    if (k >= 0 && k < width && Number.isInteger(k)) return k;
    if (typeof key === 'string' && /^\d+$/.test(key) && Number(key) < width) return Number(key);
    throw new Error(`${name}: ${what} ${JSON.stringify(key)} is not a column (columns: ${names.join(', ')})`);
  };
  const types: CsvColumnType[] = names.map(() => 'float32');
  const explicit = new Set<number>();
  for (const [key, type] of Object.entries(options.columnTypes ?? {})) {
    if (!['float32', 'int32', 'category', 'skip'].includes(type)) throw new Error(`${name}: column type of ${key} must be 'float32', 'int32', 'category' or 'skip', got ${JSON.stringify(type)}`);
    const k = columnIndex(key, 'columnTypes names');
    types[k] = type;
    explicit.add(k);
  }
  const label = options.labelColumn === undefined ? -1 : columnIndex(options.labelColumn, 'labelColumn');
  if (label >= 0 && !explicit.has(label)) {
    const cells = body.map((r) => r.fields[label].trim());
    types[label] = cells.some((c) => c === '' || !Number.isFinite(Number(c))) ? 'category' : cells.every((c) => Number.isInteger(Number(c))) ? 'int32' : 'float32';
  }
  if (types[label] === 'skip') throw new Error(`${name}: the label column '${names[label]}' cannot be skipped`);

  const categories: Record<string, string[]> = {};
  const codes = names.map(() => new Map<string, number>());
  const value = (row: { line: number; fields: string[] }, k: number): number => {
    const cell = row.fields[k].trim();
    if (types[k] === 'category') {
      let code = codes[k].get(cell);
      if (code === undefined) {
        code = codes[k].size;
        codes[k].set(cell, code);
      }
      return code;
    }
    const v = Number(cell);
    if (cell === '' || !Number.isFinite(v)) {
      throw new Error(`${name}: line ${row.line}, column '${names[k]}' (${k + 1}): ${JSON.stringify(row.fields[k])} is not a number; give the column the type 'category' or 'skip' to keep or drop text`);
    }
    if (types[k] === 'int32' && !Number.isInteger(v)) throw new Error(`${name}: line ${row.line}, column '${names[k]}' (${k + 1}): ${cell} is not a whole number (column type int32)`);
    return v;
  };

  const features = names.map((_, k) => k).filter((k) => k !== label && types[k] !== 'skip');
  if (features.length === 0) throw new Error(`${name}: no feature columns left (columns: ${names.join(', ')})`);
  const x = new Float32Array(body.length * features.length);
  const y = label >= 0 ? (types[label] === 'float32' ? new Float32Array(body.length) : new Int32Array(body.length)) : null;
  body.forEach((row, i) => {
    features.forEach((k, j) => (x[i * features.length + j] = value(row, k)));
    if (y) y[i] = value(row, label);
  });
  for (const k of features) if (types[k] === 'category') categories[names[k]] = [...codes[k].keys()];

  const upload = (data: Float32Array | Int32Array, shape: number[], dtype: 'float32' | 'int32'): Tensor => {
    const t = emptyTensor(shape, dtype, 'readCsv');
    if (data.length > 0) t.runtime.write(t.buffer, data);
    return t;
  };
  const out: CsvData = { x: upload(x, [body.length, features.length], 'float32'), featureNames: features.map((k) => names[k]), categories };
  if (y) {
    out.y = upload(y, [body.length], y instanceof Int32Array ? 'int32' : 'float32');
    out.labelName = names[label];
    if (types[label] === 'category') out.classNames = [...codes[label].keys()];
  }
  return out;
}
