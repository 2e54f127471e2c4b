// A plain evaluator of an OCI seccomp section: no BPF, no optimisation, written apart from
// compile.ts so that the two can be compared (the tests' oracle). The semantics it defines
// are listed at the top of compile.ts.

import type { SeccompAction } from '../oci.js';
import type { CompileArg, CompileInput, CompileOptions } from './compile.js';
import type { SeccompData } from './emulate.js';

const AUDIT_X86_64 = 0xc000003e;
const AUDIT_I386 = 0x40000003;
const AUDIT_AARCH64 = 0xc00000b7;
const AUDIT_ARM = 0x40000028;
const X32_BIT = 0x40000000;

function retOf(action: SeccompAction, errno: number | undefined): number {
  switch (action) {
    case 'SCMP_ACT_KILL': case 'SCMP_ACT_KILL_THREAD': return 0;
    case 'SCMP_ACT_KILL_PROCESS': return 0x80000000;
    case 'SCMP_ACT_TRAP': return 0x00030000;
    case 'SCMP_ACT_ERRNO': return 0x00050000 + (errno ?? 1);
    case 'SCMP_ACT_TRACE': return 0x7ff00000 + (errno ?? 1);
    case 'SCMP_ACT_LOG': return 0x7ffc0000;
    case 'SCMP_ACT_ALLOW': return 0x7fff0000;
    case 'SCMP_ACT_NOTIFY': return 0x7fc00000;
  }
  throw new Error(`unknown action ${String(action)}`);
}

/** Lower = wins, as the kernel orders actions. */
const rank = (ret: number): number => Math.floor(ret / 0x10000) * 0x10000 - (ret >= 0x80000000 ? 2 ** 32 : 0);

/**
 * The u32 the profile gives `data`, evaluated directly from the rules.
 *
 * @example
 * evaluateSeccomp(profile, { nr: 110, arch: AUDIT_ARCH_X86_64 }, { arch: 'SCMP_ARCH_X86_64', resolveNr });
 */
export function evaluateSeccomp(input: CompileInput, data: SeccompData, opts: CompileOptions): number {
  const defaultRet = retOf(input.defaultAction, input.defaultErrnoRet);
  const badArch = (opts.badArchRet ?? 0) >>> 0;
  const listed = input.architectures ?? [];
  const arch = data.arch >>> 0;
  const nr = data.nr >>> 0;
  let sub: string;
  let width: 32 | 64;
  if (opts.arch === 'SCMP_ARCH_X86_64' && arch === AUDIT_X86_64) {
    width = 64;
    if (nr >= X32_BIT) {
      if (listed.includes('SCMP_ARCH_X32')) { sub = 'SCMP_ARCH_X32'; width = 32; }
      else return nr === 0xffffffff ? defaultRet : badArch;
    } else sub = 'SCMP_ARCH_X86_64';
  } else if (opts.arch === 'SCMP_ARCH_X86_64' && arch === AUDIT_I386 && listed.includes('SCMP_ARCH_X86')) {
    width = 32; sub = 'SCMP_ARCH_X86';
  } else if (opts.arch === 'SCMP_ARCH_AARCH64' && arch === AUDIT_AARCH64) {
    width = 64; sub = 'SCMP_ARCH_AARCH64';
  } else if (opts.arch === 'SCMP_ARCH_AARCH64' && arch === AUDIT_ARM && listed.includes('SCMP_ARCH_ARM')) {
    width = 32; sub = 'SCMP_ARCH_ARM';
  } else {
    return badArch;
  }
  // runc's ENOSYS stub (see compile.ts enosysCutoffs).
  const defaultAction = Math.floor(defaultRet / 0x10000) * 0x10000;
  if (opts.enosysStub === true && ![0x7fff0000, 0x7ffc0000, 0x7ff00000].includes(defaultAction)) {
    let cutoff: number | undefined;
    for (const rule of input.syscalls ?? []) {
      for (const name of rule.names) {
        const raw = opts.resolveNr(sub, name);
        if (raw === undefined || !Number.isInteger(raw) || raw < 0 || raw > 0xffffffff) continue;
        const n = sub === 'SCMP_ARCH_X32' ? (raw | X32_BIT) >>> 0 : raw;
        if ((sub === 'SCMP_ARCH_X86_64' && n >= X32_BIT) || n === 0xffffffff) continue;
        cutoff = Math.max(cutoff ?? 0, n);
      }
    }
    if (cutoff !== undefined && nr > cutoff) return 0x00050026;
  }
  const wmask = width === 64 ? (1n << 64n) - 1n : 0xffffffffn;
  const argOf = (i: number): bigint => BigInt.asUintN(64, data.args?.[i] ?? 0n) & wmask;

  interface Cand { order: number; ret: number; args: readonly CompileArg[] | undefined }
  const cands: Cand[] = [];
  let order = 0;
  for (const rule of input.syscalls ?? []) {
    for (const name of rule.names) {
      const o = order++;
      const raw = opts.resolveNr(sub, name);
      if (raw === undefined || !Number.isInteger(raw) || raw < 0 || raw > 0xffffffff) continue;
      const n = sub === 'SCMP_ARCH_X32' ? (raw | X32_BIT) >>> 0 : raw >>> 0;
      if (sub === 'SCMP_ARCH_X86_64' && n >= X32_BIT) continue;
      if (n !== nr) continue;
      const ret = retOf(rule.action, rule.errnoRet);
      if (ret === defaultRet) continue;
      cands.push({ order: o, ret, args: rule.args });
    }
  }
  const uncond = cands.find((c) => c.args === undefined || c.args.length === 0);
  if (uncond !== undefined) return uncond.ret;

  const matches = (c: Cand): boolean => {
    const args = c.args ?? [];
    const test = (a: CompileArg): boolean => argMatches(a, argOf(a.index), width);
    const dup = new Set(args.map((a) => a.index)).size < args.length;
    return dup && (opts.duplicateArgs ?? 'or') === 'or' ? args.some(test) : args.every(test);
  };
  let best: Cand | undefined;
  for (const c of cands) {
    if (!matches(c)) continue;
    if (best === undefined || rank(c.ret) < rank(best.ret)) best = c;
  }
  return best === undefined ? defaultRet : best.ret;
}

/** True if `x` satisfies one comparison (values truncated to `width` bits, as libseccomp does on 32-bit ABIs). */
export function argMatches(a: Pick<CompileArg, 'op' | 'value' | 'valueTwo'>, x: bigint, width: 32 | 64): boolean {
  const m = width === 64 ? (1n << 64n) - 1n : 0xffffffffn;
  const v = BigInt(a.value) & m;
  const v2 = BigInt(a.valueTwo ?? 0) & m;
  x &= m;
  switch (a.op) {
    case 'SCMP_CMP_NE': return x !== v;
    case 'SCMP_CMP_LT': return x < v;
    case 'SCMP_CMP_LE': return x <= v;
    case 'SCMP_CMP_EQ': return x === v;
    case 'SCMP_CMP_GE': return x >= v;
    case 'SCMP_CMP_GT': return x > v;
    case 'SCMP_CMP_MASKED_EQ': return (x & v) === v2;
  }
}
