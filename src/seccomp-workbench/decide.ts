// Which rule decides a syscall: seccomp's rule evaluator (evaluateRules, the compiler's
// oracle) on the engine's syscall tables, plus the kernel's uprobe exemption, with the
// syscall's name and readable action, so that `explain` can name the rule. Pure.
import {
  AUDIT_ARCH, AUDIT_ARCH_X86_64, SECCOMP_RET_ALLOW, X32_SYSCALL_BIT, evaluateRules, formatAction, syscallName, syscallNumber,
  type Decider as RuleDecider, type LinuxSeccomp, type LinuxSeccompArg, type NativeArch, type SeccompArch, type SeccompData,
} from '../seccomp/index.js';

export type { NativeArch } from '../seccomp/index.js';

/** The libseccomp arch a syscall comes from, and the native arch whose filter sees it. */
export const NATIVE_OF: Readonly<Partial<Record<SeccompArch, NativeArch>>> = {
  SCMP_ARCH_X86_64: 'SCMP_ARCH_X86_64',
  SCMP_ARCH_X86: 'SCMP_ARCH_X86_64',
  SCMP_ARCH_X32: 'SCMP_ARCH_X86_64',
  SCMP_ARCH_AARCH64: 'SCMP_ARCH_AARCH64',
  SCMP_ARCH_ARM: 'SCMP_ARCH_AARCH64',
};

/** `resolveNr` for compileSeccomp / evaluateSeccomp from the engine's tables. */
export function tableResolver(arch: string, name: string): number | undefined {
  return syscallNumber(arch as SeccompArch, name);
}

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

export type Decider = RuleDecider | { readonly kind: 'uprobe-exemption' };

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
  if (NATIVE_OF[q.arch] === undefined) throw new Error(`Cannot evaluate ${q.arch}: only x86_64, x86, x32, aarch64 and arm filters are modelled`);
  const { nr } = syscallNr(q.arch, q.syscall);
  return { nr: nr | 0, arch: AUDIT_ARCH[q.arch], args: [...(q.args ?? [])] };
}

/**
 * Evaluates a resolved OCI section for one seccomp_data and says which rule decided
 * (evaluateRules on the engine's tables; the unit tests check it against the compiled BPF).
 */
export function decide(seccomp: LinuxSeccomp, data: SeccompData, native: NativeArch, opts: DecideOptions = {}): Decision {
  const nr = data.nr >>> 0;
  if (native === 'SCMP_ARCH_X86_64' && (data.arch >>> 0) === AUDIT_ARCH_X86_64 && (nr === 335 || nr === 336)) {
    // kernel seccomp_uprobe_exception: uretprobe/uprobe never reach the filters.
    return { ret: SECCOMP_RET_ALLOW, action: formatAction(SECCOMP_RET_ALLOW), nr, name: syscallName('SCMP_ARCH_X86_64', nr), data, by: { kind: 'uprobe-exemption' }, candidates: [] };
  }
  const v = evaluateRules(seccomp, data, {
    arch: native,
    resolveNr: tableResolver,
    ...(opts.enosysStub === true ? { enosysStub: true } : {}),
    ...(opts.badArchRet !== undefined ? { badArchRet: opts.badArchRet } : {}),
  });
  const name = v.sub === undefined ? undefined : syscallName(v.sub as SeccompArch, nr);
  const candidates: Candidate[] = v.candidates.map((c) => ({ ...c, args: seccomp.syscalls?.[c.index]?.args ?? [] }));
  return { ret: v.ret >>> 0, action: formatAction(v.ret), nr, name, data, by: v.by, candidates };
}
