// Classic BPF as seccomp uses it: opcodes, the `struct sock_filter` record and its raw
// encoding. Kernel sources: include/uapi/linux/filter.h, include/uapi/linux/bpf_common.h.
// All `k` values are u32 (normalised with `>>> 0`).

/** One `struct sock_filter`: u16 code, u8 jt, u8 jf, u32 k. */
export interface Instruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

// Instruction classes.
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_MISC = 0x07;

// ld/ldx sizes and modes.
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_LEN = 0x80;
export const BPF_MSH = 0xa0;

// alu/jmp operations.
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;

export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;

// Operand source.
export const BPF_K = 0x00;
export const BPF_X = 0x08;
// ret operand.
export const BPF_A = 0x10;
// misc.
export const BPF_TAX = 0x00;
export const BPF_TXA = 0x80;

/** Kernel limit for one program (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;
/** Scratch memory words (BPF_MEMWORDS). */
export const BPF_MEMWORDS = 16;
/** Bytes per encoded `struct sock_filter`. */
export const SOCK_FILTER_SIZE = 8;

export const bpfClass = (code: number): number => code & 0x07;
export const bpfSize = (code: number): number => code & 0x18;
export const bpfMode = (code: number): number => code & 0xe0;
export const bpfOp = (code: number): number => code & 0xf0;
export const bpfSrc = (code: number): number => code & 0x08;

/** Build a non-jump instruction (BPF_STMT). */
export function stmt(code: number, k: number): Instruction {
  return { code: code & 0xffff, jt: 0, jf: 0, k: k >>> 0 };
}

/** Build a jump instruction with relative offsets (BPF_JUMP). */
export function jump(code: number, k: number, jt: number, jf: number): Instruction {
  return { code: code & 0xffff, jt: jt & 0xff, jf: jf & 0xff, k: k >>> 0 };
}

/** True for a conditional jump (jeq/jgt/jge/jset, K or X). */
export function isCondJump(code: number): boolean {
  return bpfClass(code) === BPF_JMP && bpfOp(code) !== BPF_JA;
}

/** Encode instructions as raw little-endian `sock_filter` bytes. */
export function encodeInstructions(insns: readonly Instruction[]): Uint8Array {
  const out = new Uint8Array(insns.length * SOCK_FILTER_SIZE);
  const view = new DataView(out.buffer);
  insns.forEach((ins, i) => {
    const o = i * SOCK_FILTER_SIZE;
    view.setUint16(o, ins.code & 0xffff, true);
    view.setUint8(o + 2, ins.jt & 0xff);
    view.setUint8(o + 3, ins.jf & 0xff);
    view.setUint32(o + 4, ins.k >>> 0, true);
  });
  return out;
}

/**
 * Decode raw little-endian `sock_filter` bytes. Throws if the length is not a multiple of
 * 8; does not validate the program (see `loadProgram`).
 */
export function decodeInstructions(bytes: Uint8Array): Instruction[] {
  if (bytes.length % SOCK_FILTER_SIZE !== 0) {
    throw new RangeError(`Cannot decode BPF program: ${bytes.length} bytes is not a multiple of ${SOCK_FILTER_SIZE}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Instruction[] = [];
  for (let o = 0; o < bytes.length; o += SOCK_FILTER_SIZE) {
    out.push({ code: view.getUint16(o, true), jt: view.getUint8(o + 2), jf: view.getUint8(o + 3), k: view.getUint32(o + 4, true) });
  }
  return out;
}
