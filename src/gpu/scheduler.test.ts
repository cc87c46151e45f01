// The memory planner on hand-made programs: which buffers share memory, and which never may.

import { describe, expect, test } from 'vitest';
import type { Kernel } from '../shaders/kernel.js';
import { planMemory, type Program, type ProgramBuffer } from './scheduler.js';

const kernel: Kernel = { name: 'k', code: '', bindings: ['read', 'write'], workgroupSize: [1, 1, 1], dispatch: [1, 1, 1] };
const temp = (bytes: number, aliasOf?: number): ProgramBuffer => ({ bytes, label: 't', role: 'temp', aliasOf });

describe('planMemory', () => {
  test('a chain of temps reuses the memory of the dead ones', () => {
    // 0 (input) → 1 → 2 → 3 → 4 (output): only two temps are ever alive together.
    const program: Program = {
      buffers: [{ bytes: 4096, label: 'x', role: 'input' }, temp(4096), temp(4096), temp(4096), { bytes: 4096, label: 'y', role: 'output' }],
      steps: [0, 1, 2, 3].map((k) => ({ kernel, args: [k, k + 1] })),
    };
    const plan = planMemory(program);
    expect(plan.intermediateBytes).toBe(3 * 4096);
    expect(plan.peakBytes).toBe(4 * 4096); // input, output, two temps
    expect(plan.assignment[1]).toBe(plan.assignment[3]);
    expect(new Set(plan.assignment).size).toBe(4);
  });

  test('an alias keeps its root alive until its own last use', () => {
    // 1 is aliased by 2 (a reshape), read at step 2; 3 must not take 1's memory at step 1.
    const program: Program = {
      buffers: [{ bytes: 64, label: 'x', role: 'input' }, temp(64), temp(64, 1), temp(64), temp(64), { bytes: 64, label: 'y', role: 'output' }],
      steps: [
        { kernel, args: [0, 1] },
        { kernel, args: [0, 3] },
        { kernel: { ...kernel, bindings: ['read', 'read', 'write'] }, args: [2, 3, 4] },
        { kernel, args: [4, 5] },
      ],
    };
    const plan = planMemory(program);
    expect(plan.assignment[2]).toBe(plan.assignment[1]);
    expect(plan.assignment[3]).not.toBe(plan.assignment[1]);
    expect(plan.assignment[4]).not.toBe(plan.assignment[1]);
    expect(plan.assignment[4]).not.toBe(plan.assignment[3]);
  });

  test('a larger temp never lands in a smaller free buffer; externals get no memory', () => {
    const external = { bytes: 64, label: 'w', role: 'external', external: {} as GPUBuffer } as const;
    const program: Program = {
      buffers: [external, temp(64), temp(4096), { bytes: 16, label: 'y', role: 'output' }],
      steps: [
        { kernel, args: [0, 1] },
        { kernel, args: [1, 2] },
        { kernel, args: [2, 3] },
      ],
    };
    const plan = planMemory(program);
    expect(plan.assignment[0]).toBe(-1);
    expect(plan.sizes[plan.assignment[2]]).toBeGreaterThanOrEqual(4096);
    expect(plan.assignment[2]).not.toBe(plan.assignment[1]);
  });

  test('on random programs, temps alive together never overlap and temps of one step never share a buffer', () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 50; trial++) {
      const buffers: ProgramBuffer[] = [{ bytes: 64, label: 'x', role: 'input' }];
      const steps: Program['steps'][number][] = [];
      for (let s = 0; s < 30; s++) {
        const reads = [random(buffers.length), random(buffers.length)];
        const out = buffers.push(temp(16 * (1 + random(400)), random(6) === 0 ? reads[0] || undefined : undefined)) - 1;
        if (buffers[out].aliasOf !== undefined && buffers[buffers[out].aliasOf!].role !== 'temp') buffers[out] = temp(buffers[out].bytes);
        steps.push({ kernel: { ...kernel, bindings: ['read', 'read', 'write'] }, args: [...reads, out] });
      }
      const plan = planMemory({ buffers, steps }, 8192);
      const root = (k: number): number => (buffers[k].aliasOf === undefined ? k : root(buffers[k].aliasOf!));
      const life = new Map<number, [number, number]>();
      steps.forEach((step, s) => {
        for (const b of 'copy' in step ? step.copy : step.args) {
          const r = root(b);
          life.set(r, [life.get(r)?.[0] ?? s, s]);
        }
      });
      const temps = [...life.keys()].filter((k) => buffers[k].role === 'temp');
      for (const a of temps) {
        for (const b of temps) {
          if (a >= b || plan.assignment[a] !== plan.assignment[b]) continue;
          const [la, lb] = [life.get(a)!, life.get(b)!];
          if (la[1] < lb[0] || lb[1] < la[0]) continue;
          const disjoint = plan.offsets[a] + buffers[a].bytes <= plan.offsets[b] || plan.offsets[b] + buffers[b].bytes <= plan.offsets[a];
          expect(disjoint, `trial ${trial}: temps ${a} and ${b} overlap in memory while both alive`).toBe(true);
        }
      }
      for (const step of steps) {
        const args = 'copy' in step ? step.copy : step.args;
        const physical = args.map((b) => plan.assignment[root(b)]).filter((p, i) => buffers[root(args[i])].role === 'temp');
        const distinct = new Set(args.filter((b) => buffers[root(b)].role === 'temp').map(root));
        expect(new Set(physical).size, `trial ${trial}: one step binds two temps of one buffer`).toBe(distinct.size);
      }
      for (const k of temps) expect(plan.offsets[k] + buffers[k].bytes).toBeLessThanOrEqual(plan.sizes[plan.assignment[k]]);
    }
  });

  test('a program binding a buffer it does not have is refused', () => {
    expect(() => planMemory({ buffers: [temp(4)], steps: [{ kernel, args: [0, 3] }] })).toThrow('planMemory: step 0 binds buffer 3, but the program has 1');
  });
});
