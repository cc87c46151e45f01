// Reductions: sum and mean over any axes, the bias gradient (column sums of a tall matrix split
// across many workgroups), and the row layout that softmax and the losses reduce rows with.

import { foldWorkgroups, linearGrid, linearWorkgroupSize } from './grid.js';
import { defaultLimits, type DType, type Kernel, type KernelLimits, wgslType } from './kernel.js';
import { linearKernel, linearMain, preamble } from './preamble.js';

/** Throws unless `value` is an integer ≥ `min`, naming the kernel, the parameter and the value. */
export function checkCount(kernel: string, name: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${kernel}: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
}

/** The largest power of two ≤ n (n ≥ 1). */
function floorPow2(n: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, n)));
}

function nextPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/** Rows up to this long are handled by one invocation each; longer ones by a whole workgroup. */
export const maxColsPerInvocation = 64;

/**
 * How a kernel that works row by row over [rows, cols] is laid out, shared by softmax, the
 * losses and the reductions. Short rows get one invocation each (no workgroup memory, no
 * barriers: cheap on CPU drivers, and many rows per workgroup). Long rows get one workgroup
 * each: `lanes` invocations stride over the row, `j = lane, lane + lanes, ...`, and combine their
 * partial results with a tree in workgroup memory, which also keeps float32 sums accurate
 * (error grows with log2(lanes) + cols/lanes rather than with cols).
 */
export interface RowLayout {
  /** Invocations sharing one row: 1, or a power of two. */
  readonly lanes: number;
  readonly workgroupSize: readonly [number, number, number];
  readonly dispatch: readonly [number, number, number];
  /**
   * WGSL declaring `row_sum(v, lane)` and `row_max(v, lane)`: every lane of the row gets the
   * sum or max of the values its lanes pass. Call them from uniform control flow.
   */
  readonly functions: string;
  /**
   * The entry-point header: defines `row` and `lane` and returns early past the last row
   * (a workgroup-uniform return when lanes > 1, so the barriers stay in uniform control flow).
   * The kernel body follows, then a closing `}`.
   */
  readonly main: string;
}

export function rowLayout(rows: number, cols: number, limits: KernelLimits, type: 'f32' | 'i32' = 'f32'): RowLayout {
  if (cols <= maxColsPerInvocation) {
    const grid = linearGrid(rows, limits, 64);
    return {
      lanes: 1,
      ...grid,
      functions: /* wgsl */ `
fn row_sum(v: ${type}, lane: u32) -> ${type} { return v; }
fn row_max(v: ${type}, lane: u32) -> ${type} { return v; }`,
      main: /* wgsl */ `${linearMain(grid.workgroupSize[0])}
  let row = i;
  let lane = 0u;
  if (row >= ${rows}u) { return; }`,
    };
  }
  // About 8 elements per lane before the tree takes over.
  const lanes = Math.min(floorPow2(linearWorkgroupSize(limits)), nextPow2(Math.ceil(cols / 8)));
  const tree = (name: string, combine: string) => /* wgsl */ `
fn ${name}(v: ${type}, lane: u32) -> ${type} {
  row_scratch[lane] = v;
  workgroupBarrier();
  for (var s = ${lanes / 2}u; s > 0u; s >>= 1u) {
    if (lane < s) {
      let a = row_scratch[lane];
      let b = row_scratch[lane + s];
      row_scratch[lane] = ${combine};
    }
    workgroupBarrier();
  }
  let total = row_scratch[0];
  // Every lane has read the result before the next reduction overwrites it.
  workgroupBarrier();
  return total;
}`;
  return {
    lanes,
    workgroupSize: [lanes, 1, 1],
    dispatch: foldWorkgroups(rows, limits),
    functions: /* wgsl */ `
var<workgroup> row_scratch: array<${type}, ${lanes}>;
${tree('row_sum', 'a + b')}
${tree('row_max', 'max(a, b)')}`,
    main: /* wgsl */ `@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lane: u32) {
  let row = flat_workgroup(wid, nwg);
  if (row >= ${rows}u) { return; }`,
  };
}

export const maxReduceRank = 6;

export interface ReduceParams {
  /** Shape of the input, rank ≤ 6. */
  shape: readonly number[];
  /** Axes to reduce, each in [-rank, rank) (negative counts from the end), no repeats. */
  axes: readonly number[];
  /** Element type; mean is float32 only. */
  dtype?: DType;
  limits?: KernelLimits;
}

/** The shape a reduction over `axes` leaves (those axes removed); throws on bad axes. */
export function reducedShape(kernel: string, shape: readonly number[], axes: readonly number[]): number[] {
  const reduced = normalizeAxes(kernel, shape, axes);
  return shape.filter((_, k) => !reduced.has(k));
}

function normalizeAxes(kernel: string, shape: readonly number[], axes: readonly number[]): Set<number> {
  const rank = shape.length;
  if (rank > maxReduceRank) throw new Error(`${kernel}: expected a shape of rank ≤ ${maxReduceRank}, got [${shape}] (rank ${rank})`);
  shape.forEach((d, k) => checkCount(kernel, `shape[${k}]`, d, 0));
  const reduced = new Set<number>();
  for (const axis of axes) {
    if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
      throw new Error(`${kernel}: expected axes in [${-rank}, ${rank}) for shape [${shape}], got ${axis}`);
    }
    const a = axis < 0 ? axis + rank : axis;
    if (reduced.has(a)) throw new Error(`${kernel}: axis ${a} appears more than once in axes [${axes}]`);
    reduced.add(a);
  }
  return reduced;
}

/**
 * WGSL `fn <name>(index: u32) -> u32` mapping a flat index over `dims` (row-major) to an offset
 * with the given `strides`; shapes are static, so the loop is unrolled with constants.
 */
function offsetFunction(name: string, dims: readonly number[], strides: readonly number[]): string {
  const lines = [`fn ${name}(index: u32) -> u32 {`, '  var rest = index;', '  var offset = 0u;'];
  for (let k = dims.length - 1; k > 0; k--) {
    lines.push(`  offset += (rest % ${dims[k]}u) * ${strides[k]}u;`, `  rest /= ${dims[k]}u;`);
  }
  if (dims.length) lines.push(`  offset += rest * ${strides[0]}u;`);
  lines.push('  return offset;', '}');
  return lines.join('\n');
}

function reduce(op: 'sum' | 'mean', { shape, axes, dtype = 'float32', limits = defaultLimits }: ReduceParams): Kernel {
  const name = op === 'sum' ? 'reduceSum' : 'reduceMean';
  const reduced = normalizeAxes(name, shape, axes);
  if (op === 'mean' && dtype !== 'float32') throw new Error(`${name}: expected float32 values, got ${dtype}`);
  const type = wgslType(dtype);
  // Merge runs of adjacent axes that are all kept or all reduced (they are contiguous with each
  // other in row-major order) and drop size-1 axes, so the index math is as short as it can be.
  const kept = { dims: [] as number[], strides: [] as number[] };
  const summed = { dims: [] as number[], strides: [] as number[] };
  let stride = 1;
  let previous: typeof kept | null = null;
  const groups: { group: typeof kept; dim: number; stride: number }[] = [];
  for (let k = shape.length - 1; k >= 0; k--) {
    const group = reduced.has(k) ? summed : kept;
    if (shape[k] !== 1) {
      const last = groups[groups.length - 1];
      if (last && previous === group) last.dim *= shape[k];
      else groups.push({ group, dim: shape[k], stride });
      previous = group;
    }
    stride *= shape[k];
  }
  for (const g of groups.reverse()) {
    g.group.dims.push(g.dim);
    g.group.strides.push(g.stride);
  }
  const count = (dims: number[]) => dims.reduce((n, d) => n * d, 1);
  const rows = shape.filter((_, k) => !reduced.has(k)).reduce((n, d) => n * d, 1);
  const cols = count(summed.dims);
  const layout = rowLayout(rows, cols, limits, type);
  const result = op === 'sum' ? 'total' : `total / ${cols}.0`;
  const code = /* wgsl */ `${preamble}
@group(0) @binding(0) var<storage, read> x: array<${type}>;
@group(0) @binding(1) var<storage, read_write> y: array<${type}>;
${layout.functions}
${offsetFunction('kept_offset', kept.dims, kept.strides)}
${offsetFunction('reduced_offset', summed.dims, summed.strides)}

${layout.main}
  let base = kept_offset(row);
  var acc = ${type}(0);
  for (var j = lane; j < ${cols}u; j += ${layout.lanes}u) {
    acc += x[base + reduced_offset(j)];
  }
  let total = row_sum(acc, lane);
  if (lane == 0u) { y[row] = ${result}; }
}
`;
  return { name: `reduce_${op}${type === 'i32' ? '_i32' : ''}`, code, bindings: ['read', 'write'], workgroupSize: layout.workgroupSize, dispatch: layout.dispatch };
}

/** y = Σ x over `axes`, shape `reducedShape(shape, axes)`, float32 or int32 (wrapping); bindings: x, y. */
export function reduceSum(params: ReduceParams): Kernel {
  return reduce('sum', params);
}

/** y = mean of x over `axes` (NaN where the reduced axes are empty); bindings: x, y. */
export function reduceMean(params: ReduceParams): Kernel {
  return reduce('mean', params);
}

export interface BiasGradientParams {
  /** Rows summed over, e.g. batch × height × width of a conv output. */
  rows: number;
  /** Columns (channels); the result has one sum per column. */
  cols: number;
  limits?: KernelLimits;
}

/** Rows each invocation adds up in order; the chunks' sums are then added by a reduction. */
const rowsPerInvocation = 256;

function biasGeometry({ rows, cols, limits = defaultLimits }: BiasGradientParams) {
  checkCount('biasGradient', 'rows', rows);
  checkCount('biasGradient', 'cols', cols);
  const quads = Math.ceil(cols / 4);
  const chunks = Math.ceil(rows / rowsPerInvocation);
  return { quads, chunks, grid: linearGrid(chunks * quads, limits, 64), limits };
}

/** Elements of the scratch buffer biasGradient's partial sums need ([chunks, cols]; 0: none). */
export function biasGradientScratchSize(params: BiasGradientParams): number {
  const { chunks } = biasGeometry(params);
  return chunks > 1 ? chunks * params.cols : 0;
}

/**
 * db[c] = Σ_r dy[r, c] for dy [rows, cols]. An invocation adds up to 256 rows of 4 adjacent
 * columns, in order, read as vec4s where the columns allow: one per-lane load for 4 values on
 * CPU drivers, and no workgroup memory or barriers. The chunks' sums [chunks, cols] go to a
 * scratch buffer, which a reduction adds up:
 *   [partial: dy → scratch, reduce: scratch → db],
 * or the single kernel [dy → db] when one chunk covers every row (biasGradientScratchSize is 0).
 */
export function biasGradient(params: BiasGradientParams): Kernel[] {
  const { rows, cols } = params;
  const { quads, chunks, grid, limits } = biasGeometry(params);
  const vec = cols % 4 === 0;
  const partial: Kernel = {
    name: chunks > 1 ? 'bias_gradient_partial' : 'bias_gradient',
    code: /* wgsl */ `${preamble}
@group(0) @binding(0) var<storage, read> dy: array<${vec ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(1) var<storage, read_write> sums: array<${vec ? 'vec4<f32>' : 'f32'}>;

${linearMain(grid.workgroupSize[0])}
  if (i >= ${chunks * quads}u) { return; }
  let chunk = i / ${quads}u;
  let quad = i % ${quads}u;
  var acc = vec4<f32>(0.0);
  let end = min((chunk + 1u) * ${rowsPerInvocation}u, ${rows}u);
  for (var r = chunk * ${rowsPerInvocation}u; r < end; r++) {
${vec ? `    acc += dy[r * ${quads}u + quad];` : `    for (var j = 0u; j < 4u; j++) {
      if (quad * 4u + j < ${cols}u) { acc[j] += dy[r * ${cols}u + quad * 4u + j]; }
    }`}
  }
${vec ? `  sums[chunk * ${quads}u + quad] = acc;` : `  for (var j = 0u; j < 4u; j++) {
    if (quad * 4u + j < ${cols}u) { sums[chunk * ${cols}u + quad * 4u + j] = acc[j]; }
  }`}
}
`,
    bindings: ['read', 'write'],
    ...grid,
  };
  if (chunks === 1) return [partial];
  return [partial, sumParts('bias_gradient_reduce', cols, chunks, limits)];
}

/**
 * out[i] = Σ_s parts[s · size + i]: adds `count` partial results of `size` elements each (the
 * chunks of a split reduction), a vec4 an invocation where the size allows. The count comes in
 * a uniform, so compilers do not unroll the loop into per-lane loads, and so does the size, so
 * every use shares one pipeline per element type.
 */
export function sumParts(name: string, size: number, count: number, limits: KernelLimits): Kernel {
  const type = size % 4 === 0 ? 'vec4<f32>' : 'f32';
  const n = type === 'f32' ? size : size / 4;
  return linearKernel({
    name,
    count: n,
    limits,
    buffers: [['parts', 'read', type], ['out', 'write', type]],
    fields: [['count', 'u32', count]],
    countUniform: true,
    body: /* wgsl */ `  var sum = ${type}(0.0);
  for (var s = 0u; s < p.count; s++) { sum += parts[s * p.n + i]; }
  out[i] = sum;`,
  });
}
