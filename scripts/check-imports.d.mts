// Types for scripts/check-imports.mjs, so TypeScript tests can import it.

/** The folders each layer of src/ may import besides itself. */
export declare const LAYERS: Record<string, string[]>;
export declare const DEFAULT_MAX_LINES: number;

export interface ImportEdge {
  from: string;
  to: string;
  /** Every import behind this edge is `import type` / `export type` (erased at compile time). */
  typeOnly: boolean;
}

export interface LayerViolation {
  from: string;
  /** Absent when the violation is a folder missing from the layer table. */
  to?: string;
  message: string;
}

export interface CheckImportsResult {
  /** Source files relative to src/, '/'-separated, sorted. */
  files: string[];
  edges: ImportEdge[];
  /** Elementary cycles, each closing on its first file: [a, b, a]. */
  cycles: string[][];
  /** Strongly connected groups of files (size > 1, or a file importing itself). */
  sccs: string[][];
  /** Groups that are exactly one of the allowed cycles (ALLOWED_CYCLES): reported, not failing. */
  allowed: string[][];
  violations: LayerViolation[];
  long: Array<{ file: string; lines: number }>;
  unresolved: Array<{ from: string; specifier: string }>;
  maxLines: number;
}

export interface CheckImportsOptions {
  /** Longest allowed file; 0 turns the check off. Default 500. */
  maxLines?: number;
  layers?: Record<string, string[]>;
  /** Groups of files allowed to import each other; default ALLOWED_CYCLES. */
  allowedCycles?: string[][];
}

export declare const ALLOWED_CYCLES: string[][];

export declare function checkImports(root: string, options?: CheckImportsOptions): CheckImportsResult;
export declare function findImports(text: string): Array<{ specifier: string; typeOnly: boolean }>;
export declare function maskNonCode(text: string): string;
export declare function formatReport(result: CheckImportsResult): { ok: boolean; text: string };
