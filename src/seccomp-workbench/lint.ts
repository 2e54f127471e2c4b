// `moat seccomp lint`: the parser's errors and warnings plus checks of intent. Pure.
import { DEFAULT_ERRNO, parseProfile, syscallNumber, type Issue, type Profile, type ProfileRule, type SeccompArch } from '../seccomp/index.js';
import { DANGEROUS, POINTER_ARGS } from './tables.js';

export interface LintResult {
  /** Errors (the profile is refused); parser issues with JSON paths. */
  readonly errors: readonly Issue[];
  readonly warnings: readonly Issue[];
}

// moby's goToNative spelling (includes.arches) -> the libseccomp arches a filter on that host covers.
const MOBY_TO_SCMP: Readonly<Record<string, SeccompArch>> = {
  amd64: 'SCMP_ARCH_X86_64', x86: 'SCMP_ARCH_X86', x32: 'SCMP_ARCH_X32', arm64: 'SCMP_ARCH_AARCH64', arm: 'SCMP_ARCH_ARM',
  mips: 'SCMP_ARCH_MIPS', mipsel: 'SCMP_ARCH_MIPSEL', mips64: 'SCMP_ARCH_MIPS64', mipsel64: 'SCMP_ARCH_MIPSEL64',
  mips64n32: 'SCMP_ARCH_MIPS64N32', mips3l64n32: 'SCMP_ARCH_MIPSEL64N32', ppc: 'SCMP_ARCH_PPC', ppc64: 'SCMP_ARCH_PPC64',
  ppc64le: 'SCMP_ARCH_PPC64LE', riscv64: 'SCMP_ARCH_RISCV64', s390: 'SCMP_ARCH_S390', s390x: 'SCMP_ARCH_S390X',
};

const ALLOWING = new Set(['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG']);

/** The arches a profile's filter covers (every archMap entry counts: the profile may run on any of them). */
function profileArches(p: Profile): SeccompArch[] {
  if (p.architectures !== undefined && p.architectures.length > 0) return [...p.architectures];
  if (p.archMap !== undefined) return p.archMap.flatMap((e) => [e.architecture, ...(e.subArchitectures ?? [])]);
  return [];
}

const key = (r: ProfileRule): string => JSON.stringify([r.includes ?? null, r.excludes ?? null]);
const argsKey = (r: ProfileRule): string => JSON.stringify((r.args ?? []).map((a) => [a.index, a.op, a.value, a.valueTwo ?? 0]).sort());

/**
 * Lints a profile (parsed JSON): parser errors, then warnings for pointer-argument filters,
 * dangerous allowances without a capability gate, shadowed and duplicate rules, missing
 * architectures and names an architecture does not have.
 *
 * @example
 * const { errors, warnings } = lintProfile(JSON.parse(text));
 */
export function lintProfile(input: unknown): LintResult {
  const parsed = parseProfile(input);
  if (!parsed.ok) return { errors: parsed.issues, warnings: [] };
  const p = parsed.value;
  const errors: Issue[] = [];
  if (p.defaultErrnoRet === 4095 && p.defaultAction === 'SCMP_ACT_ERRNO') {
    errors.push({ path: ['defaultErrnoRet'], code: 'errno_rejected_by_libseccomp', message: 'errno 4095 is rejected by libseccomp 2.5.4 (seccomp_init fails): runc would fail to start the container; use 1-4094' });
  }
  const warnings: Issue[] = [...parsed.warnings];
  const warn = (path: ReadonlyArray<string | number>, code: string, message: string): void => {
    warnings.push({ path, code, message });
  };

  // Architectures.
  const arches = profileArches(p);
  if (p.architectures === undefined && p.archMap === undefined) {
    warn([], 'missing_architectures', 'No architectures or archMap: only the host arch is filtered and 32-bit (x86, arm) syscalls get the bad-arch action (KILL); list them explicitly (e.g. SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32) to decide for them');
  } else if (p.archMap !== undefined) {
    for (const host of ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'] as const) {
      if (!p.archMap.some((e) => e.architecture === host)) warn(['archMap'], 'missing_architectures', `archMap has no entry for ${host}: on such a host the filter covers the native arch only`);
    }
  } else if (arches.includes('SCMP_ARCH_X86_64') && !arches.includes('SCMP_ARCH_X86')) {
    warn(['architectures'], 'missing_architectures', 'SCMP_ARCH_X86_64 without SCMP_ARCH_X86: 32-bit syscalls (int 0x80) are killed instead of filtered by the rules');
  }

  const deny = p.defaultAction !== 'SCMP_ACT_ALLOW' && p.defaultAction !== 'SCMP_ACT_LOG';
  p.syscalls.forEach((rule, i) => {
    const path = ['syscalls', i] as const;
    // Names the rule's arches do not have.
    const ruleArches = rule.includes?.arches !== undefined && rule.includes.arches.length > 0
      ? rule.includes.arches.map((a) => MOBY_TO_SCMP[a]).filter((a): a is SeccompArch => a !== undefined)
      : arches;
    if (ruleArches.length > 0) {
      const missing = rule.names.filter((n) => ruleArches.every((a) => syscallNumber(a, n) === undefined));
      const list = [...new Set(ruleArches)].map((a) => a.replace('SCMP_ARCH_', ''));
      if (missing.length > 0) warn([...path, 'names'], 'syscall_not_on_arch', `Not a syscall on ${list.length > 3 ? `any of the profile's ${list.length} arches` : list.join(', ')}: ${missing.join(', ')} (runc ignores these names there)`);
    }
    // Duplicates inside one rule.
    const seen = new Set<string>();
    for (const n of rule.names) {
      if (seen.has(n)) warn([...path, 'names'], 'duplicate_name', `${n} is listed twice in this rule`);
      seen.add(n);
    }
    // errno 4095: the parser accepts it (the kernel's MAX_ERRNO), libseccomp 2.5.4 does not.
    if (rule.errnoRet === 4095 && rule.action === 'SCMP_ACT_ERRNO') {
      errors.push({ path: [...path, 'errnoRet'], code: 'errno_rejected_by_libseccomp', message: 'errno 4095 is rejected by libseccomp 2.5.4 (EINVAL; checked with seccomp_rule_add): runc would fail to start the container; use 1-4094' });
    }
    // Comparisons that always or never match.
    (rule.args ?? []).forEach((a, j) => {
      if (a.op === 'SCMP_CMP_MASKED_EQ' && a.value === 0) {
        warn([...path, 'args', j], (a.valueTwo ?? 0) === 0 ? 'always_matches' : 'never_matches',
          (a.valueTwo ?? 0) === 0 ? 'MASKED_EQ with mask 0 always matches: libseccomp treats the rule as unconditional (first unconditional rule wins), moat as conditional — the two disagree when the syscall also has an unconditional rule' : 'MASKED_EQ with mask 0 and a non-zero valueTwo never matches');
      }
    });
    // Pointer arguments.
    (rule.args ?? []).forEach((a, j) => {
      const ptrs = rule.names.filter((n) => POINTER_ARGS[n]?.includes(a.index));
      if (ptrs.length > 0) warn([...path, 'args', j], 'pointer_arg', `Argument ${a.index} of ${ptrs.join(', ')} is a pointer: the filter compares the address, not the data it points to (seccomp cannot dereference memory)`);
    });
    // Same action as the default: dropped.
    if (rule.action === p.defaultAction && (rule.errnoRet ?? DEFAULT_ERRNO) === (p.defaultErrnoRet ?? DEFAULT_ERRNO)) {
      warn([...path, 'action'], 'same_as_default', `${rule.action} is also the default action: the rule has no effect (libseccomp rejects it, runc skips it)`);
    }
    // Dangerous allowances.
    if (ALLOWING.has(rule.action)) {
      for (const n of rule.names) {
        const d = DANGEROUS[n];
        if (d === undefined) continue;
        const gate = rule.includes?.caps ?? [];
        const gated = d.caps !== undefined && d.caps.some((c) => gate.includes(c));
        if (!gated) {
          const expect = d.caps === undefined ? 'moby blocks it for everyone' : `gate it with "includes": {"caps": ["${d.caps[0]!}"]}`;
          warn([...path, 'names'], 'dangerous_allow', `${rule.action === 'SCMP_ACT_LOG' ? 'Logs and allows' : 'Allows'} ${n}${rule.args !== undefined ? ' (with argument conditions)' : ''} without a capability gate: ${d.why}; ${expect}`);
        }
      }
    }
  });

  // Shadowed and duplicate rules: compare rules that are active under the same conditions.
  const firstUncond = new Map<string, number>();
  const conds = new Map<string, { rule: number; action: string; errno: number | undefined }>();
  p.syscalls.forEach((rule, i) => {
    const k = key(rule);
    for (const n of rule.names) {
      const nk = `${k}\u0000${n}`;
      const first = firstUncond.get(nk);
      if (rule.args === undefined) {
        if (first !== undefined) {
          const prev = p.syscalls[first]!;
          const same = prev.action === rule.action && prev.errnoRet === rule.errnoRet;
          warn(['syscalls', i, 'names'], same ? 'duplicate_rule' : 'shadowed_rule',
            same ? `${n} already has the same unconditional rule in syscalls[${first}]` : `${n}: syscalls[${first}] (${prev.action}) decides first; this ${rule.action} rule is dropped by libseccomp`);
        } else {
          firstUncond.set(nk, i);
          // Conditional rules seen before are absorbed.
          for (const [ck, c] of conds) if (ck.startsWith(`${nk}\u0000`)) warn(['syscalls', c.rule], 'shadowed_rule', `${n}: the unconditional rule syscalls[${i}] absorbs this conditional rule (libseccomp keeps only the unconditional one)`);
        }
      } else {
        if (first !== undefined) {
          warn(['syscalls', i, 'args'], 'shadowed_rule', `${n}: the unconditional rule syscalls[${first}] absorbs this conditional rule (libseccomp keeps only the unconditional one)`);
          continue;
        }
        const ck = `${nk}\u0000${argsKey(rule)}`;
        const prev = conds.get(ck);
        if (prev !== undefined) {
          if (prev.action === rule.action && prev.errno === rule.errnoRet) warn(['syscalls', i, 'args'], 'duplicate_rule', `${n}: syscalls[${prev.rule}] has the same conditions and action`);
          else warn(['syscalls', i, 'args'], 'conflicting_rule', `${n}: syscalls[${prev.rule}] has the same conditions with ${prev.action}; libseccomp refuses this (EEXIST) and runc fails the start`);
        } else conds.set(ck, { rule: i, action: rule.action, errno: rule.errnoRet });
      }
    }
  });

  // libseccomp 2.5.4 merges several conditional rules of one syscall wrongly when they compare
  // the same argument and one of them compares more than one argument (found by the
  // differential test against the kernel; the installed filter then differs from the rules).
  const bySyscall = new Map<string, number[]>();
  p.syscalls.forEach((rule, i) => {
    if (rule.args === undefined) return;
    for (const n of rule.names) bySyscall.set(`${key(rule)}\u0000${n}`, [...(bySyscall.get(`${key(rule)}\u0000${n}`) ?? []), i]);
  });
  for (const [k, idx] of bySyscall) {
    if (idx.length < 2) continue;
    const rules = idx.map((i) => p.syscalls[i]!);
    const multi = rules.some((r) => (r.args ?? []).length > 1);
    const shared = rules.some((r, x) => rules.some((q, y) => x !== y && (r.args ?? []).some((a) => (q.args ?? []).some((b) => b.index === a.index))));
    if (multi && shared) {
      warn(['syscalls', idx[0]!], 'libseccomp_merge', `${k.split('\u0000')[1]!}: rules ${idx.map((i) => `syscalls[${i}]`).join(', ')} compare the same argument and one compares several; libseccomp 2.5.4 can merge such rules wrongly, so runc's filter may differ from the rules (check with moat seccomp test)`);
    }
  }

  // A default that allows: list the dangerous syscalls no rule denies.
  if (!deny) {
    const denied = new Set(p.syscalls.filter((r) => !ALLOWING.has(r.action) && r.args === undefined && r.includes === undefined).flatMap((r) => r.names));
    const open = Object.keys(DANGEROUS).filter((n) => !denied.has(n));
    if (open.length > 0) warn(['defaultAction'], 'dangerous_allow', `${p.defaultAction} as default leaves these allowed: ${open.join(', ')}`);
  }
  return { errors, warnings };
}
