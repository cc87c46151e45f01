// Checks the structure of src/: no import cycles, the layer order of DESIGN.md (data → nn → gpu
// → shaders, imports only point down), and no source file over 500 lines. Plain Node, no packages.
//
//   node scripts/check-imports.mjs [ROOT] [--max-lines N]   (ROOT holds src/; N = 0 turns it off)
//
// Also a module: `checkImports(root, { maxLines })` returns what it found, for tests and tools.

import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layers of src/, one line per folder: the folders each may import besides itself.
 * Files directly in src/ (index.ts) sit above every layer: they may import anything, and no
 * layer may import them. A folder missing here is reported, so adding one forces a decision.
 */
export const LAYERS = {
  shaders: [],
  gpu: ['shaders'],
  nn: ['gpu', 'shaders'],
  data: ['nn', 'gpu', 'shaders'],
};

/**
 * Cycles kept on purpose, each with its reason in docs/ARCHITECTURE.md: a group of files that
 * import each other passes only when it is exactly one of these.
 */
export const ALLOWED_CYCLES = [
  // An op's gradient rule sits next to its forward in the op table and is written with the ops.
  ['nn/graph.ts', 'nn/op-kit.ts', 'nn/op-table.ts', 'nn/op-table-training.ts', 'nn/ops.ts'],
];

export const DEFAULT_MAX_LINES = 500;

const isSource = (name) => /\.(ts|tsx|mts|cts)$/.test(name) && !/\.(test|spec)\.[cm]?tsx?$/.test(name);

/**
 * Scans ROOT/src and returns
 *   files       source files, relative to src/ with '/' separators, sorted
 *   edges       distinct { from, to, typeOnly } pairs between them (typeOnly: every import
 *               behind the edge is erased at compile time)
 *   cycles      one entry per elementary cycle, [a, b, ..., a]
 *   sccs        the groups of files that reach each other (Tarjan), each sorted
 *   violations  { from, to, message } layer-order breaks ({ from, message } for an unknown folder)
 *   long        { file, lines } files over maxLines
 *   unresolved  { from, specifier } relative imports that name no file
 */
export function checkImports(root, { maxLines = DEFAULT_MAX_LINES, layers = LAYERS, allowedCycles = ALLOWED_CYCLES } = {}) {
  const srcDir = resolve(root, 'src');
  if (!existsSync(srcDir) || !statSync(srcDir).isDirectory()) {
    throw new Error(`checkImports: expected a src/ folder in ${resolve(root)}, found none`);
  }
  const files = listSources(srcDir);
  const fileSet = new Set(files);
  const edgeMap = new Map(); // "from\0to" → edge
  const unresolved = [];
  const long = [];
  const lineCounts = new Map();

  for (const file of files) {
    const text = readFileSync(join(srcDir, file), 'utf8');
    const lines = text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    lineCounts.set(file, lines);
    if (maxLines > 0 && lines > maxLines) long.push({ file, lines });

    for (const { specifier, typeOnly } of findImports(text)) {
      if (!specifier.startsWith('./') && !specifier.startsWith('../') && specifier !== '.' && specifier !== '..') continue;
      const target = resolveSpecifier(srcDir, file, specifier, fileSet);
      if (target === undefined) {
        unresolved.push({ from: file, specifier });
        continue;
      }
      if (target === null) continue; // a real file outside the graph: a test, JSON, outside src/
      const key = `${file}\0${target}`;
      const edge = edgeMap.get(key);
      if (edge) edge.typeOnly &&= typeOnly;
      else edgeMap.set(key, { from: file, to: target, typeOnly });
    }
  }

  const edges = [...edgeMap.values()].sort((a, b) => cmp(a.from, b.from) || cmp(a.to, b.to));
  const next = new Map(files.map((f) => [f, []]));
  for (const { from, to } of edges) next.get(from).push(to);

  const groups = stronglyConnected(files, next)
    .filter((group) => group.length > 1 || next.get(group[0]).includes(group[0]))
    .map((group) => group.sort(cmp))
    .sort((a, b) => cmp(a[0], b[0]));
  const isAllowed = (group) => allowedCycles.some((a) => a.length === group.length && [...a].sort(cmp).every((f, k) => f === group[k]));
  const sccs = groups.filter((g) => !isAllowed(g));
  const allowed = groups.filter(isAllowed);
  const cycles = sccs.flatMap((group) => elementaryCycles(group, next));

  return {
    files,
    edges,
    cycles,
    sccs,
    allowed,
    violations: layerViolations(files, edges, layers),
    long,
    unresolved,
    maxLines,
  };
}

function listSources(srcDir) {
  const out = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && isSource(entry.name)) out.push(relative(srcDir, full).split(sep).join('/'));
    }
  };
  walk(srcDir);
  return out.sort(cmp);
}

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// ---------------------------------------------------------------------------------------------
// Finding imports

/**
 * The module specifiers a TypeScript file names: static imports and re-exports, side-effect
 * imports, `import x = require(...)`, and `import('...')` with a string literal (in code or in
 * a type such as `typeof import('./x.js')`). Comments, strings, template literals and regular
 * expressions are blanked first, so an import written inside WGSL text or a comment is not one.
 */
export function findImports(text) {
  const code = maskNonCode(text);
  const found = [];
  const add = (specifier, typeOnly) => found.push({ specifier, typeOnly });

  // The clause between the keyword and `from` is names, braces, commas and `*` only, and may not
  // run into the next import or export: that keeps one match to one statement.
  const clause = String.raw`(?:(?!\b(?:import|export)\b)[\w$\s{},*])*?`;
  const staticRe = new RegExp(String.raw`(?<![\w$.])(import|export)(\s+type(?=[\s{*]))?${clause}\bfrom\s*(['"])([^'"\n]+)\3`, 'g');
  for (const m of code.matchAll(staticRe)) {
    // With verbatimModuleSyntax only `import type` / `export type` statements are erased;
    // `import { type A }` still loads the module.
    add(m[4], Boolean(m[2]));
  }
  for (const m of code.matchAll(/(?<![\w$.])import\s*(['"])([^'"\n]+)\1/g)) add(m[2], false);
  for (const m of code.matchAll(/(?<![\w$.])import\s+[\w$]+\s*=\s*require\s*\(\s*(['"])([^'"\n]+)\1/g)) add(m[2], false);
  for (const m of code.matchAll(/(\btypeof\s*)?(?<![\w$.])import\s*\(\s*(['"])([^'"\n]+)\2\s*[,)]/g)) add(m[3], Boolean(m[1]));
  return found;
}

// Words after which a `/` starts a regular expression rather than a division.
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await', 'instanceof']);
const REGEX_AFTER_CHAR = new Set([...'(,=:[!&|?{};+-*%<>~^']);

/**
 * Returns `text` with comments, template-literal text and regular-expression bodies replaced
 * by spaces (newlines kept), and `${...}` expressions inside templates kept as code. Quoted
 * strings are blanked too, except where a specifier stands: after `from`, `import`, `import(`
 * and `require(`.
 */
export function maskNonCode(text) {
  const out = text.split('');
  const n = text.length;
  const blank = (from, to) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  const braces = []; // '{' for a code block, '${' for a template expression
  let prevChar = ''; // last significant code character, for telling a regex from a division
  let prevWord = '';
  let parenWord = ''; // the word before the last `(`: a string after `import(` is a specifier
  let i = 0;

  const scanTemplate = () => {
    // At the character after a backtick or after the `}` closing a template expression.
    const start = i;
    while (i < n) {
      const c = text[i];
      if (c === '\\') i += 2;
      else if (c === '`') {
        blank(start, i);
        i++;
        prevChar = '`';
        prevWord = '';
        return;
      } else if (c === '$' && text[i + 1] === '{') {
        blank(start, i);
        braces.push('${');
        i += 2;
        prevChar = '{';
        prevWord = '';
        return;
      } else i++;
    }
    blank(start, n);
  };

  while (i < n) {
    const c = text[i];
    const d = text[i + 1];
    if (c === '/' && d === '/') {
      const end = text.indexOf('\n', i);
      blank(i, end === -1 ? n : end);
      i = end === -1 ? n : end;
    } else if (c === '/' && d === '*') {
      const end = text.indexOf('*/', i + 2);
      blank(i, end === -1 ? n : end + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      const specifier = prevWord === 'from' || prevWord === 'import' || (prevChar === '(' && (parenWord === 'import' || parenWord === 'require'));
      if (!specifier) blank(i + 1, Math.min(j, n));
      i = j + 1;
      prevChar = c;
      prevWord = '';
    } else if (c === '`') {
      i++;
      scanTemplate();
    } else if (c === '/' && (prevChar === '' || REGEX_AFTER_CHAR.has(prevChar) || REGEX_AFTER_WORD.has(prevWord))) {
      let j = i + 1;
      let inClass = false;
      while (j < n && text[j] !== '\n') {
        const r = text[j];
        if (r === '\\') j++;
        else if (r === '[') inClass = true;
        else if (r === ']') inClass = false;
        else if (r === '/' && !inClass) break;
        j++;
      }
      blank(i + 1, j);
      i = j + 1;
      prevChar = ')'; // a regex is a value: a `/` after it divides
      prevWord = '';
    } else if (c === '{') {
      braces.push('{');
      prevChar = c;
      prevWord = '';
      i++;
    } else if (c === '}') {
      i++;
      if (braces.pop() === '${') scanTemplate();
      else {
        prevChar = c;
        prevWord = '';
      }
    } else if (/[\w$]/.test(c)) {
      let j = i;
      while (j < n && /[\w$]/.test(text[j])) j++;
      prevWord = text.slice(i, j);
      prevChar = 'a';
      i = j;
    } else {
      if (c === '(') parenWord = prevWord;
      if (!/\s/.test(c)) {
        prevChar = c;
        prevWord = '';
      }
      i++;
    }
  }
  return out.join('');
}

/**
 * The file (relative to src/) that `specifier` in `file` names, as NodeNext resolves it:
 * './x.js' is './x.ts', './dir/index.js' is './dir/index.ts'; an extensionless './x' may also
 * be './x/index.ts'. Returns null for an existing file outside the graph, undefined for none.
 */
function resolveSpecifier(srcDir, file, specifier, fileSet) {
  const base = resolve(srcDir, dirname(file), specifier);
  const candidates = [];
  const swap = { '.js': ['.ts', '.tsx', '.d.ts'], '.jsx': ['.tsx'], '.mjs': ['.mts', '.d.mts'], '.cjs': ['.cts', '.d.cts'] };
  const ext = Object.keys(swap).find((e) => base.endsWith(e));
  if (ext) candidates.push(...swap[ext].map((e) => base.slice(0, -ext.length) + e));
  candidates.push(base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts'));
  for (const candidate of candidates) {
    const rel = relative(srcDir, candidate).split(sep).join('/');
    if (fileSet.has(rel)) return rel;
  }
  for (const candidate of candidates) if (existsSync(candidate) && statSync(candidate).isFile()) return null;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Cycles

/** Tarjan's strongly connected components, iterative so deep import chains cannot overflow. */
function stronglyConnected(nodes, next) {
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const groups = [];
  let counter = 0;

  for (const root of nodes) {
    if (index.has(root)) continue;
    const work = [{ node: root, k: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const out = next.get(frame.node);
      if (frame.k < out.length) {
        const w = out[frame.k++];
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push({ node: w, k: 0 });
        } else if (onStack.has(w)) low.set(frame.node, Math.min(low.get(frame.node), index.get(w)));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent), low.get(frame.node)));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const group = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          group.push(w);
        } while (w !== frame.node);
        groups.push(group);
      }
    }
  }
  return groups;
}

const MAX_CYCLES_PER_GROUP = 50;

/**
 * Every elementary cycle inside one strongly connected group, each once: it starts at its
 * alphabetically first file and visits only files after it. Capped per group, because a
 * densely tangled group has exponentially many; the group itself is reported in full anyway.
 */
function elementaryCycles(group, next) {
  const order = new Map(group.map((f, k) => [f, k]));
  const cycles = [];
  let budget = 200_000; // DFS steps, so a pathological group cannot hang the check
  for (const start of group) {
    const path = [start];
    const onPath = new Set(path);
    const dfs = (node) => {
      for (const w of next.get(node)) {
        if (cycles.length >= MAX_CYCLES_PER_GROUP || --budget < 0) return;
        if (w === start) cycles.push([...path, start]);
        else if (order.has(w) && order.get(w) > order.get(start) && !onPath.has(w)) {
          path.push(w);
          onPath.add(w);
          dfs(w);
          onPath.delete(w);
          path.pop();
        }
      }
    };
    dfs(start);
  }
  return cycles;
}

// ---------------------------------------------------------------------------------------------
// Layers

function layerViolations(files, edges, layers) {
  const layerOf = (file) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : null);
  const violations = [];
  const unknown = new Set();
  for (const file of files) {
    const layer = layerOf(file);
    if (layer !== null && !(layer in layers) && !unknown.has(layer)) {
      unknown.add(layer);
      violations.push({
        from: file,
        message: `src/${layer}/ is not in the layer table (LAYERS in scripts/check-imports.mjs): add a line saying what it may import`,
      });
    }
  }
  for (const { from, to } of edges) {
    const a = layerOf(from);
    const b = layerOf(to);
    if (a === null || a === b || unknown.has(a)) continue; // root files may import anything
    if (b === null) {
      violations.push({ from, to, message: `src/${from} imports src/${to}: ${a} must not import the package root (src/${to} sits above every layer)` });
    } else if (!layers[a].includes(b)) {
      violations.push({ from, to, message: `src/${from} imports src/${to}: ${a} must not import ${b}` });
    }
  }
  return violations;
}

// ---------------------------------------------------------------------------------------------
// Command line

/** The report printed for a result of checkImports; `ok` is false when the check fails. */
export function formatReport(result) {
  const { files, edges, cycles, sccs, allowed = [], violations, long, unresolved, maxLines } = result;
  const lines = [];
  for (const group of allowed) lines.push(`Allowed cycle (its reason is in docs/ARCHITECTURE.md): ${group.join(', ')}`);
  const ok = sccs.length === 0 && violations.length === 0 && long.length === 0;
  const typeOnly = new Set(edges.filter((e) => e.typeOnly).map((e) => `${e.from}\0${e.to}`));

  if (sccs.length > 0) {
    const shown = cycles.length;
    lines.push(`Import cycles: ${sccs.length} group${sccs.length === 1 ? '' : 's'} of files that import each other (${shown} cycle${shown === 1 ? '' : 's'}):`);
    for (const group of sccs) {
      lines.push(`  ${group.length} file${group.length === 1 ? '' : 's'}: ${group.join(', ')}`);
      const mine = cycles.filter((c) => group.includes(c[0]));
      for (const cycle of mine) {
        const erased = [];
        for (let k = 0; k + 1 < cycle.length; k++) if (typeOnly.has(`${cycle[k]}\0${cycle[k + 1]}`)) erased.push(`${cycle[k]} → ${cycle[k + 1]}`);
        lines.push(`    ${cycle.join(' → ')}${erased.length > 0 ? `   (type-only: ${erased.join(', ')})` : ''}`);
      }
      if (mine.length >= MAX_CYCLES_PER_GROUP) lines.push(`    ... and more: only the first ${MAX_CYCLES_PER_GROUP} are listed`);
    }
  }
  if (violations.length > 0) {
    const order = Object.keys(LAYERS).join(' < ');
    lines.push(`Layer order broken (${order}; each may import only itself and the layers its line in LAYERS names):`);
    for (const v of violations) lines.push(`  ${v.message}`);
  }
  if (long.length > 0) {
    lines.push(`Files over ${maxLines} lines:`);
    for (const { file, lines: n } of [...long].sort((a, b) => b.lines - a.lines)) lines.push(`  src/${file}: ${n} lines`);
  }
  if (unresolved.length > 0) {
    lines.push(`Warning: relative imports that name no file (tsc reports these too):`);
    for (const { from, specifier } of unresolved) lines.push(`  src/${from}: '${specifier}'`);
  }

  const parts = [`${files.length} files`, `${edges.length} edges`];
  parts.push(sccs.length === 0 ? (allowed.length ? 'no cycles but the allowed one' : 'no cycles') : `${sccs.length} cycle group${sccs.length === 1 ? '' : 's'}`);
  parts.push(violations.length === 0 ? 'layer order kept' : `${violations.length} layer violation${violations.length === 1 ? '' : 's'}`);
  if (maxLines > 0) parts.push(long.length === 0 ? `no file over ${maxLines} lines` : `${long.length} file${long.length === 1 ? '' : 's'} over ${maxLines} lines`);
  lines.push(`imports: ${parts.join(', ')}${ok ? '' : ' — FAILED'}`);
  return { ok, text: lines.join('\n') };
}

function main(argv) {
  let root = fileURLToPath(new URL('..', import.meta.url));
  let maxLines = DEFAULT_MAX_LINES;
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k];
    if (arg === '--max-lines') {
      maxLines = Number(argv[++k]);
      if (!Number.isInteger(maxLines) || maxLines < 0) {
        console.error(`check-imports: --max-lines expects a whole number (0 turns the check off), got '${argv[k]}'`);
        return 2;
      }
    } else if (arg === '--no-max-lines') maxLines = 0;
    else if (arg === '-h' || arg === '--help') {
      console.log('usage: node scripts/check-imports.mjs [ROOT] [--max-lines N | --no-max-lines]');
      return 0;
    } else if (arg.startsWith('-')) {
      console.error(`check-imports: unknown option '${arg}'; known: --max-lines N, --no-max-lines, --help`);
      return 2;
    } else root = arg;
  }
  let result;
  try {
    result = checkImports(root, { maxLines });
  } catch (error) {
    console.error(error.message);
    return 2;
  }
  const { ok, text } = formatReport(result);
  (ok ? console.log : console.error)(text);
  return ok ? 0 : 1;
}

function invokedDirectly() {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (invokedDirectly()) process.exitCode = main(process.argv.slice(2));
