// What the listener answers and what it writes down, as pure functions: the rule-table file
// moatd writes per container, the decision for one notification and the denial record
// (budget.ts keeps a syscall loop from filling the disk or the listener's time).
//
// The answer depends on the syscall name only: toNotifyProfile (../seccomp) converts a name
// only when all its ERRNO rules return the same errno, so the errno is the one the plain
// ERRNO filter would have returned. The rule's argument comparisons are evaluated here only
// to say WHICH rule matched (for `socket`, the AF_ALG rule or the AF_VSOCK rule); they never
// change the errno. Anything unexpected (no table, a name the table does not know, an arch
// without a table) is answered EPERM: the filter already decided to block the call.
import { AUDIT_ARCH, AUDIT_ARCH_X86_64, SECCOMP_OPERATORS, X32_SYSCALL_BIT, argWidth, ruleArgsMatch, syscallName, type NotifyRule, type SeccompArch, type LinuxSeccompArg, type LinuxSeccomp } from '../seccomp/index.js';
import type { SeccompNotif } from './structs.js';
import { errnoName } from '../base/index.js';

/** The errno answered when the listener cannot find an answer (fail closed). */
export const FALLBACK_ERRNO = 1;

/** One rule of the table: toNotifyProfile's NotifyRule plus the rule's argument checks. */
export interface TableRule extends NotifyRule {
  readonly args?: readonly LinuxSeccompArg[];
}

/** The per-container file `<state-dir>/<id>.rules.json`. */
export type RuleTable =
  | { readonly mode: 'enforce'; readonly arch: SeccompArch; readonly rules: readonly TableRule[] }
  | { readonly mode: 'record'; readonly arch: SeccompArch };

/**
 * Builds the rule table for a container from toNotifyProfile's result. Pass the converted
 * `seccomp` too so the records can name the exact rule when several share a name.
 *
 * @example
 * const { seccomp, table } = toNotifyProfile(resolved.seccomp, socket, { comments });
 * planRuleTable({ rules: table, arch: 'SCMP_ARCH_X86_64', seccomp });
 */
export function planRuleTable(o: { rules: readonly NotifyRule[]; arch: SeccompArch; seccomp?: LinuxSeccomp; mode?: 'enforce' | 'record' }): RuleTable {
  if (o.mode === 'record') return { mode: 'record', arch: o.arch };
  const rules = o.rules.map((r): TableRule => {
    const args = o.seccomp?.syscalls?.[r.index]?.args;
    return args !== undefined && args.length > 0 ? { ...r, args } : { ...r };
  });
  return { mode: 'enforce', arch: o.arch, rules };
}

const OPS: ReadonlySet<string> = new Set(SECCOMP_OPERATORS);

/**
 * Checks a parsed rule-table file; undefined when it is not one (the listener then fails
 * closed for that container).
 */
export function tryParseRuleTable(v: unknown): RuleTable | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const arch = o['arch'];
  if (typeof arch !== 'string' || !(arch in AUDIT_ARCH)) return undefined;
  if (o['mode'] === 'record') return { mode: 'record', arch: arch as SeccompArch };
  if (o['mode'] !== undefined && o['mode'] !== 'enforce') return undefined;
  if (!Array.isArray(o['rules'])) return undefined;
  const rules: TableRule[] = [];
  for (const r of o['rules'] as unknown[]) {
    if (typeof r !== 'object' || r === null) return undefined;
    const x = r as Record<string, unknown>;
    const names = x['names'];
    const errno = x['errno'];
    const index = x['index'];
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) return undefined;
    if (typeof errno !== 'number' || !Number.isInteger(errno) || errno < 0 || errno > 4095) return undefined;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) return undefined;
    const args = x['args'];
    if (args !== undefined) {
      if (!Array.isArray(args)) return undefined;
      for (const a of args as unknown[]) {
        const y = a as Record<string, unknown> | null;
        if (typeof y !== 'object' || y === null || typeof y['index'] !== 'number' || typeof y['value'] !== 'number' || !OPS.has(String(y['op']))) return undefined;
      }
    }
    rules.push({
      index,
      names: names as string[],
      errno,
      ...(typeof x['comment'] === 'string' ? { comment: x['comment'] } : {}),
      ...(args !== undefined ? { args: args as LinuxSeccompArg[] } : {}),
    });
  }
  return { mode: 'enforce', arch: arch as SeccompArch, rules };
}

/** The libseccomp arch of a notification (`seccomp_data.arch`, and bit 30 of nr for x32). */
export function archOfNotif(auditArch: number, nr: number): SeccompArch | undefined {
  const a = auditArch >>> 0;
  if (a === AUDIT_ARCH_X86_64) return (nr >>> 0) & X32_SYSCALL_BIT ? 'SCMP_ARCH_X32' : 'SCMP_ARCH_X86_64';
  for (const [name, value] of Object.entries(AUDIT_ARCH)) if (value >>> 0 === a && name !== 'SCMP_ARCH_X32') return name as SeccompArch;
  return undefined;
}

/** True when the rule's comparisons hold, as the filter evaluates them (seccomp's ruleArgsMatch). */
export function argsMatch(args: readonly LinuxSeccompArg[] | undefined, values: readonly bigint[], width: 32 | 64): boolean {
  return ruleArgsMatch(args, (i) => values[i] ?? 0n, { width });
}

/** Why the listener answered as it did. */
export type DenyReason = 'rule' | 'no-rule' | 'no-table' | 'unknown-syscall' | 'internal-error';

export type Decision =
  | { readonly kind: 'deny'; readonly errno: number; readonly syscall: string | null; readonly arch: SeccompArch | null; readonly rule: { readonly index: number; readonly comment?: string } | null; readonly reason: DenyReason }
  | { readonly kind: 'continue'; readonly syscall: string | null; readonly arch: SeccompArch | null };

/**
 * The answer to one notification under a container's table (undefined table = fail closed).
 *
 * @example
 * decide(table, notif); // { kind: 'deny', errno: 1, syscall: 'keyctl', rule: { index: 41, comment: '…' }, reason: 'rule' }
 */
export function decide(table: RuleTable | undefined, n: Pick<SeccompNotif, 'nr' | 'arch' | 'args'>): Decision {
  const arch = archOfNotif(n.arch, n.nr) ?? null;
  const syscall = arch === null ? null : (syscallName(arch, n.nr >>> 0) ?? null);
  if (table?.mode === 'record') return { kind: 'continue', syscall, arch };
  const deny = (reason: DenyReason, errno = FALLBACK_ERRNO, rule: { index: number; comment?: string } | null = null): Decision => ({ kind: 'deny', errno, syscall, arch, rule, reason });
  if (table === undefined) return deny('no-table');
  if (syscall === null || arch === null) return deny('unknown-syscall');
  const candidates = table.rules.filter((r) => r.names.includes(syscall));
  const first = candidates[0];
  if (first === undefined) return deny('no-rule');
  const width = argWidth(n.arch, n.nr);
  const matched = candidates.find((r) => argsMatch(r.args, n.args, width)) ?? first;
  return deny('rule', first.errno, { index: matched.index, ...(matched.comment !== undefined ? { comment: matched.comment } : {}) });
}

/** Facts about the calling task, read from /proc while it waits in the syscall. */
export interface TaskInfo {
  /** `Name:` of /proc/<pid>/status (the comm, 15 bytes at most). */
  readonly comm?: string;
  /** The task's pid inside the container's pid namespace (last `NSpid:` field). */
  readonly nspid?: number;
}

/** One line of `<id>.denials.jsonl`. */
export interface DenialRecord {
  readonly kind: 'denial';
  /** 1, 2, … per container, continued across container restarts and listener restarts. */
  readonly seq: number;
  /** ISO 8601. */
  readonly time: string;
  readonly containerId: string;
  /** Host pid (thread id) of the caller. */
  readonly pid: number;
  readonly nspid?: number;
  readonly comm?: string;
  /** Name in the caller's arch table; null for numbers no table knows. */
  readonly syscall: string | null;
  readonly nr: number;
  readonly arch: SeccompArch | null;
  /** Six arguments, `0x…` hex. */
  readonly args: readonly string[];
  readonly ip: string;
  readonly errno: number;
  readonly errnoName: string;
  /** The rule of the converted OCI section that blocked the call, with its profile comment. */
  readonly rule: { readonly index: number; readonly comment?: string } | null;
  readonly reason: DenyReason;
  /** Denials not written (rate limit) since the previous record of this container. */
  readonly suppressed?: number;
}

/** Written when a container's notify fd ends with denials still held back by the rate limit. */
export interface DroppedRecord {
  readonly kind: 'dropped';
  readonly seq: number;
  readonly time: string;
  readonly containerId: string;
  readonly count: number;
}

export type DenialLine = DenialRecord | DroppedRecord;

/** One line of `<id>.syscalls.jsonl` (record mode): the first call of each syscall. */
export interface SyscallRecord {
  readonly kind: 'syscall';
  readonly seq: number;
  readonly time: string;
  readonly containerId: string;
  readonly pid: number;
  readonly comm?: string;
  readonly syscall: string | null;
  readonly nr: number;
  readonly arch: SeccompArch | null;
  readonly args: readonly string[];
}

export const hex = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;

/** The record for a denied notification. */
export function denialRecord(o: { containerId: string; seq: number; now: Date; notif: SeccompNotif; decision: Extract<Decision, { kind: 'deny' }>; task: TaskInfo; suppressed: number }): DenialRecord {
  const { notif: n, decision: d } = o;
  return {
    kind: 'denial',
    seq: o.seq,
    time: o.now.toISOString(),
    containerId: o.containerId,
    pid: n.pid,
    ...(o.task.nspid !== undefined ? { nspid: o.task.nspid } : {}),
    ...(o.task.comm !== undefined ? { comm: o.task.comm } : {}),
    syscall: d.syscall,
    nr: n.nr,
    arch: d.arch,
    args: n.args.map(hex),
    ip: hex(n.ip),
    errno: d.errno,
    errnoName: errnoName(d.errno),
    rule: d.rule,
    reason: d.reason,
    ...(o.suppressed > 0 ? { suppressed: o.suppressed } : {}),
  };
}

/** Syscalls whose first argument decides what the default profile allows. */
const ARG0_MATTERS = new Set(['socket', 'personality', 'clone']);

/**
 * Record mode keeps one record per key: the name, plus arg0 for calls whose profile rules
 * look at it (socket family, personality, clone flags).
 */
export function recordKey(syscall: string | null, nr: number, args: readonly bigint[]): string {
  const name = syscall ?? `#${nr}`;
  return ARG0_MATTERS.has(name) ? `${name}/${hex(args[0] ?? 0n)}` : name;
}

/** Parses the `Name:` and `NSpid:` lines of /proc/<pid>/status. */
export function parseTaskStatus(text: string): TaskInfo {
  let comm: string | undefined;
  let nspid: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('Name:')) comm = line.slice(5).trim();
    else if (line.startsWith('NSpid:')) {
      const last = line.slice(6).trim().split(/\s+/).pop();
      if (last !== undefined && /^\d+$/.test(last)) nspid = Number(last);
    }
  }
  return { ...(comm !== undefined ? { comm } : {}), ...(nspid !== undefined ? { nspid } : {}) };
}

/** errno number -> name (EPERM), from Node's table. */
export { errnoName };
