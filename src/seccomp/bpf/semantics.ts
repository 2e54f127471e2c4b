// What an OCI seccomp section means, defined once: the return value of each action, which
// return value wins, how one argument is compared, which sub-arch (and argument width) a
// syscall belongs to, and when runc's ENOSYS stub answers instead of the filter. The
// compiler (compile.ts), the rule evaluator (reference.ts, which the workbench's decide()
// wraps) and the notify listener's policy all read these; none keeps its own copy. Pure.

import { EngineError } from '../../base/index.js';
import type { SeccompAction, SeccompOperator } from '../oci.js';
import {
  AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_ALLOW,
  SECCOMP_RET_DATA, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE, SECCOMP_RET_TRAP, SECCOMP_RET_USER_NOTIF, X32_SYSCALL_BIT,
} from './constants.js';
import { U32_MAX, U64_MAX, normalizeSet, type IntervalSet } from './ranges.js';

export const EPERM = 1;
export const ENOSYS = 38;

/** The errno of an ERRNO or TRACE action without errnoRet: EPERM (runc `getAction`). */
export const DEFAULT_ERRNO = EPERM;

/** What runc's ENOSYS stub returns. */
export const ENOSYS_RET = (SECCOMP_RET_ERRNO | ENOSYS) >>> 0;

/**
 * SCMP_ACT_* -> the kernel's SECCOMP_RET_* action (libseccomp seccomp.h), and for the actions
 * that carry data, the largest value: ERRNO's errno is capped at MAX_ERRNO (4095) by the
 * kernel and refused above it by libseccomp; TRACE hands the tracer a 16-bit message.
 * SCMP_ACT_KILL is KILL_THREAD (libseccomp's old name).
 */
export const ACTION_RET: Readonly<Record<SeccompAction, { readonly ret: number; readonly maxData?: number }>> = {
  SCMP_ACT_KILL: { ret: SECCOMP_RET_KILL_THREAD },
  SCMP_ACT_KILL_PROCESS: { ret: SECCOMP_RET_KILL_PROCESS },
  SCMP_ACT_KILL_THREAD: { ret: SECCOMP_RET_KILL_THREAD },
  SCMP_ACT_TRAP: { ret: SECCOMP_RET_TRAP },
  SCMP_ACT_ERRNO: { ret: SECCOMP_RET_ERRNO, maxData: 4095 },
  SCMP_ACT_TRACE: { ret: SECCOMP_RET_TRACE, maxData: 0xffff },
  SCMP_ACT_ALLOW: { ret: SECCOMP_RET_ALLOW },
  SCMP_ACT_LOG: { ret: SECCOMP_RET_LOG },
  SCMP_ACT_NOTIFY: { ret: SECCOMP_RET_USER_NOTIF },
};

function semanticsError(message: string): EngineError {
  return new EngineError('invalid', 'ERR_SECCOMP_COMPILE', `Cannot compile seccomp profile: ${message}`);
}

/**
 * The u32 an action returns; `errno` is errnoRet / defaultErrnoRet (used by ERRNO and TRACE
 * only, EPERM when absent). Throws EngineError ERR_SECCOMP_COMPILE for an unknown action or
 * an errno out of range; `where` names the field in that message.
 *
 * @example
 * actionRet('SCMP_ACT_ERRNO', 13); // 0x0005000d
 */
export function actionRet(action: SeccompAction, errno: number | undefined, where = 'action'): number {
  const entry = Object.hasOwn(ACTION_RET, action) ? ACTION_RET[action] : undefined;
  if (entry === undefined) throw semanticsError(`${where}: unknown action ${JSON.stringify(action)}`);
  if (entry.maxData === undefined) return entry.ret >>> 0;
  const e = errno ?? DEFAULT_ERRNO;
  if (!Number.isInteger(e) || e < 0 || e > entry.maxData) throw semanticsError(`${where}: errno ${String(e)} is outside 0..${entry.maxData}`);
  return (entry.ret | e) >>> 0;
}

/** The action bits of a return value (`ret & SECCOMP_RET_ACTION_FULL`), as a u32. */
export const retAction = (ret: number): number => ((ret >>> 0) & SECCOMP_RET_ACTION_FULL) >>> 0;

/** The data bits of a return value (errno for ERRNO, the message for TRACE). */
export const retData = (ret: number): number => (ret >>> 0) & SECCOMP_RET_DATA;

/** Kernel precedence of a return value: lower wins (ACTION_FULL as a signed 32-bit number, seccomp_run_filters). */
export function retRank(ret: number): number {
  return ((ret >>> 0) & SECCOMP_RET_ACTION_FULL) | 0;
}

/** ALLOW and LOG let the call run. */
export const retLetsCallRun = (ret: number): boolean => retAction(ret) === SECCOMP_RET_ALLOW || retAction(ret) === SECCOMP_RET_LOG;

// --- arguments -------------------------------------------------------------------------

/** All ones in `width` bits. */
export const argMask = (width: 32 | 64): bigint => (width === 64 ? U64_MAX : 0xffffffffn);

/**
 * The argument width a filter compares for a syscall: 32 bits on 32-bit ABIs, i.e. an audit
 * arch without __AUDIT_ARCH_64BIT, and x32 (x86_64's audit arch with bit 30 in nr), as
 * libseccomp does (`_db_rule_gen_32`; its x32 arch has size 32).
 */
export function argWidth(auditArch: number, nr: number): 32 | 64 {
  const a = auditArch >>> 0;
  if (a === AUDIT_ARCH_X86_64 && ((nr >>> 0) & X32_SYSCALL_BIT) !== 0) return 32;
  return (a & 0x80000000) !== 0 ? 64 : 32;
}

/** One comparison of a rule: `LinuxSeccompArg` with u64 values that may be bigint. */
export interface ArgComparison {
  readonly index: number;
  readonly op: SeccompOperator;
  readonly value: number | bigint;
  readonly valueTwo?: number | bigint;
}

/**
 * True if `x` satisfies one comparison, argument and values truncated to `width` bits.
 * MASKED_EQ: `(x & value) == valueTwo`.
 *
 * @example
 * argMatches({ op: 'SCMP_CMP_MASKED_EQ', value: 0x10000000, valueTwo: 0x10000000 }, 0x10000000n, 64); // true
 */
export function argMatches(a: Pick<ArgComparison, 'op' | 'value' | 'valueTwo'>, x: bigint, width: 32 | 64): boolean {
  const m = argMask(width);
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

/**
 * Whether a rule's comparisons hold for the arguments: ANDed; when one index appears twice,
 * runc splits the rule into one rule per comparison (`matchCall`), which ORs them
 * (`duplicateArgs: 'and'` keeps the AND). No comparisons: always.
 */
export function ruleArgsMatch(args: readonly Pick<ArgComparison, 'index' | 'op' | 'value' | 'valueTwo'>[] | undefined, argOf: (index: number) => bigint, o: { width: 32 | 64; duplicateArgs?: 'or' | 'and' }): boolean {
  const list = args ?? [];
  const test = (a: (typeof list)[number]): boolean => argMatches(a, BigInt.asUintN(64, argOf(a.index)), o.width);
  const dup = new Set(list.map((a) => a.index)).size < list.length;
  return dup && (o.duplicateArgs ?? 'or') === 'or' ? list.some(test) : list.every(test);
}

/**
 * The values one comparison accepts, in the form the compiler lays out: an interval set for
 * the ordered operators, (mask, datum) for MASKED_EQ; `true` = every value, `false` = none.
 * The same relation as argMatches (semantics.test.ts checks both agree).
 */
export type AcceptedValues =
  | boolean
  | { readonly kind: 'set'; readonly set: IntervalSet }
  | { readonly kind: 'masked'; readonly mask: bigint; readonly datum: bigint };

export function acceptedValues(a: { op: SeccompOperator; value: bigint; valueTwo: bigint }, width: 32 | 64): AcceptedValues {
  const max = argMask(width);
  const v = a.value & max;
  if (a.op === 'SCMP_CMP_MASKED_EQ') {
    const datum = a.valueTwo & max;
    if ((datum & ~v & max) !== 0n) return false;
    if (v === 0n) return true;
    return { kind: 'masked', mask: v, datum };
  }
  const set = opSet(a.op, v, max);
  if (set.length === 0) return false;
  if (set.length === 1 && set[0]![0] === 0n && set[0]![1] === max) return true;
  return { kind: 'set', set };
}

/** Values x in [0, max] with `x op value`, for the six ordered operators. */
export function opSet(op: Exclude<SeccompOperator, 'SCMP_CMP_MASKED_EQ'>, value: bigint, max: bigint): IntervalSet {
  const v = value;
  switch (op) {
    case 'SCMP_CMP_EQ': return v <= max ? [[v, v]] : [];
    case 'SCMP_CMP_NE': return normalizeSet([[0n, v - 1n], [v + 1n, max]]);
    case 'SCMP_CMP_LT': return v === 0n ? [] : [[0n, v - 1n <= max ? v - 1n : max]];
    case 'SCMP_CMP_LE': return [[0n, v <= max ? v : max]];
    case 'SCMP_CMP_GE': return v <= max ? [[v, max]] : [];
    case 'SCMP_CMP_GT': return v < max ? [[v + 1n, max]] : [];
  }
}

// --- arches and syscall numbers ------------------------------------------------------------

/** Host arches the compiler and evaluator model. */
export type NativeArch = 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_AARCH64';

/** Where a seccomp_data lands under a native arch's filter: a sub-arch section, or neither. */
export type SubArchOf = { readonly sub: string; readonly width: 32 | 64 } | 'bad-arch' | 'x32-minus-one';

/**
 * The sub-arch section that sees a call (seccomp_data arch and nr) on a `native` host given the
 * profile's `architectures`: the native arch always (libseccomp's native arch), x86 and x32 on x86_64
 * and arm on aarch64 only when listed. On x86_64 without x32, numbers with the x32 bit get
 * the bad-arch action, except nr -1, which gets the default (libseccomp).
 */
export function subArchOf(data: { readonly arch: number; readonly nr: number }, filter: { readonly native: NativeArch; readonly architectures?: readonly string[] | undefined }): SubArchOf {
  const { native } = filter;
  const listed = filter.architectures ?? [];
  const arch = data.arch >>> 0;
  const n = data.nr >>> 0;
  if (native === 'SCMP_ARCH_X86_64' && arch === AUDIT_ARCH_X86_64) {
    if (n >= X32_SYSCALL_BIT) {
      if (listed.includes('SCMP_ARCH_X32')) return { sub: 'SCMP_ARCH_X32', width: 32 };
      return n === U32_MAX ? 'x32-minus-one' : 'bad-arch';
    }
    return { sub: 'SCMP_ARCH_X86_64', width: 64 };
  }
  if (native === 'SCMP_ARCH_X86_64' && arch === AUDIT_ARCH_I386 && listed.includes('SCMP_ARCH_X86')) return { sub: 'SCMP_ARCH_X86', width: 32 };
  if (native === 'SCMP_ARCH_AARCH64' && arch === AUDIT_ARCH_AARCH64) return { sub: 'SCMP_ARCH_AARCH64', width: 64 };
  if (native === 'SCMP_ARCH_AARCH64' && arch === AUDIT_ARCH_ARM && listed.includes('SCMP_ARCH_ARM')) return { sub: 'SCMP_ARCH_ARM', width: 32 };
  return 'bad-arch';
}

/** Looks a syscall number up: `(arch, name) -> number`, undefined when the arch has none. */
export type ResolveNr = (arch: string, name: string) => number | undefined;

/**
 * The number the filter sees for `name` in sub-arch `sub` (x32 numbers with the x32 bit,
 * whether the table has it or not), or undefined when the arch has no such syscall. On
 * x86_64 a number with the x32 bit is not an x86_64 syscall.
 */
export function filterNr(sub: string, name: string, resolveNr: ResolveNr): number | undefined {
  const raw = resolveNr(sub, name);
  if (raw === undefined || !Number.isInteger(raw) || raw < 0 || raw > U32_MAX) return undefined;
  const nr = sub === 'SCMP_ARCH_X32' ? (raw | X32_SYSCALL_BIT) >>> 0 : raw >>> 0;
  if (sub === 'SCMP_ARCH_X86_64' && nr >= X32_SYSCALL_BIT) return undefined;
  return nr;
}

// --- runc's ENOSYS stub ----------------------------------------------------------------------

/** What the stub reads from a profile. */
export interface StubInput {
  readonly defaultAction: SeccompAction;
  readonly defaultErrnoRet?: number;
  readonly architectures?: readonly string[];
  readonly syscalls?: readonly { readonly names: readonly string[] }[];
}

/**
 * runc 1.1.5's ENOSYS stub (libcontainer/seccomp/patchbpf/enosys_linux.go): for sub-arch
 * `sub`, syscall numbers above the returned cutoff get ERRNO(ENOSYS) before the filter runs,
 * so syscalls newer than the profile look unimplemented and libc falls back. Undefined = no
 * stub for `sub`:
 * - the default action is ALLOW, LOG or TRACE (`isAllowAction`);
 * - `sub` is not in `architectures` (`findLastSyscalls` loops over the listed arches only, so
 *   a profile without `architectures` gets no stub at all: kernel-checked in
 *   test/integration/kernel/seccomp-enosys-stub.test.ts);
 * - the profile names no syscall above 0 on `sub` (runc drops a largest number of 0).
 * Every rule counts, including those dropped for repeating the default action.
 */
export function enosysCutoff(input: StubInput, sub: string, resolveNr: ResolveNr): number | undefined {
  if (!(input.architectures ?? []).includes(sub)) return undefined;
  const action = retAction(actionRet(input.defaultAction, input.defaultErrnoRet, 'defaultAction'));
  if (action === SECCOMP_RET_ALLOW || action === SECCOMP_RET_LOG || action === SECCOMP_RET_TRACE) return undefined;
  let cutoff = 0;
  for (const rule of input.syscalls ?? []) {
    for (const name of rule.names) {
      const nr = filterNr(sub, name, resolveNr);
      if (nr !== undefined && nr !== U32_MAX && nr > cutoff) cutoff = nr;
    }
  }
  return cutoff === 0 ? undefined : cutoff;
}
