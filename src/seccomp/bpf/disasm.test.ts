import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linux618Names, readFixture } from '../../../test/fixtures/bpf/load.js';
import { disassemble } from './disasm.js';
import { loadProgram } from './program.js';
import { encodeInstructions, decodeInstructions, jump, stmt, BPF_ABS, BPF_JMP, BPF_LD, BPF_RET, BPF_W } from './insn.js';

test('disassemble() names fields, targets and actions', () => {
  const insns = [
    stmt(BPF_LD | BPF_W | BPF_ABS, 4),
    jump(BPF_JMP | 0x15, 0xc000003e, 0, 4),
    stmt(BPF_LD | BPF_W | BPF_ABS, 0),
    jump(BPF_JMP | 0x15, 110, 1, 0),
    stmt(BPF_LD | BPF_W | BPF_ABS, 28),
    stmt(BPF_RET | 0, 0x00050001),
    stmt(BPF_RET | 0, 0x7fff0000),
  ];
  const names = linux618Names();
  const lines = disassemble(insns, { syscallName: (nr) => names.get(nr) }).split('\n');
  assert.equal(lines.length, insns.length);
  assert.match(lines[0]!, /^0000: ld \[arch\]/);
  assert.match(lines[1]!, /jeq #0xc000003e, 0002, 0006 .*; AUDIT_ARCH_X86_64/);
  assert.match(lines[3]!, /jeq #0x6e, 0005, 0004 .*; getppid/);
  assert.match(lines[4]!, /ld \[args\[1\]\.hi\]/);
  assert.match(lines[5]!, /ret ERRNO\(1\)/);
  assert.match(lines[6]!, /ret ALLOW/);
});

test('disassemble() prints one line per instruction of foreign programs', () => {
  const runc = loadProgram(readFixture('runc-1.1.5-default-main.bpf'));
  const text = disassemble(runc);
  assert.equal(text.split('\n').length, runc.length);
  assert.match(text, /jset #0x40000000/);
});

test('encodeInstructions() and decodeInstructions() round-trip sock_filter bytes', () => {
  const bytes = readFixture('libseccomp-2.5.4deb-default-bintree-x86_64.bpf');
  assert.deepEqual(encodeInstructions(decodeInstructions(bytes)), bytes);
  assert.deepEqual(Array.from(encodeInstructions([jump(0x15, 0xc000003e, 1, 2)])), [0x15, 0, 1, 2, 0x3e, 0, 0, 0xc0]);
  assert.throws(() => decodeInstructions(new Uint8Array(7)), RangeError);
  assert.equal(loadProgram(bytes).bytes().length, bytes.length);
});
