// Which rule decides a syscall: the semantics of bpf/reference.ts (the compiler's oracle),
// kept with the index of the OCI rule that won, so that `explain` can name it. Pure.
import {
  AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT,
  syscallName, syscallNumber, type LinuxSeccomp, type LinuxSeccompArg, type SeccompAction,
  type SeccompArch, type SeccompData,
} from '../index.js';
import { formatAction, argMatches } from '../bpf/index.js';

export type NativeArch = 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_AARCH64';

/** The libseccomp arch a syscall comes from, and the native arch whose filter sees it. */
export const NATIVE_OF: Readonly<Partial<Record<SeccompArch, NativeArch>>> = {
  SCMP_ARCH_X86_64: 'SCMP_ARCH_X86_64',
  SCMP_ARCH_X86: 'SCMP_ARCH_X86_64',
  SCMP_ARCH_X32: 'SCMP_ARCH_X86_64',
  SCMP_ARCH_AARCH64: 'SCMP_ARCH_AARCH64',
  SCMP_ARCH_ARM: 'SCMP_ARCH_AARCH64',
};

const AUDIT_OF: Readonly<Partial<Record<SeccompArch, number>>> = {
  SCMP_ARCH_X86_64: AUDIT_ARCH_X86_64,
  SCMP_ARCH_X32: AUDIT_ARCH_X86_64,
  SCMP_ARCH_X86: AUDIT_ARCH_I386,
  SCMP_ARCH_AARCH64: AUDIT_ARCH_AARCH64,
  SCMP_ARCH_ARM: AUDIT_ARCH_ARM,
};

/** `resolveNr` for compileSeccomp / evaluateSeccomp from the engine's tables. */
export function tableResolver(arch: string, name: string): number | undefined {
  return syscallNumber(arch as SeccompArch, name);
}

/** The u32 an action returns (errno defaults to EPERM, as runc does). */
export function actionRet(action: SeccompAction, errno: number | undefined): number {
  switch (action) {
    case 'SCMP_ACT_KILL': case 'SCMP_ACT_KILL_THREAD': return 0;
    case 'SCMP_ACT_KILL_PROCESS': return 0x80000000;
    case 'SCMP_ACT_TRAP': return 0x00030000;
    case 'SCMP_ACT_ERRNO': return (0x00050000 + Math.min(errno ?? 1, 0xffff)) >>> 0;
    case 'SCMP_ACT_TRACE': return (0x7ff00000 + Math.min(errno ?? 1, 0xffff)) >>> 0;
    case 'SCMP_ACT_LOG': return 0x7ffc0000;
    case 'SCMP_ACT_ALLOW': return 0x7fff0000;
    case 'SCMP_ACT_NOTIFY': return 0x7fc00000;
  }
}

/** Kernel precedence: lower wins (action bits as a signed 32-bit number). */
export const retRank = (ret: number): number => ((ret >>> 0) & 0xffff0000) | 0;

export interface SyscallQuery {
  /** The ABI the call is made from: SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, SCMP_ARCH_ARM. */
  readonly arch: SeccompArch;
  /** Syscall name or number (x32 numbers with or without the x32 bit). */
  readonly syscall: string | number;
  readonly args?: readonly bigint[];
}

export interface Candidate {
  /** Index in the resolved `seccomp.syscalls`. */
  readonly index: number;
  readonly ret: number;
  readonly args: readonly LinuxSeccompArg[];
  /** undefined: not evaluated (an unconditional rule decided first). */
  readonly matched: boolean | undefined;
  /** Why the rule does not count: its action equals the default (libseccomp rejects it, runc skips it). */
  readonly skipped?: 'same-as-default';
}

export type Decider =
  | { readonly kind: 'rule'; readonly index: number }
  | { readonly kind: 'default' }
  | { readonly kind: 'bad-arch' }
  | { readonly kind: 'enosys-stub'; readonly cutoff: number }
  | { readonly kind: 'uprobe-exemption' };

export interface Decision {
  readonly ret: number;
  readonly action: string;
  readonly nr: number;
  readonly name: string | undefined;
  readonly data: SeccompData;
  readonly by: Decider;
  readonly candidates: readonly Candidate[];
}

export interface DecideOptions {
  /** Add runc's ENOSYS stub (runc 1.1: numbers above the highest named one return ENOSYS). */
  readonly enosysStub?: boolean;
  /** bad-arch action; default KILL_THREAD (libseccomp, runc). */
  readonly badArchRet?: number;
}

/** Number of a syscall on an arch (x32 numbers with the bit), or throws with a readable message. */
export function syscallNr(arch: SeccompArch, syscall: string | number): { nr: number; name: string | undefined } {
  if (typeof syscall === 'number' || /^(0x[0-9a-f]+|\d+)$/i.test(syscall)) {
    let nr = Number(syscall) >>> 0;
    if (arch === 'SCMP_ARCH_X32') nr = (nr | X32_SYSCALL_BIT) >>> 0;
    return { nr, name: syscallName(arch, nr) };
  }
  const nr = syscallNumber(arch, syscall);
  if (nr === undefined) throw new Error(`Unknown syscall ${JSON.stringify(syscall)} on ${arch}`);
  return { nr: nr >>> 0, name: syscall };
}

/** seccomp_data for a query. */
export function queryData(q: SyscallQuery): SeccompData {
  const audit = AUDIT_OF[q.arch];
  if (audit === undefined) throw new Error(`Cannot evaluate ${q.arch}: only x86_64, x86, x32, aarch64 and arm filters are modelled`);
  const { nr } = syscallNr(q.arch, q.syscall);
  return { nr: nr | 0, arch: audit, args: [...(q.args ?? [])] };
}

function sectionOf(native: NativeArch, listed: readonly string[], arch: number, nr: number): { sub: SeccompArch; width: 32 | 64 } | 'bad-arch' | 'x32-minus-one' {
  if (native === 'SCMP_ARCH_X86_64' && arch === AUDIT_ARCH_X86_64) {
    if (nr >= X32_SYSCALL_BIT) {
      if (listed.includes('SCMP_ARCH_X32')) return { sub: 'SCMP_ARCH_X32', width: 32 };
      return nr === 0xffffffff ? 'x32-minus-one' : 'bad-arch';
    }
    return { sub: 'SCMP_ARCH_X86_64', width: 64 };
  }
  if (native === 'SCMP_ARCH_X86_64' && arch === AUDIT_ARCH_I386 && listed.includes('SCMP_ARCH_X86')) return { sub: 'SCMP_ARCH_X86', width: 32 };
  if (native === 'SCMP_ARCH_AARCH64' && arch === AUDIT_ARCH_AARCH64) return { sub: 'SCMP_ARCH_AARCH64', width: 64 };
  if (native === 'SCMP_ARCH_AARCH64' && arch === AUDIT_ARCH_ARM && listed.includes('SCMP_ARCH_ARM')) return { sub: 'SCMP_ARCH_ARM', width: 32 };
  return 'bad-arch';
}


/**
 * Evaluates a resolved OCI section for one seccomp_data and says which rule decided.
 * Same semantics as evaluateSeccomp (compile.ts header); the unit tests check they agree.
 */
export function decide(seccomp: LinuxSeccomp, data: SeccompData, native: NativeArch, opts: DecideOptions = {}): Decision {
  const defaultRet = actionRet(seccomp.defaultAction, seccomp.defaultErrnoRet);
  const nr = data.nr >>> 0;
  const arch = data.arch >>> 0;
  const listed = seccomp.architectures ?? [];
  const sec = sectionOf(native, listed, arch, nr);
  const base = { nr, data, candidates: [] as Candidate[] };
  const done = (ret: number, by: Decider, name?: string, candidates: Candidate[] = []): Decision =>
    ({ ...base, ret: ret >>> 0, action: formatAction(ret), name, by, candidates });
  if (native === 'SCMP_ARCH_X86_64' && arch === AUDIT_ARCH_X86_64 && (nr === 335 || nr === 336)) {
    // kernel seccomp_uprobe_exception: uretprobe/uprobe never reach the filters.
    return done(0x7fff0000, { kind: 'uprobe-exemption' }, syscallName('SCMP_ARCH_X86_64', nr));
  }
  if (sec === 'bad-arch') return done(opts.badArchRet ?? 0, { kind: 'bad-arch' });
  if (sec === 'x32-minus-one') return done(defaultRet, { kind: 'default' });
  const { sub, width } = sec;
  const name = syscallName(sub, nr);
  const numberOf = (n: string): number | undefined => {
    const raw = syscallNumber(sub, n);
    if (raw === undefined) return undefined;
    const v = sub === 'SCMP_ARCH_X32' ? (raw | X32_SYSCALL_BIT) >>> 0 : raw >>> 0;
    if (sub === 'SCMP_ARCH_X86_64' && v >= X32_SYSCALL_BIT) return undefined;
    return v;
  };
  const rules = seccomp.syscalls ?? [];
  const defaultAction = (defaultRet & 0xffff0000) >>> 0;
  // runc 1.1.5 adds no stub when `architectures` is empty (kernel-checked in
  // test/integration/kernel/seccomp-workbench-differential.test.ts).
  if (opts.enosysStub === true && listed.length > 0 && ![0x7fff0000, 0x7ffc0000, 0x7ff00000].includes(defaultAction)) {
    let cutoff: number | undefined;
    for (const r of rules) for (const n of r.names) {
      const v = numberOf(n);
      if (v !== undefined && v !== 0xffffffff) cutoff = Math.max(cutoff ?? 0, v);
    }
    if (cutoff !== undefined && nr > cutoff) return done(0x00050026, { kind: 'enosys-stub', cutoff }, name);
  }
  const cands: { index: number; ret: number; args: readonly LinuxSeccompArg[]; skipped?: 'same-as-default' }[] = [];
  rules.forEach((r, index) => {
    if (!r.names.some((n) => numberOf(n) === nr)) return;
    const ret = actionRet(r.action, r.errnoRet);
    cands.push(ret === defaultRet ? { index, ret, args: r.args ?? [], skipped: 'same-as-default' } : { index, ret, args: r.args ?? [] });
  });
  const live = cands.filter((c) => c.skipped === undefined);
  const uncond = live.find((c) => c.args.length === 0);
  const argOf = (i: number): bigint => BigInt.asUintN(64, data.args?.[i] ?? 0n);
  const matches = (args: readonly LinuxSeccompArg[]): boolean => {
    const dup = new Set(args.map((a) => a.index)).size < args.length;
    const test = (a: LinuxSeccompArg): boolean => argMatches(a, argOf(a.index), width);
    return dup ? args.some(test) : args.every(test);
  };
  const report: Candidate[] = cands.map((c) => {
    const matched = c.skipped !== undefined || (uncond !== undefined && c !== uncond) ? undefined : c.args.length === 0 ? true : matches(c.args);
    return { index: c.index, ret: c.ret, args: c.args, matched, ...(c.skipped ? { skipped: c.skipped } : {}) };
  });
  if (uncond !== undefined) return done(uncond.ret, { kind: 'rule', index: uncond.index }, name, report);
  let best: (typeof live)[number] | undefined;
  for (const c of live) {
    if (!matches(c.args)) continue;
    if (best === undefined || retRank(c.ret) < retRank(best.ret)) best = c;
  }
  if (best === undefined) return done(defaultRet, { kind: 'default' }, name, report);
  return done(best.ret, { kind: 'rule', index: best.index }, name, report);
}

export { argMatches };
