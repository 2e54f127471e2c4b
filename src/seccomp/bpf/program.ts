// The validated program type and the kernel-like checker that makes it.
// Checks follow bpf_check_classic() + check_load_and_stores() in net/core/filter.c and
// seccomp_check_filter() in kernel/seccomp.c.

import {
  BPF_ABS, BPF_ALU, BPF_DIV, BPF_IMM, BPF_JA, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_LEN,
  BPF_LSH, BPF_MAXINSNS, BPF_MEM, BPF_MEMWORDS, BPF_MISC, BPF_MOD, BPF_RET, BPF_RSH, BPF_ST,
  BPF_STX, BPF_W, BPF_X, bpfClass, bpfOp, decodeInstructions, encodeInstructions, isCondJump,
  type Instruction,
} from './insn.js';
import { SECCOMP_DATA_SIZE } from './constants.js';
// base/errors.ts directly: base/index.ts also re-exports host (node:fs) helpers.
import { EngineError } from '../../base/index.js';

/** Every opcode seccomp accepts (seccomp_check_filter's allow list, before rewriting). */
const SECCOMP_OPCODES: ReadonlySet<number> = new Set([
  BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_W | BPF_LEN, BPF_LDX | BPF_W | BPF_LEN,
  BPF_RET | BPF_K, BPF_RET | 0x10,
  ...[0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0].flatMap((op) => [BPF_ALU | op | BPF_K, BPF_ALU | op | BPF_X]),
  BPF_ALU | 0x80,
  BPF_LD | BPF_IMM, BPF_LDX | BPF_IMM, BPF_MISC | 0x00, BPF_MISC | 0x80,
  BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM, BPF_ST, BPF_STX,
  BPF_JMP | BPF_JA,
  ...[0x10, 0x20, 0x30, 0x40].flatMap((op) => [BPF_JMP | op | BPF_K, BPF_JMP | op | BPF_X]),
]);

/** Error for a program the kernel would reject (kind 'invalid', code ERR_SECCOMP_INVALID_PROGRAM). */
export function invalidProgram(message: string): EngineError {
  return new EngineError('invalid', 'ERR_SECCOMP_INVALID_PROGRAM', message);
}

/** Returns undefined if the kernel would accept `insns` as a seccomp filter, else the reason. */
export function findProgramError(insns: readonly Instruction[]): EngineError | undefined {
  const n = insns.length;
  if (n < 1 || n > BPF_MAXINSNS) {
    return invalidProgram(`Invalid seccomp program: length ${n} is outside 1..${BPF_MAXINSNS}`);
  }
  for (let pc = 0; pc < n; pc++) {
    const ins = insns[pc]!;
    const bad = (why: string): EngineError =>
      invalidProgram(`Invalid seccomp program: instruction ${pc}: ${why}`);
    if (!SECCOMP_OPCODES.has(ins.code)) return bad(`opcode 0x${ins.code.toString(16)} is not allowed`);
    const cls = bpfClass(ins.code);
    if (ins.code === (BPF_LD | BPF_W | BPF_ABS)) {
      if (ins.k >= SECCOMP_DATA_SIZE || (ins.k & 3) !== 0) return bad(`load offset ${ins.k} is not an aligned word of seccomp_data`);
    }
    if (cls === BPF_ALU && bpfOp(ins.code) !== 0x80 && (ins.code & BPF_X) === 0) {
      const op = bpfOp(ins.code);
      if ((op === BPF_DIV || op === BPF_MOD) && ins.k === 0) return bad('division by constant zero');
      if ((op === BPF_LSH || op === BPF_RSH) && ins.k >= 32) return bad(`shift by ${ins.k}`);
    }
    if (ins.code === (BPF_LD | BPF_MEM) || ins.code === (BPF_LDX | BPF_MEM) || cls === BPF_ST || cls === BPF_STX) {
      if (ins.k >= BPF_MEMWORDS) return bad(`scratch memory index ${ins.k} is out of range`);
    }
    if (ins.code === (BPF_JMP | BPF_JA)) {
      if (ins.k >= n - pc - 1) return bad(`jump offset ${ins.k} leaves the program`);
    } else if (isCondJump(ins.code)) {
      if (pc + ins.jt + 1 >= n || pc + ins.jf + 1 >= n) return bad(`jump offsets ${ins.jt}/${ins.jf} leave the program`);
    }
  }
  const last = insns[n - 1]!;
  if (bpfClass(last.code) !== BPF_RET) {
    return invalidProgram('Invalid seccomp program: the last instruction is not a return');
  }
  // Scratch memory must be written before it is read, on every path (check_load_and_stores).
  const masks = new Uint16Array(n).fill(0xffff);
  let memvalid = 0;
  for (let pc = 0; pc < n; pc++) {
    const ins = insns[pc]!;
    memvalid &= masks[pc]!;
    const cls = bpfClass(ins.code);
    if (cls === BPF_ST || cls === BPF_STX) {
      memvalid |= 1 << ins.k;
    } else if (ins.code === (BPF_LD | BPF_MEM) || ins.code === (BPF_LDX | BPF_MEM)) {
      if ((memvalid & (1 << ins.k)) === 0) {
        return invalidProgram(`Invalid seccomp program: instruction ${pc}: reads scratch memory ${ins.k} before any write`);
      }
    } else if (ins.code === (BPF_JMP | BPF_JA)) {
      masks[pc + 1 + ins.k] = masks[pc + 1 + ins.k]! & memvalid;
      memvalid = 0xffff;
    } else if (isCondJump(ins.code)) {
      masks[pc + 1 + ins.jt] = masks[pc + 1 + ins.jt]! & memvalid;
      masks[pc + 1 + ins.jf] = masks[pc + 1 + ins.jf]! & memvalid;
      memvalid = 0xffff;
    }
  }
  return undefined;
}

const TOKEN: unique symbol = Symbol('moat.seccomp.Program');

/**
 * A classic BPF seccomp program the kernel would accept. Only `compileSeccomp()` and
 * `loadProgram()` make one.
 */
export class Program {
  readonly instructions: readonly Instruction[];
  /** @internal */
  constructor(token: typeof TOKEN, instructions: readonly Instruction[]) {
    if (token !== TOKEN) throw new TypeError('Program is created by compileSeccomp() or loadProgram()');
    this.instructions = Object.freeze(instructions.map((i) => Object.freeze({ code: i.code, jt: i.jt, jf: i.jf, k: i.k >>> 0 })));
  }
  /** Number of instructions. */
  get length(): number { return this.instructions.length; }
  /** Raw little-endian `struct sock_filter` array, as passed to seccomp(2). */
  bytes(): Uint8Array { return encodeInstructions(this.instructions); }
}

/** Internal: wrap instructions after validation. Throws EngineError ERR_SECCOMP_INVALID_PROGRAM. */
export function createProgram(insns: readonly Instruction[]): Program {
  const err = findProgramError(insns);
  if (err !== undefined) throw err;
  return new Program(TOKEN, insns);
}

/** Decode and validate raw `sock_filter` bytes. Throws EngineError ERR_SECCOMP_INVALID_PROGRAM / RangeError. */
export function loadProgram(bytes: Uint8Array): Program {
  return createProgram(decodeInstructions(bytes));
}
