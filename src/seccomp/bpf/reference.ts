// The rule evaluator: an OCI seccomp section evaluated directly from its rules, with no BPF
// and no optimisation, written apart from compile.ts so that the two can be compared (the
// tests' oracle) and naming the rule that decided (the workbench's `explain`). Both read
// return values, comparisons, arches and the ENOSYS stub from semantics.ts; the rule
// semantics are listed at the top of compile.ts.

import type { CompileArg, CompileInput, CompileOptions } from './compile.js';
import type { SeccompData } from './emulate.js';
import { actionRet, enosysCutoff, ENOSYS_RET, filterNr, retRank, ruleArgsMatch, subArchOf } from './semantics.js';

/** What decided a verdict. */
export type Decider =
  | { readonly kind: 'rule'; readonly index: number }
  | { readonly kind: 'default' }
  | { readonly kind: 'bad-arch' }
  | { readonly kind: 'enosys-stub'; readonly cutoff: number };

/** A rule naming the syscall, and whether it counted. */
export interface RuleCandidate {
  /** Index in `syscalls`. */
  readonly index: number;
  readonly ret: number;
  readonly args: readonly CompileArg[];
  /** undefined: not evaluated (skipped, or an unconditional rule decided first). */
  readonly matched: boolean | undefined;
  /** Its return value equals the default action's: libseccomp rejects such a rule, runc skips it. */
  readonly skipped?: 'same-as-default';
}

export interface RuleVerdict {
  /** The u32 the filter returns. */
  readonly ret: number;
  readonly by: Decider;
  /** The sub-arch section the call fell into (undefined for bad-arch and x32's nr -1). */
  readonly sub: string | undefined;
  /** Every rule naming the syscall on `sub`, in profile order. */
  readonly candidates: readonly RuleCandidate[];
}

/**
 * The verdict of a profile for one `seccomp_data`, evaluated from the rules, with the rule
 * that decided.
 *
 * @example
 * evaluateRules(profile, { nr: 41, arch: AUDIT_ARCH_X86_64, args: [38n] }, { arch: 'SCMP_ARCH_X86_64', resolveNr }).by; // { kind: 'rule', index: 3 }
 */
export function evaluateRules(input: CompileInput, data: SeccompData, opts: CompileOptions): RuleVerdict {
  const defaultRet = actionRet(input.defaultAction, input.defaultErrnoRet, 'defaultAction');
  const nr = data.nr >>> 0;
  const at = subArchOf(data, { native: opts.arch, architectures: input.architectures });
  if (at === 'bad-arch') return { ret: (opts.badArchRet ?? 0) >>> 0, by: { kind: 'bad-arch' }, sub: undefined, candidates: [] };
  if (at === 'x32-minus-one') return { ret: defaultRet, by: { kind: 'default' }, sub: undefined, candidates: [] };
  const { sub, width } = at;
  if (opts.enosysStub === true) {
    const cutoff = enosysCutoff(input, sub, opts.resolveNr);
    if (cutoff !== undefined && nr > cutoff) return { ret: ENOSYS_RET, by: { kind: 'enosys-stub', cutoff }, sub, candidates: [] };
  }

  interface Cand { index: number; ret: number; args: readonly CompileArg[]; skipped: boolean }
  const cands: Cand[] = [];
  (input.syscalls ?? []).forEach((rule, index) => {
    if (!rule.names.some((name) => filterNr(sub, name, opts.resolveNr) === nr)) return;
    const ret = actionRet(rule.action, rule.errnoRet, `syscalls[${index}].action`);
    cands.push({ index, ret, args: rule.args ?? [], skipped: ret === defaultRet });
  });
  const live = cands.filter((c) => !c.skipped);
  const argOf = (i: number): bigint => data.args?.[i] ?? 0n;
  const matches = (c: Cand): boolean => ruleArgsMatch(c.args, argOf, { width, duplicateArgs: opts.duplicateArgs ?? 'or' });
  // For one syscall the first unconditional rule decides; conditional ones are ignored
  // (libseccomp absorbs them).
  const uncond = live.find((c) => c.args.length === 0);
  const candidates: RuleCandidate[] = cands.map((c) => ({
    index: c.index,
    ret: c.ret,
    args: c.args,
    matched: c.skipped || (uncond !== undefined && c !== uncond) ? undefined : c.args.length === 0 ? true : matches(c),
    ...(c.skipped ? { skipped: 'same-as-default' as const } : {}),
  }));
  if (uncond !== undefined) return { ret: uncond.ret, by: { kind: 'rule', index: uncond.index }, sub, candidates };
  // Otherwise the strictest matching rule, the earlier one on ties.
  let best: Cand | undefined;
  for (const c of live) {
    if (!matches(c)) continue;
    if (best === undefined || retRank(c.ret) < retRank(best.ret)) best = c;
  }
  if (best === undefined) return { ret: defaultRet, by: { kind: 'default' }, sub, candidates };
  return { ret: best.ret, by: { kind: 'rule', index: best.index }, sub, candidates };
}

/**
 * The u32 the profile gives `data`, evaluated directly from the rules.
 *
 * @example
 * evaluateSeccomp(profile, { nr: 110, arch: AUDIT_ARCH_X86_64 }, { arch: 'SCMP_ARCH_X86_64', resolveNr });
 */
export function evaluateSeccomp(input: CompileInput, data: SeccompData, opts: CompileOptions): number {
  return evaluateRules(input, data, opts).ret;
}
