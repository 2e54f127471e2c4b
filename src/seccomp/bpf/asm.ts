// A small assembler: labels while building, absolute jump targets for the optimizer
// passes, and lowering to relative offsets with `ja` trampolines for conditional jumps
// that do not fit in 8 bits.

import { BPF_JA, BPF_JMP, BPF_RET, bpfClass, bpfOp, isCondJump, type Instruction } from './insn.js';

/** An instruction whose jumps are absolute indexes: `jt`/`jf` for jeq/jgt/jge/jset, `jt` for ja. */
export interface AbsInsn {
  code: number;
  k: number;
  jt: number;
  jf: number;
}

export type Label = number & { readonly __label: unique symbol };

interface SymInsn {
  code: number;
  k: number;
  jt: Label | undefined; // undefined = next instruction
  jf: Label | undefined;
}

export const isJa = (code: number): boolean => bpfClass(code) === BPF_JMP && bpfOp(code) === BPF_JA;
export const isJump = (code: number): boolean => bpfClass(code) === BPF_JMP;

/** Builds a program with symbolic labels; `finish()` resolves them to absolute targets. */
export class Assembler {
  readonly #insns: SymInsn[] = [];
  readonly #bound = new Map<Label, number>();
  #next = 0;

  newLabel(): Label { return this.#next++ as Label; }

  bind(label: Label): void {
    if (this.#bound.has(label)) throw new Error(`label ${label} bound twice`);
    this.#bound.set(label, this.#insns.length);
  }

  /** Non-jump instruction. */
  op(code: number, k = 0): void { this.#insns.push({ code, k: k >>> 0, jt: undefined, jf: undefined }); }

  /** Conditional jump; an omitted target means the next instruction. */
  jmp(code: number, k: number, jt: Label | undefined, jf: Label | undefined): void {
    this.#insns.push({ code, k: k >>> 0, jt, jf });
  }

  /** Unconditional jump. */
  ja(target: Label): void { this.#insns.push({ code: BPF_JMP | BPF_JA, k: 0, jt: target, jf: undefined }); }

  get position(): number { return this.#insns.length; }

  finish(): AbsInsn[] {
    const at = (l: Label | undefined, pc: number): number => {
      if (l === undefined) return pc + 1;
      const p = this.#bound.get(l);
      if (p === undefined) throw new Error(`label ${l} never bound`);
      return p;
    };
    return this.#insns.map((s, pc) => {
      if (isJa(s.code)) return { code: s.code, k: 0, jt: at(s.jt, pc), jf: 0 };
      if (isCondJump(s.code)) return { code: s.code, k: s.k, jt: at(s.jt, pc), jf: at(s.jf, pc) };
      return { code: s.code, k: s.k, jt: 0, jf: 0 };
    });
  }
}

/** Absolute form of a relative program (for passes over foreign programs). */
export function toAbsolute(insns: readonly Instruction[]): AbsInsn[] {
  return insns.map((i, pc) => {
    if (isJa(i.code)) return { code: i.code, k: 0, jt: pc + 1 + i.k, jf: 0 };
    if (isCondJump(i.code)) return { code: i.code, k: i.k, jt: pc + 1 + i.jt, jf: pc + 1 + i.jf };
    return { code: i.code, k: i.k, jt: 0, jf: 0 };
  });
}

/**
 * Relative form. A conditional jump more than 255 instructions away gets a `ja`
 * trampoline (or a copy of the `ret` it targets) right after it; its other edge skips the
 * inserted instruction. Repeated until all jumps fit.
 * Throws on backward jumps.
 */
export function lower(abs: readonly AbsInsn[]): Instruction[] {
  let prog = abs.map((i) => ({ ...i }));
  for (;;) {
    const far = prog.findIndex((i, pc) => isCondJump(i.code) && (i.jt - pc - 1 > 255 || i.jf - pc - 1 > 255));
    if (far < 0) break;
    const j = prog[far]!;
    const farEdge: 'jt' | 'jf' = j.jt - far - 1 > 255 ? 'jt' : 'jf';
    const target = j[farEdge];
    // Insert the trampoline at far+1: every absolute target >= far+1 shifts by one.
    const shifted = prog.map((i) => {
      const s = (t: number): number => (t >= far + 1 ? t + 1 : t);
      if (isJa(i.code)) return { ...i, jt: s(i.jt) };
      if (isCondJump(i.code)) return { ...i, jt: s(i.jt), jf: s(i.jf) };
      return { ...i };
    });
    const jj = shifted[far]!;
    jj[farEdge] = far + 1;
    // A far `ret` is cheaper copied than jumped to.
    const t = prog[target]!;
    shifted.splice(far + 1, 0, bpfClass(t.code) === BPF_RET ? { ...t } : { code: BPF_JMP | BPF_JA, k: 0, jt: target + 1, jf: 0 });
    prog = shifted;
  }
  return prog.map((i, pc) => {
    if (isJa(i.code)) {
      if (i.jt <= pc) throw new Error(`backward jump at ${pc}`);
      return { code: i.code, jt: 0, jf: 0, k: (i.jt - pc - 1) >>> 0 };
    }
    if (isCondJump(i.code)) {
      if (i.jt <= pc || i.jf <= pc) throw new Error(`backward jump at ${pc}`);
      return { code: i.code, jt: i.jt - pc - 1, jf: i.jf - pc - 1, k: i.k >>> 0 };
    }
    return { code: i.code, jt: 0, jf: 0, k: i.k >>> 0 };
  });
}
