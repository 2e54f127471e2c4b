import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LinuxSeccomp } from '../oci.js';
import { linux618Resolver, readFixture, readJsonFixture } from '../../../test/fixtures/bpf/load.js';
import { lower, toAbsolute, type AbsInsn } from './asm.js';
import { planSeccomp } from './compile.js';
import { AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, runFilter, runFilterTrace, type SeccompData } from './emulate.js';
import { decodeInstructions, jump, stmt, BPF_ABS, BPF_JMP, BPF_LD, BPF_RET, BPF_W } from './insn.js';
import { inlineReturnJumps, optimize, removeDeadCode, removeRedundantLoads, threadJumps } from './optimize.js';

const PASSES: Readonly<Record<string, (p: readonly AbsInsn[]) => AbsInsn[]>> = {
  threadJumps, inlineReturnJumps, removeDeadCode, removeRedundantLoads, optimize,
};

const DEFAULT = readJsonFixture<LinuxSeccomp>('default-main.oci-amd64-defaultcaps.json');

function cases(): SeccompData[] {
  const out: SeccompData[] = [];
  for (const arch of [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, 0]) {
    for (let nr = 0; nr < 600; nr++) out.push({ nr, arch }, { nr: nr | 0x40000000, arch });
    for (const nr of [41, 56, 135, 102, 120, 359, 0x40000029]) {
      for (const a of [0n, 8n, 38n, 39n, 40n, 0x10000011n, 0xffffffffn, 0x100000002n]) out.push({ nr, arch, args: [a, a] });
    }
  }
  return out;
}

/** Programs to run the passes on: our unoptimised plans and libseccomp's exports. */
function subjects(): [string, AbsInsn[]][] {
  const resolveNr = linux618Resolver(true);
  return [
    ['plan x86_64', planSeccomp({ ...DEFAULT, architectures: ['SCMP_ARCH_X86_64'] }, { arch: 'SCMP_ARCH_X86_64', resolveNr })],
    ['plan 3 arches', planSeccomp(DEFAULT, { arch: 'SCMP_ARCH_X86_64', resolveNr })],
    ['libseccomp linear', toAbsolute(decodeInstructions(readFixture('libseccomp-2.5.4deb-default-linear-3arch.bpf')))],
    ['libseccomp bintree', toAbsolute(decodeInstructions(readFixture('libseccomp-2.5.4deb-default-bintree-3arch.bpf')))],
  ];
}

for (const [name, pass] of Object.entries(PASSES)) {
  test(`${name}() keeps every verdict and never grows a program`, (t) => {
    const data = cases();
    for (const [what, abs] of subjects()) {
      const before = lower(abs);
      const after = lower(pass(abs));
      assert.ok(after.length <= before.length, `${what}: ${before.length} -> ${after.length}`);
      let pathBefore = 0;
      let pathAfter = 0;
      for (const d of data) {
        const a = runFilterTrace(before, d);
        const b = runFilterTrace(after, d);
        assert.equal(b.ret, a.ret, `${what}: nr ${d.nr}`);
        pathBefore += a.executed;
        pathAfter += b.executed;
      }
      assert.ok(pathAfter <= pathBefore, `${what}: executed ${pathBefore} -> ${pathAfter}`);
      t.diagnostic(`${what}: ${before.length} -> ${after.length} instructions, executed ${pathBefore} -> ${pathAfter}`);
    }
  });
}

test('removeRedundantLoads() drops a load only when every path already loaded it', () => {
  const ld = (k: number): AbsInsn => ({ code: BPF_LD | BPF_W | BPF_ABS, k, jt: 0, jf: 0 });
  const ret = (k: number): AbsInsn => ({ code: BPF_RET, k, jt: 0, jf: 0 });
  // 0: ld nr; 1: jeq 1 -> 3 else 2; 2: ld arch; 3: ld nr (needed: the path via 2 changed A); 4: ret
  const prog: AbsInsn[] = [ld(0), { code: BPF_JMP | 0x15, k: 1, jt: 3, jf: 2 }, ld(4), ld(0), ret(0)];
  assert.equal(removeRedundantLoads(prog).length, 5);
  // without the ld arch both paths hold nr
  const prog2: AbsInsn[] = [ld(0), { code: BPF_JMP | 0x15, k: 1, jt: 2, jf: 2 }, ld(0), ret(0)];
  assert.equal(removeRedundantLoads(prog2).length, 3);
});

test('lower() inserts a trampoline for a conditional jump beyond 255', () => {
  const far: AbsInsn[] = [
    { code: BPF_LD | BPF_W | BPF_ABS, k: 0, jt: 0, jf: 0 },
    { code: BPF_JMP | 0x15, k: 7, jt: 302, jf: 2 },
    ...Array.from({ length: 300 }, () => ({ code: BPF_RET, k: 0x50001, jt: 0, jf: 0 })),
    { code: BPF_RET, k: 0x7fff0000, jt: 0, jf: 0 },
  ];
  const insns = lower(far);
  assert.equal(insns.length, far.length + 1);
  assert.equal(runFilter(insns, { nr: 7, arch: 0 }), 0x7fff0000);
  assert.equal(runFilter(insns, { nr: 8, arch: 0 }), 0x50001);
  assert.deepEqual(lower([{ code: BPF_JMP | 0x15, k: 0, jt: 1, jf: 2 }, ...[0, 1].map((k) => ({ code: BPF_RET, k, jt: 0, jf: 0 }))]), [jump(BPF_JMP | 0x15, 0, 0, 1), stmt(BPF_RET, 0), stmt(BPF_RET, 1)]);
});
