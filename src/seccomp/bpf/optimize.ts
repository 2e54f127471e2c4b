// Small pure passes over absolute-target programs (see asm.ts). Each keeps verdicts
// unchanged for every input; each is tested alone against the emulator.

import { BPF_ABS, BPF_ALU, BPF_LD, BPF_MISC, BPF_RET, BPF_W, bpfClass, isCondJump } from './insn.js';
import { isJa, isJump, type AbsInsn } from './asm.js';

const LD_ABS = BPF_LD | BPF_W | BPF_ABS;

function successors(i: AbsInsn, pc: number): number[] {
  if (bpfClass(i.code) === BPF_RET) return [];
  if (isJa(i.code)) return [i.jt];
  if (isCondJump(i.code)) return [i.jt, i.jf];
  return [pc + 1];
}

/** Delete the instructions marked dead; a jump to a dead one goes to the next live one. */
export function removeInsns(prog: readonly AbsInsn[], dead: ReadonlySet<number>): AbsInsn[] {
  if (dead.size === 0) return prog.map((i) => ({ ...i }));
  const newIndex = new Array<number>(prog.length + 1);
  let n = 0;
  for (let pc = 0; pc < prog.length; pc++) { newIndex[pc] = n; if (!dead.has(pc)) n++; }
  newIndex[prog.length] = n;
  const map = (t: number): number => newIndex[t]!;
  const out: AbsInsn[] = [];
  prog.forEach((i, pc) => {
    if (dead.has(pc)) return;
    if (isJa(i.code)) out.push({ ...i, jt: map(i.jt) });
    else if (isCondJump(i.code)) out.push({ ...i, jt: map(i.jt), jf: map(i.jf) });
    else out.push({ ...i });
  });
  return out;
}

/**
 * Follow `ja` chains to their end; a conditional jump with equal targets becomes `ja`.
 * Conditional edges are only threaded while they stay within 255 instructions, so that
 * lowering never needs a new trampoline (the other passes only shorten distances).
 */
export function threadJumps(prog: readonly AbsInsn[]): AbsInsn[] {
  const final = (t: number, from: number, limit: number): number => {
    let seen = 0;
    while (prog[t] !== undefined && isJa(prog[t]!.code) && prog[t]!.jt - from - 1 <= limit && seen++ < prog.length) t = prog[t]!.jt;
    return t;
  };
  return prog.map((i, pc) => {
    if (isJa(i.code)) return { ...i, jt: final(i.jt, pc, Infinity) };
    if (isCondJump(i.code)) {
      const jt = final(i.jt, pc, 255);
      const jf = final(i.jf, pc, 255);
      if (jt === jf) return { code: 0x05, k: 0, jt, jf: 0 };
      return { ...i, jt, jf };
    }
    return { ...i };
  });
}

/** Replace `ja L` where L is a `ret` by a copy of that `ret` (one instruction less on the path). */
export function inlineReturnJumps(prog: readonly AbsInsn[]): AbsInsn[] {
  return prog.map((i) => {
    const t = isJa(i.code) ? prog[i.jt] : undefined;
    return t !== undefined && bpfClass(t.code) === BPF_RET ? { ...t } : { ...i };
  });
}

/** Remove `ja` to the next instruction and instructions no path reaches. */
export function removeDeadCode(prog: readonly AbsInsn[]): AbsInsn[] {
  const reach = new Array<boolean>(prog.length).fill(false);
  if (prog.length > 0) reach[0] = true;
  const dead = new Set<number>();
  prog.forEach((i, pc) => {
    if (!reach[pc]) { dead.add(pc); return; }
    if (isJa(i.code) && i.jt === pc + 1) dead.add(pc);
    for (const s of successors(i, pc)) if (s < prog.length) reach[s] = true;
  });
  return removeInsns(prog, dead);
}

/**
 * Drop `ld [k]` when every path into it already left A = [k]: A changes only through loads,
 * ALU ops and `txa`.
 */
export function removeRedundantLoads(prog: readonly AbsInsn[]): AbsInsn[] {
  const UNSET = -1;
  const UNKNOWN = -2;
  const state = new Array<number>(prog.length).fill(UNSET);
  if (prog.length > 0) state[0] = UNKNOWN;
  const dead = new Set<number>();
  prog.forEach((i, pc) => {
    const inS = state[pc]!;
    if (inS === UNSET) return;
    let out = inS;
    const cls = bpfClass(i.code);
    if (i.code === LD_ABS) {
      if (inS === i.k) dead.add(pc);
      out = i.k;
    } else if (cls === BPF_LD || cls === BPF_ALU || (cls === BPF_MISC && i.code !== BPF_MISC)) {
      out = UNKNOWN;
    }
    for (const s of successors(i, pc)) {
      if (s >= prog.length) continue;
      const cur = state[s]!;
      state[s] = cur === UNSET ? out : cur === out ? out : UNKNOWN;
    }
  });
  return removeInsns(prog, dead);
}

/** The passes in order, repeated until the program stops shrinking. */
export function optimize(prog: readonly AbsInsn[]): AbsInsn[] {
  let cur = prog.map((i) => ({ ...i }));
  for (let round = 0; round < 8; round++) {
    const before = JSON.stringify(cur);
    cur = removeDeadCode(inlineReturnJumps(threadJumps(removeRedundantLoads(cur))));
    if (JSON.stringify(cur) === before) break;
  }
  return cur;
}

export { isJump };
