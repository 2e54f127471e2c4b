// A classic BPF interpreter for seccomp filters, with the kernel's semantics:
// 32-bit A/X registers, 16 scratch words, forward jumps, loads from `struct seccomp_data`
// (little-endian: nr i32 @0, arch u32 @4, instruction_pointer u64 @8, args[6] u64 @16).

import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_AND, BPF_DIV, BPF_IMM, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT,
  BPF_JMP, BPF_JSET, BPF_LD, BPF_LDX, BPF_LEN, BPF_LSH, BPF_MEM, BPF_MISC, BPF_MOD, BPF_MUL,
  BPF_NEG, BPF_OR, BPF_RET, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_W, BPF_X, BPF_XOR, bpfClass,
  bpfOp, type Instruction,
} from './insn.js';
import { SECCOMP_DATA_SIZE } from './constants.js';
import { Program, findProgramError, invalidProgram } from './program.js';

export * from './constants.js';

/** What the kernel hands the filter. `args` are u64; missing ones are 0. */
export interface SeccompData {
  nr: number;
  arch: number;
  ip?: bigint;
  args?: readonly bigint[];
}

/** Result of one run: the u32 return value and how many instructions executed. */
export interface FilterTrace {
  ret: number;
  executed: number;
}

const MASK64 = (1n << 64n) - 1n;
const validated = new WeakSet<readonly Instruction[]>();

function checked(program: readonly Instruction[] | Program): readonly Instruction[] {
  if (program instanceof Program) return program.instructions;
  if (!validated.has(program)) {
    const err = findProgramError(program);
    if (err !== undefined) throw err;
    validated.add(program);
  }
  return program;
}

/** The 16 little-endian u32 words of `struct seccomp_data`. */
export function seccompDataWords(data: SeccompData): Uint32Array {
  const words = new Uint32Array(SECCOMP_DATA_SIZE / 4);
  words[0] = data.nr >>> 0;
  words[1] = data.arch >>> 0;
  const ip = BigInt.asUintN(64, data.ip ?? 0n);
  words[2] = Number(ip & 0xffffffffn);
  words[3] = Number(ip >> 32n);
  const args = data.args ?? [];
  if (args.length > 6) throw new RangeError(`Cannot build seccomp_data: ${args.length} args, at most 6`);
  for (let i = 0; i < 6; i++) {
    const a = (args[i] ?? 0n) & MASK64;
    words[4 + 2 * i] = Number(a & 0xffffffffn);
    words[5 + 2 * i] = Number(a >> 32n);
  }
  return words;
}

/**
 * Run a seccomp filter and return its u32 verdict and the number of instructions executed.
 * Raw instruction arrays are validated like the kernel does (throws EngineError ERR_SECCOMP_INVALID_PROGRAM).
 */
export function runFilterTrace(program: readonly Instruction[] | Program, data: SeccompData): FilterTrace {
  const insns = checked(program);
  const words = seccompDataWords(data);
  const mem = new Uint32Array(16);
  let a = 0;
  let x = 0;
  let pc = 0;
  let executed = 0;
  for (;;) {
    const ins = insns[pc];
    if (ins === undefined) throw invalidProgram(`Invalid seccomp program: fell off the end at ${pc}`);
    executed++;
    pc++;
    const { code, k } = ins;
    switch (bpfClass(code)) {
      case BPF_LD:
        if (code === (BPF_LD | BPF_W | BPF_ABS)) a = words[k >>> 2]!;
        else if (code === (BPF_LD | BPF_W | BPF_LEN)) a = SECCOMP_DATA_SIZE;
        else if (code === (BPF_LD | BPF_IMM)) a = k >>> 0;
        else if (code === (BPF_LD | BPF_MEM)) a = mem[k]!;
        break;
      case BPF_LDX:
        if (code === (BPF_LDX | BPF_W | BPF_LEN)) x = SECCOMP_DATA_SIZE;
        else if (code === (BPF_LDX | BPF_IMM)) x = k >>> 0;
        else if (code === (BPF_LDX | BPF_MEM)) x = mem[k]!;
        break;
      case BPF_ST: mem[k] = a; break;
      case BPF_STX: mem[k] = x; break;
      case BPF_ALU: {
        const src = (code & BPF_X) !== 0 ? x : k >>> 0;
        switch (bpfOp(code)) {
          case BPF_ADD: a = (a + src) >>> 0; break;
          case BPF_SUB: a = (a - src) >>> 0; break;
          case BPF_MUL: a = Math.imul(a, src) >>> 0; break;
          // Division by a zero X ends the program with 0 (kernel cBPF->eBPF conversion).
          case BPF_DIV: if (src === 0) return { ret: 0, executed }; a = Math.floor(a / src) >>> 0; break;
          case BPF_MOD: if (src === 0) return { ret: 0, executed }; a = (a % src) >>> 0; break;
          case BPF_OR: a = (a | src) >>> 0; break;
          case BPF_AND: a = (a & src) >>> 0; break;
          case BPF_XOR: a = (a ^ src) >>> 0; break;
          case BPF_LSH: a = (a << (src & 31)) >>> 0; break;
          case BPF_RSH: a = a >>> (src & 31); break;
          case BPF_NEG: a = (-a) >>> 0; break;
        }
        break;
      }
      case BPF_JMP: {
        const op = bpfOp(code);
        if (op === BPF_JA) { pc += k >>> 0; break; }
        const src = (code & BPF_X) !== 0 ? x : k >>> 0;
        let cond: boolean;
        switch (op) {
          case BPF_JEQ: cond = a === src; break;
          case BPF_JGT: cond = a > src; break;
          case BPF_JGE: cond = a >= src; break;
          case BPF_JSET: cond = (a & src) !== 0; break;
          default: cond = false;
        }
        pc += cond ? ins.jt : ins.jf;
        break;
      }
      case BPF_RET:
        return { ret: ((code & 0x18) === 0x10 ? a : k) >>> 0, executed };
      case BPF_MISC:
        if (code === (BPF_MISC | 0x00)) x = a; else a = x;
        break;
    }
  }
}

/**
 * Run a seccomp filter on one `seccomp_data` and return the u32 value it returns
 * (e.g. `SECCOMP_RET_ERRNO | 1`).
 */
export function runFilter(program: readonly Instruction[] | Program, data: SeccompData): number {
  return runFilterTrace(program, data).ret;
}

/** x86_64 `uretprobe` (335) and `uprobe` (336) never reach the filters (seccomp_uprobe_exception). */
const UPROBE_EXEMPT: ReadonlySet<number> = new Set([335, 336]);

/**
 * What a task with several filters sees: every filter runs, newest first; the result whose
 * action compares lowest as a signed 32-bit number wins, and on a tie the newer filter's data
 * is kept (kernel seccomp_run_filters). Native x86_64 uprobe/uretprobe bypass the filters.
 * `programs` is in install order (oldest first).
 */
export function runFilterStack(programs: readonly (readonly Instruction[] | Program)[], data: SeccompData): number {
  if ((data.arch >>> 0) === 0xc000003e && UPROBE_EXEMPT.has(data.nr >>> 0)) return 0x7fff0000;
  let best: number | undefined;
  for (let i = programs.length - 1; i >= 0; i--) {
    const ret = runFilter(programs[i]!, data);
    if (best === undefined || ((ret & 0xffff0000) | 0) < ((best & 0xffff0000) | 0)) best = ret;
  }
  return best ?? 0x7fff0000;
}

/**
 * True if the kernel's action cache (Linux >= 5.11, seccomp_is_const_allow) would mark
 * (`arch`, `nr`) as always allowed for this filter: the path reaches `ret ALLOW` using only
 * loads of nr/arch, jeq/jge/jgt/jset with constants, ja and `and` with a constant. Such
 * syscalls skip BPF entirely. (The kernel only asks for nr below its table size.)
 */
export function isConstAllow(program: readonly Instruction[] | Program, data: Pick<SeccompData, 'nr' | 'arch'>): boolean {
  const insns = checked(program);
  const { nr, arch } = data;
  let a = 0;
  for (let pc = 0; pc < insns.length; pc++) {
    const { code, k, jt, jf } = insns[pc]!;
    switch (code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (k === 0) a = nr >>> 0;
        else if (k === 4) a = arch >>> 0;
        else return false;
        break;
      case BPF_RET: return (k >>> 0) === 0x7fff0000;
      case BPF_JMP | BPF_JA: pc += k; break;
      case BPF_JMP | BPF_JEQ: pc += a === k ? jt : jf; break;
      case BPF_JMP | BPF_JGE: pc += a >= k ? jt : jf; break;
      case BPF_JMP | BPF_JGT: pc += a > k ? jt : jf; break;
      case BPF_JMP | BPF_JSET: pc += (a & k) !== 0 ? jt : jf; break;
      case BPF_ALU | BPF_AND: a = (a & k) >>> 0; break;
      default: return false;
    }
  }
  return false;
}
