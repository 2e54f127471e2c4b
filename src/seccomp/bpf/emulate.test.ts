import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFixture, readTsvFixture } from '../../../test/fixtures/bpf/load.js';
import {
  AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, formatAction, isConstAllow, runFilter, runFilterStack,
  runFilterTrace, type SeccompData,
} from './emulate.js';
import { loadProgram } from './program.js';
import { BPF_ABS, BPF_ALU, BPF_IMM, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_MEM, BPF_RET, BPF_W, BPF_X, jump, stmt, type Instruction } from './insn.js';

const SYMBOLS: Readonly<Record<string, bigint>> = {
  AF_INET: 2n, AF_ALG: 38n, AF_NFC: 39n, AF_VSOCK: 40n, CLONE_NEWUSER: 0x10000000n, SIGCHLD: 17n,
};

/** A verdicts-runc-default-main.tsv row as seccomp_data. */
function rowData(row: Record<string, string>): SeccompData {
  const name = row['name']!;
  const nr = Number(row['nr']);
  const arch = name.startsWith('i386:') ? AUDIT_ARCH_I386 : name.startsWith('aarch64:') ? AUDIT_ARCH_AARCH64 : AUDIT_ARCH_X86_64;
  const m = /\((.*)\)$/.exec(name);
  if (m === null) return { nr, arch };
  const arg0 = m[1]!.split('|').reduce((acc, s) => acc | (SYMBOLS[s] ?? BigInt(s)), 0n);
  return { nr, arch, args: [arg0] };
}

test('runFilterTrace() reproduces every verdict and path length of the runc 1.1.5 dump', () => {
  const runc = loadProgram(readFixture('runc-1.1.5-default-main.bpf'));
  assert.equal(runc.length, 1015);
  const rows = readTsvFixture('verdicts-runc-default-main.tsv');
  assert.ok(rows.length > 400);
  for (const row of rows) {
    const { ret, executed } = runFilterTrace(runc, rowData(row));
    assert.equal(ret, Number(row['ret_hex']), `${row['name']}: ${formatAction(ret)}`);
    assert.equal(executed, Number(row['path']), `${row['name']} path`);
  }
});

test('runFilterStack() agrees with the probe battery run under runc', () => {
  const runc = loadProgram(readFixture('runc-1.1.5-default-main.bpf'));
  for (const row of readTsvFixture('battery.tsv')) {
    const args = row['args'] === '' ? [] : row['args']!.split(',').map((s) => BigInt(s));
    const ret = runFilterStack([runc], { nr: Number(row['nr']), arch: AUDIT_ARCH_X86_64, args });
    const seen = row['moby_main_runc']!;
    if (((ret & SECCOMP_RET_ACTION_FULL) >>> 0) === SECCOMP_RET_ERRNO) {
      assert.equal(seen, `-1/${Math.min(ret & 0xffff, 4095)}`, row['label']);
    } else {
      assert.equal(ret, SECCOMP_RET_ALLOW, row['label']);
      const none = row['no_filter']!;
      assert.ok(seen === none || (Number(seen.split('/')[0]) >= 0 && Number(none.split('/')[0]) >= 0), `${row['label']}: ${seen} vs ${none}`);
    }
  }
});

test('libseccomp linear and binary-tree exports give the same verdicts', () => {
  for (const arches of ['x86_64', '3arch']) {
    const linear = loadProgram(readFixture(`libseccomp-2.5.4deb-default-linear-${arches}.bpf`));
    const tree = loadProgram(readFixture(`libseccomp-2.5.4deb-default-bintree-${arches}.bpf`));
    for (const arch of [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64]) {
      for (let nr = 0; nr < 1024; nr++) {
        for (const n of [nr, nr | 0x40000000]) {
          assert.equal(runFilter(linear, { nr: n, arch }), runFilter(tree, { nr: n, arch }), `${arches} ${arch.toString(16)} ${n}`);
        }
      }
    }
  }
});

const run = (insns: Instruction[], data: SeccompData = { nr: 0, arch: 0 }): number => runFilter(insns, data);

test('runFilter() implements loads, ALU, scratch memory, X and ret A', () => {
  const ldImm = (k: number): Instruction => stmt(BPF_LD | BPF_IMM, k);
  const alu = (op: number, k: number): Instruction => stmt(BPF_ALU | op | BPF_K, k);
  const retA = stmt(BPF_RET | 0x10, 0);
  assert.equal(run([ldImm(0xfffffffe), alu(0x00, 3), retA]), 1); // add wraps
  assert.equal(run([ldImm(1), alu(0x10, 2), retA]), 0xffffffff); // sub wraps
  assert.equal(run([ldImm(0x10000), alu(0x20, 0x10000), retA]), 0); // mul wraps
  assert.equal(run([ldImm(7), alu(0x30, 2), retA]), 3);
  assert.equal(run([ldImm(0x80000000), alu(0x70, 31), retA]), 1);
  assert.equal(run([ldImm(1), alu(0x60, 31), retA]), 0x80000000);
  assert.equal(run([ldImm(5), stmt(BPF_ALU | 0x80, 0), retA]), 0xfffffffb);
  assert.equal(run([ldImm(0xf0f0), alu(0xa0, 0xffff), retA]), 0x0f0f);
  // scratch memory, tax/txa, X operands
  assert.equal(run([ldImm(9), stmt(0x02, 3), stmt(BPF_LDX | BPF_MEM, 3), ldImm(4), stmt(BPF_ALU | 0x00 | BPF_X, 0), retA]), 13);
  assert.equal(run([ldImm(6), stmt(0x07, 0), ldImm(0), stmt(0x87, 0), retA]), 6);
  // division by a zero X returns 0
  assert.equal(run([ldImm(6), stmt(BPF_LDX | BPF_IMM, 0), stmt(BPF_ALU | 0x30 | BPF_X, 0), stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)]), 0);
  // ld len is 64
  assert.equal(run([stmt(BPF_LD | BPF_W | 0x80, 0), retA]), 64);
  // seccomp_data layout: nr, arch, ip, args lo/hi, little-endian
  const data: SeccompData = { nr: -1, arch: AUDIT_ARCH_X86_64, ip: 0x1122334455667788n, args: [0n, 0xaabbccdd00112233n] };
  const ld = (k: number): number => run([stmt(BPF_LD | BPF_W | BPF_ABS, k), retA], data);
  assert.deepEqual([ld(0), ld(4), ld(8), ld(12), ld(24), ld(28), ld(60)], [0xffffffff, AUDIT_ARCH_X86_64, 0x55667788, 0x11223344, 0x00112233, 0xaabbccdd, 0]);
});

test('runFilter() takes jt/jf for jeq, jgt, jge and jset, K and X', () => {
  const prog = (code: number, k: number): Instruction[] => [
    stmt(BPF_LD | BPF_W | BPF_ABS, 0), stmt(BPF_LDX | BPF_IMM, 5), jump(BPF_JMP | code, k, 0, 1),
    stmt(BPF_RET | BPF_K, SECCOMP_RET_TRAP), stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD),
  ];
  const t = (code: number, k: number, nr: number): boolean => run(prog(code, k), { nr, arch: 0 }) === SECCOMP_RET_TRAP;
  assert.deepEqual([t(0x15, 5, 5), t(0x15, 5, 6), t(0x25, 5, 6), t(0x25, 5, 5), t(0x35, 5, 5), t(0x35, 5, 4)], [true, false, true, false, true, false]);
  assert.deepEqual([t(0x45, 4, 6), t(0x45, 4, 3), t(0x1d, 0, 5), t(0x2d, 0, 0xffffffff), t(0x3d, 0, 4), t(0x4d, 0, 2)], [true, false, true, true, false, false]);
});

test('runFilter() rejects programs the kernel rejects', () => {
  const ret = stmt(BPF_RET | BPF_K, 0);
  const bad: [string, Instruction[]][] = [
    ['empty', []],
    ['too long', new Array<Instruction>(4097).fill(ret)],
    ['unaligned load', [stmt(BPF_LD | BPF_W | BPF_ABS, 2), ret]],
    ['load past seccomp_data', [stmt(BPF_LD | BPF_W | BPF_ABS, 64), ret]],
    ['16-bit load', [stmt(BPF_LD | 0x08 | BPF_ABS, 0), ret]],
    ['indirect load', [stmt(BPF_LD | BPF_W | 0x40, 0), ret]],
    ['no final ret', [ret, stmt(BPF_LD | BPF_W | BPF_ABS, 0)]],
    ['jump past the end', [jump(BPF_JMP | 0x15, 0, 1, 0), ret]],
    ['ja past the end', [stmt(BPF_JMP, 1), ret]],
    ['memory read before write', [stmt(BPF_LD | BPF_MEM, 0), ret]],
    ['memory write on one path only', [jump(BPF_JMP | 0x15, 0, 0, 1), stmt(0x02, 1), stmt(BPF_LDX | BPF_MEM, 1), ret]],
    ['memory index 16', [stmt(0x02, 16), ret]],
    ['division by constant zero', [stmt(BPF_ALU | 0x30, 0), ret]],
    ['mod opcode', [stmt(BPF_ALU | 0x90, 3), ret]],
    ['ret X', [stmt(BPF_RET | 0x08, 0)]],
  ];
  for (const [why, insns] of bad) {
    assert.throws(() => run(insns), (e: unknown) => (e as { code?: string }).code === 'ERR_SECCOMP_INVALID_PROGRAM', why);
  }
  assert.equal(run([stmt(0x02, 1), stmt(BPF_LD | BPF_MEM, 1), stmt(BPF_RET | 0x10, 0)]), 0);
});

test('runFilterStack() keeps the strictest action, newest first on ties, and exempts uprobe', () => {
  const ret = (k: number): Instruction[] => [stmt(BPF_RET | BPF_K, k)];
  const data = { nr: 83, arch: AUDIT_ARCH_X86_64 };
  assert.equal(runFilterStack([ret(SECCOMP_RET_ERRNO | 7), ret(SECCOMP_RET_ERRNO | 5)], data), SECCOMP_RET_ERRNO | 5);
  assert.equal(runFilterStack([ret(SECCOMP_RET_ALLOW), ret(SECCOMP_RET_TRAP), ret(0x7ffc0000)], data), SECCOMP_RET_TRAP);
  assert.equal(runFilterStack([ret(SECCOMP_RET_ERRNO | 1), ret(0x80000000)], data), 0x80000000);
  assert.equal(runFilterStack([ret(SECCOMP_RET_ERRNO | 1)], { nr: 336, arch: AUDIT_ARCH_X86_64 }), SECCOMP_RET_ALLOW);
});

test('isConstAllow() finds the 298 x86_64 and 350 i386 numbers the kernel caches for runc\'s filter', () => {
  const runc = loadProgram(readFixture('runc-1.1.5-default-main.bpf'));
  const count = (arch: number): number => Array.from({ length: 470 }, (_, nr) => nr).filter((nr) => isConstAllow(runc, { arch, nr })).length;
  assert.equal(count(AUDIT_ARCH_X86_64), 298);
  assert.equal(count(AUDIT_ARCH_I386), 350);
  assert.equal(isConstAllow(runc, { arch: AUDIT_ARCH_X86_64, nr: 41 }), false); // socket: argument test
});
