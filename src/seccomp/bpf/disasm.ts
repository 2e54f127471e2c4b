// Readable assembly for a classic BPF seccomp program: one line per instruction,
// absolute jump targets, named seccomp_data fields and decoded return actions.

import {
  BPF_ABS, BPF_ALU, BPF_IMM, BPF_JA, BPF_JMP, BPF_LD, BPF_LDX, BPF_LEN, BPF_MEM, BPF_MISC,
  BPF_RET, BPF_ST, BPF_STX, BPF_W, BPF_X, bpfClass, bpfOp, isCondJump, type Instruction,
} from './insn.js';
import { findAuditArchName, formatAction } from './constants.js';
import type { Program } from './program.js';

/** Name of a `seccomp_data` word at byte offset `k`: `nr`, `arch`, `ip.lo`, `args[1].hi`... */
export function seccompFieldName(k: number): string {
  if (k === 0) return 'nr';
  if (k === 4) return 'arch';
  if (k === 8) return 'ip.lo';
  if (k === 12) return 'ip.hi';
  if (k >= 16 && k < 64 && k % 4 === 0) return `args[${(k - 16) >> 3}].${k % 8 === 0 ? 'lo' : 'hi'}`;
  return String(k);
}

const ALU_NAMES: Readonly<Record<number, string>> = {
  0x00: 'add', 0x10: 'sub', 0x20: 'mul', 0x30: 'div', 0x40: 'or', 0x50: 'and', 0x60: 'lsh',
  0x70: 'rsh', 0x80: 'neg', 0x90: 'mod', 0xa0: 'xor',
};
const JMP_NAMES: Readonly<Record<number, string>> = { 0x10: 'jeq', 0x20: 'jgt', 0x30: 'jge', 0x40: 'jset' };

export interface DisassembleOptions {
  /** Names syscall numbers in comments on comparisons against `nr` (arch is the AUDIT_ARCH in force, if known). */
  syscallName?: (nr: number, arch: number | undefined) => string | undefined;
}

/**
 * For each instruction, the seccomp_data offset A holds on entry when every path agrees
 * (undefined = unknown). Also tracks a known arch constant (after `jeq arch` taken).
 */
function accumulatorSources(insns: readonly Instruction[]): (number | undefined)[] {
  const UNSET = -1;
  const state: number[] = new Array<number>(insns.length).fill(UNSET);
  state[0] = -2; // unknown
  const meet = (i: number, v: number): void => {
    if (i >= state.length) return;
    const cur = state[i]!;
    state[i] = cur === UNSET ? v : cur === v ? v : -2;
  };
  insns.forEach((ins, pc) => {
    const inS = state[pc]!;
    if (inS === UNSET) return; // unreachable
    let out = inS;
    const cls = bpfClass(ins.code);
    if (ins.code === (BPF_LD | BPF_W | BPF_ABS)) out = ins.k;
    else if (cls === BPF_LD || cls === BPF_ALU || (cls === BPF_MISC && ins.code !== BPF_MISC)) out = -2;
    if (cls === BPF_RET) return;
    if (cls === BPF_JMP) {
      if (bpfOp(ins.code) === BPF_JA) meet(pc + 1 + ins.k, out);
      else { meet(pc + 1 + ins.jt, out); meet(pc + 1 + ins.jf, out); }
      return;
    }
    meet(pc + 1, out);
  });
  return state.map((s) => (s >= 0 ? s : undefined));
}

/**
 * Disassemble a program into one line per instruction.
 *
 * @example
 * disassemble(program).split('\n')[0]; // '0000: ld [arch]'
 */
export function disassemble(program: readonly Instruction[] | Program, opts: DisassembleOptions = {}): string {
  const insns = 'instructions' in program ? program.instructions : program;
  const sources = accumulatorSources(insns);
  const width = Math.max(4, String(insns.length).length);
  const at = (i: number): string => String(i).padStart(width, '0');
  const hex = (k: number): string => (k < 10 ? String(k) : `0x${(k >>> 0).toString(16)}`);
  let arch: number | undefined;
  return insns.map((ins, pc) => {
    const cls = bpfClass(ins.code);
    const src = sources[pc];
    let text: string;
    let comment = '';
    switch (cls) {
      case BPF_LD:
        if (ins.code === (BPF_LD | BPF_W | BPF_ABS)) text = `ld [${seccompFieldName(ins.k)}]`;
        else if (ins.code === (BPF_LD | BPF_W | BPF_LEN)) text = 'ld #len';
        else if (ins.code === (BPF_LD | BPF_IMM)) text = `ld #${hex(ins.k)}`;
        else if (ins.code === (BPF_LD | BPF_MEM)) text = `ld M[${ins.k}]`;
        else text = `ld? code=0x${ins.code.toString(16)} k=${hex(ins.k)}`;
        break;
      case BPF_LDX:
        if (ins.code === (BPF_LDX | BPF_W | BPF_LEN)) text = 'ldx #len';
        else if (ins.code === (BPF_LDX | BPF_IMM)) text = `ldx #${hex(ins.k)}`;
        else if (ins.code === (BPF_LDX | BPF_MEM)) text = `ldx M[${ins.k}]`;
        else text = `ldx? code=0x${ins.code.toString(16)} k=${hex(ins.k)}`;
        break;
      case BPF_ST: text = `st M[${ins.k}]`; break;
      case BPF_STX: text = `stx M[${ins.k}]`; break;
      case BPF_ALU: {
        const name = ALU_NAMES[bpfOp(ins.code)] ?? 'alu?';
        text = bpfOp(ins.code) === 0x80 ? name : `${name} ${(ins.code & BPF_X) !== 0 ? 'x' : `#${hex(ins.k)}`}`;
        break;
      }
      case BPF_JMP:
        if (bpfOp(ins.code) === BPF_JA) { text = `ja ${at(pc + 1 + ins.k)}`; break; }
        text = `${JMP_NAMES[bpfOp(ins.code)] ?? 'j?'} ${(ins.code & BPF_X) !== 0 ? 'x' : `#${hex(ins.k)}`}, ${at(pc + 1 + ins.jt)}, ${at(pc + 1 + ins.jf)}`;
        if ((ins.code & BPF_X) === 0 && src === 4) {
          const name = findAuditArchName(ins.k);
          if (name !== undefined) comment = name;
          if (bpfOp(ins.code) === 0x10) arch = ins.k;
        } else if ((ins.code & BPF_X) === 0 && src === 0 && bpfOp(ins.code) === 0x10) {
          const name = opts.syscallName?.(ins.k, arch);
          if (name !== undefined) comment = name;
        }
        break;
      case BPF_RET:
        text = (ins.code & 0x18) === 0x10 ? 'ret a' : `ret ${formatAction(ins.k)}`;
        break;
      case BPF_MISC:
        text = ins.code === BPF_MISC ? 'tax' : 'txa';
        break;
      default:
        text = `??? code=0x${ins.code.toString(16)}`;
    }
    if (comment === '' && isCondJump(ins.code) && src !== undefined && src !== 0 && src !== 4) {
      comment = `A = [${seccompFieldName(src)}]`;
    }
    if (comment === '' && cls === BPF_LD && ins.code === (BPF_LD | BPF_W | BPF_ABS)) comment = `[${ins.k}]`;
    const line = `${at(pc)}: ${text}`;
    return comment === '' ? line : `${line.padEnd(40)} ; ${comment}`;
  }).join('\n');
}
