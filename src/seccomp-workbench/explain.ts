// `moat seccomp explain` and `moat seccomp diff`: what a profile does to a syscall and
// where two profiles differ. Pure.
import {
  SECCOMP_RET_ERRNO, actionRet, compileSeccomp, formatAction, resolveProfile, retAction, retData, runFilter, syscallNames,
  syscallNumber, X32_SYSCALL_BIT, type LinuxSeccomp, type LinuxSeccompArg, type Profile, type RuleOrigin, type SeccompArch,
} from '../seccomp/index.js';
import { boundaryValues, combine } from './corpus.js';
import { NATIVE_OF, decide, queryData, tableResolver, type Decision, type NativeArch, type SyscallQuery } from './decide.js';

export interface ContainerContext {
  /** Capabilities of the container (CAP_ names). */
  readonly capabilities: readonly string[];
  /** Kernel release for minKernel, as `uname -r` prints it. */
  readonly kernel: string;
  /** Emulate runc's ENOSYS stub. */
  readonly enosysStub?: boolean;
}

export interface Explanation {
  readonly query: { arch: SeccompArch; syscall: string | undefined; nr: number; args: string[] };
  /** e.g. `ERRNO(1)`, `ALLOW`, `KILL_THREAD`. */
  readonly action: string;
  readonly ret: number;
  /** For ERRNO: the errno the caller sees (clamped at 4095 by the kernel). */
  readonly errno?: number;
  /** What decided: a rule (with its index in the profile's `syscalls` and comment), the default, … */
  readonly decidedBy: { kind: string; rule?: number; comment?: string; ociRule?: number; cutoff?: number };
  /** Every profile rule naming the syscall: whether its conditions matched. */
  readonly rules: ReadonlyArray<{ rule: number; comment?: string; action: string; conditions: string; matched: boolean | undefined; note?: string }>;
  /** Verdict of moat's compiled BPF for the same data (must equal `ret`). */
  readonly bpfRet: number;
  readonly warnings: readonly string[];
}

const hex = (v: bigint | number): string => `0x${BigInt(v).toString(16)}`;

/** `arg0 == 0x26`, `(arg0 & 0x7e020000) == 0`. */
export function formatCondition(a: LinuxSeccompArg): string {
  const ops: Record<string, string> = { SCMP_CMP_NE: '!=', SCMP_CMP_LT: '<', SCMP_CMP_LE: '<=', SCMP_CMP_EQ: '==', SCMP_CMP_GE: '>=', SCMP_CMP_GT: '>' };
  if (a.op === 'SCMP_CMP_MASKED_EQ') return `(arg${a.index} & ${hex(a.value)}) == ${hex(a.valueTwo ?? 0)}`;
  return `arg${a.index} ${ops[a.op]!} ${hex(a.value)}`;
}

export const formatConditions = (args: readonly LinuxSeccompArg[]): string =>
  args.length === 0 ? 'always' : args.map(formatCondition).join(new Set(args.map((a) => a.index)).size < args.length ? ' || ' : ' && ');

function describeDecider(d: Decision, origins: readonly RuleOrigin[]): Explanation['decidedBy'] {
  switch (d.by.kind) {
    case 'rule': {
      const o = origins[d.by.index]!;
      return { kind: 'rule', rule: o.rule, ociRule: d.by.index, ...(o.comment !== undefined ? { comment: o.comment } : {}) };
    }
    case 'enosys-stub': return { kind: 'enosys-stub', cutoff: d.by.cutoff };
    default: return { kind: d.by.kind };
  }
}

/** Resolves a profile for the query's native arch. */
export function resolveFor(profile: Profile, arch: SeccompArch, ctx: ContainerContext): { native: NativeArch; seccomp: LinuxSeccomp; origins: readonly RuleOrigin[]; warnings: string[] } {
  const native = NATIVE_OF[arch];
  if (native === undefined) throw new Error(`Cannot evaluate ${arch}: only x86_64, x86, x32, aarch64 and arm are modelled`);
  const r = resolveProfile(profile, { arch: native, capabilities: ctx.capabilities, kernel: ctx.kernel });
  return { native, seccomp: r.seccomp, origins: r.origins, warnings: r.warnings.map((w) => w.message) };
}

/**
 * Explains the verdict of a profile for one syscall: action, errno and the rule that decided.
 *
 * @example
 * explainSyscall(defaultProfile(), { arch: 'SCMP_ARCH_X86_64', syscall: 'socket', args: [38n] }, { capabilities: [], kernel: '6.18' });
 */
export function explainSyscall(profile: Profile, q: SyscallQuery, ctx: ContainerContext): Explanation {
  const { native, seccomp, origins, warnings } = resolveFor(profile, q.arch, ctx);
  const data = queryData(q);
  const d = decide(seccomp, data, native, { enosysStub: ctx.enosysStub === true });
  const program = compileSeccomp(seccomp, { arch: native, resolveNr: tableResolver, enosysStub: ctx.enosysStub === true });
  const bpfRet = runFilter(program, data) >>> 0;
  const isErrno = retAction(d.ret) === SECCOMP_RET_ERRNO;
  return {
    query: { arch: q.arch === 'SCMP_ARCH_X86_64' && d.nr >= X32_SYSCALL_BIT && d.nr !== 0xffffffff ? 'SCMP_ARCH_X32' : q.arch, syscall: d.name, nr: d.nr, args: (q.args ?? []).map((a) => hex(BigInt.asUintN(64, a))) },
    action: d.action,
    ret: d.ret,
    ...(isErrno ? { errno: Math.min(retData(d.ret), 4095) } : {}),
    decidedBy: describeDecider(d, origins),
    rules: d.candidates.map((c) => {
      const o = origins[c.index]!;
      const r = seccomp.syscalls![c.index]!;
      return {
        rule: o.rule,
        ...(o.comment !== undefined ? { comment: o.comment } : {}),
        action: formatAction(c.ret),
        conditions: formatConditions(r.args ?? []),
        matched: c.matched,
        ...(c.skipped ? { note: 'same as the default action: skipped' } : c.matched === undefined ? { note: 'not evaluated: an unconditional rule decides' } : {}),
      };
    }),
    bpfRet,
    warnings,
  };
}

export interface DiffEntry {
  readonly arch: SeccompArch;
  readonly syscall: string;
  /** How each profile treats the syscall: `ALLOW`, or `ALLOW if arg0 < 0x26 | … else ERRNO(1)`. */
  readonly a: string;
  readonly b: string;
  /** Argument vectors where the verdicts differ (at most 3). */
  readonly examples: ReadonlyArray<{ args: string[]; a: string; b: string }>;
}

function summarize(seccomp: LinuxSeccomp, sub: SeccompArch, name: string): string {
  const parts: string[] = [];
  const def = formatAction(actionRet(seccomp.defaultAction, seccomp.defaultErrnoRet));
  for (const r of seccomp.syscalls ?? []) {
    if (!r.names.includes(name)) continue;
    const act = formatAction(actionRet(r.action, r.errnoRet));
    if (act === def) continue;
    if ((r.args ?? []).length === 0) return act;
    parts.push(`${act} if ${formatConditions(r.args ?? [])}`);
  }
  void sub;
  return parts.length === 0 ? `${def} (default)` : `${parts.join('; ')}; else ${def}`;
}

/**
 * Per syscall and condition: where two profiles give different verdicts, for one container
 * context. Each syscall is probed at the boundary values of both profiles' comparisons.
 *
 * @example
 * diffProfiles(mine, defaultProfile(), { arch: 'SCMP_ARCH_X86_64', capabilities: [], kernel: '6.18' });
 */
export function diffProfiles(a: Profile, b: Profile, ctx: ContainerContext & { arch: SeccompArch }): DiffEntry[] {
  const ra = resolveFor(a, ctx.arch, ctx);
  const rb = resolveFor(b, ctx.arch, ctx);
  const native = ra.native;
  const subs: SeccompArch[] = [native];
  for (const s of [...(ra.seccomp.architectures ?? []), ...(rb.seccomp.architectures ?? [])]) {
    if (!subs.includes(s) && NATIVE_OF[s] === native) subs.push(s);
  }
  const out: DiffEntry[] = [];
  for (const sub of subs) {
    for (const name of syscallNames(sub)) {
      let nr = syscallNumber(sub, name)!;
      if (sub === 'SCMP_ARCH_X32') nr = (nr | X32_SYSCALL_BIT) >>> 0;
      const perArg = new Map<number, bigint[]>();
      const width = sub === native ? 64 : 32;
      for (const s of [ra.seccomp, rb.seccomp]) {
        for (const r of s.syscalls ?? []) {
          if (!r.names.includes(name)) continue;
          for (const arg of r.args ?? []) perArg.set(arg.index, [...new Set([...(perArg.get(arg.index) ?? []), ...boundaryValues(arg, width)])]);
        }
      }
      const examples: { args: string[]; a: string; b: string }[] = [];
      let differs = false;
      for (const args of combine(perArg, 256)) {
        const data = queryData({ arch: sub, syscall: nr, args });
        const va = decide(ra.seccomp, data, native, { enosysStub: ctx.enosysStub === true });
        const vb = decide(rb.seccomp, data, native, { enosysStub: ctx.enosysStub === true });
        if (va.ret !== vb.ret) {
          differs = true;
          if (examples.length < 3) examples.push({ args: perArg.size === 0 ? [] : args.slice(0, Math.max(...perArg.keys()) + 1).map((x) => hex(x)), a: va.action, b: vb.action });
        }
      }
      if (!differs) continue;
      out.push({ arch: sub, syscall: name, a: summarize(ra.seccomp, sub, name), b: summarize(rb.seccomp, sub, name), examples });
    }
  }
  return out;
}
