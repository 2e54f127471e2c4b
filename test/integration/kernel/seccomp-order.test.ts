// Issue 18 (Phase E): moatd hands runc each rule's names in libseccomp's fastest order
// (orderForLibseccomp). The filter must be exactly the one the profile's own order gives:
// libseccomp's program for both orders (as runc 1.1 builds it; runc adds no ENOSYS stub when
// the default errno is ENOSYS) is compared byte for byte and, so the test still means
// something if the bytes ever differ, by running both programs over every syscall number of
// x86_64, i386 and x32 and, for the calls the rules compare arguments of, the values each
// comparison tests and those around them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { libseccompProgram } from '../../helpers/seccomp-workbench/index.js';
import {
  AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, defaultProfile, loadProgram, orderForLibseccomp, resolveProfile, runFilter, toNotifyProfile,
  type LinuxSeccomp, type Profile, type Program, type SeccompData,
} from '../../../src/seccomp/index.js';
import { ALL_CAPS, MOAT_DEFAULT_CAPS } from '../../../src/caps/index.js';

/** The resolved section as the profile orders it (what runc got before) and as moatd now writes it. */
function profileOrder(profile: Profile, caps: readonly string[], notify = false): { ordered: LinuxSeccomp; original: LinuxSeccomp } {
  const resolved = resolveProfile(profile, { arch: 'SCMP_ARCH_X86_64', capabilities: caps, kernel: '6.18.0' }).seccomp;
  // With the explainer, runc gets the ERRNO rules as NOTIFY rules (toNotifyProfile), then ordered.
  const original = notify ? toNotifyProfile(resolved, '/run/moat-test/seccomp.sock').seccomp : resolved;
  return { ordered: orderForLibseccomp(original, 'SCMP_ARCH_X86_64'), original };
}

/** Argument values worth testing: each compared value, its mask, and their neighbours. */
function argValues(s: LinuxSeccomp): bigint[] {
  const out = new Set<bigint>([0n, 1n, 0xffffffffn, 0x100000000n, 0xffffffffffffffffn]);
  for (const r of s.syscalls ?? []) {
    for (const a of r.args ?? []) {
      for (const v of [BigInt(a.value), BigInt(a.valueTwo ?? 0)]) {
        for (const d of [v - 1n, v, v + 1n, v | 1n, v | 0x80000000n]) if (d >= 0n && d <= 0xffffffffffffffffn) out.add(d);
      }
    }
  }
  return [...out];
}

function cases(values: readonly bigint[]): SeccompData[] {
  const out: SeccompData[] = [];
  const nrs = Array.from({ length: 1100 }, (_, i) => i);
  for (const arch of [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386]) {
    for (const nr of nrs) {
      out.push({ nr, arch });
      // Arguments only matter where a rule compares them; trying them everywhere costs little.
      for (const v of values) out.push({ nr, arch, args: [v, v] }, { nr, arch, args: [v, 0n] }, { nr, arch, args: [0n, v] });
    }
  }
  for (const nr of nrs) out.push({ nr: (nr | X32_SYSCALL_BIT) >>> 0, arch: AUDIT_ARCH_X86_64 });
  out.push({ nr: 0xffffffff, arch: AUDIT_ARCH_X86_64 }, { nr: 0x7fffffff, arch: AUDIT_ARCH_X86_64 });
  return out;
}

function firstDifference(a: Program, b: Program, data: readonly SeccompData[]): string | undefined {
  for (const d of data) {
    const x = runFilter(a, d);
    const y = runFilter(b, d);
    if (x !== y) return `nr ${d.nr} arch 0x${d.arch.toString(16)} args ${(d.args ?? []).join(',')}: 0x${x.toString(16)} vs 0x${y.toString(16)}`;
  }
  return undefined;
}

const VARIANTS: ReadonlyArray<{ name: string; x32: boolean; caps: readonly string[]; notify?: boolean }> = [
  { name: 'default caps, x86_64 + x86', x32: false, caps: MOAT_DEFAULT_CAPS },
  { name: 'default caps, x86_64 + x86, explainer (notify rules)', x32: false, caps: MOAT_DEFAULT_CAPS, notify: true },
  { name: 'default caps, x86_64 + x86 + x32', x32: true, caps: MOAT_DEFAULT_CAPS },
  { name: 'all caps, x86_64 + x86', x32: false, caps: ALL_CAPS },
  { name: 'no caps, x86_64 + x86', x32: false, caps: [] },
];

for (const v of VARIANTS) {
  test(`default profile (${v.name}): libseccomp order gives the same filter as the profile's order`, (t) => {
    if (!requires(t, 'gcc')) return;
    const { ordered, original } = profileOrder(defaultProfile({ x32: v.x32 }), v.caps, v.notify === true);
    // The reordering really happened (else this test would compare a thing with itself).
    assert.notDeepEqual(ordered.syscalls!.map((r) => r.names), original.syscalls!.map((r) => r.names));
    const a = libseccompProgram(original);
    const b = libseccompProgram(ordered);
    assert.ok(a.length > 0);
    const data = cases(argValues(original));
    assert.equal(firstDifference(loadProgram(a), loadProgram(b), data), undefined);
    assert.ok(a.equals(b), 'libseccomp program bytes differ');
  });
}

test('the comparison fails for a filter that differs in one syscall', (t) => {
  if (!requires(t, 'gcc')) return;
  const { ordered, original } = profileOrder(defaultProfile({ x32: false }), MOAT_DEFAULT_CAPS);
  // Move getppid from the allow rule to EPERM: one number per arch changes.
  const changed = structuredClone(ordered);
  changed.syscalls![0]!.names = changed.syscalls![0]!.names.filter((n) => n !== 'getppid');
  changed.syscalls!.push({ names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 });
  const diff = firstDifference(loadProgram(libseccompProgram(original)), loadProgram(libseccompProgram(changed)), cases([0n]));
  assert.match(diff ?? '', /^nr 110 arch 0xc000003e/);
});
