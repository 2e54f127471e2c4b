// --security-opt seccomp-allow=NAME[,NAME…] and seccomp-deny=NAME[,NAME…] on top of a
// profile, with moat's precedence: deny wins over allow.
//
// libseccomp gives no order between an unconditional rule and other rules for the same
// syscall (the unconditional one absorbs the rest; two unconditional ones: the first added
// wins), so rather than rely on placement, an amended name is removed from every existing
// rule and gets exactly one rule of its own. The deny rule also comes first, so it would
// win under first-rule-wins readers too.
import { EPERM } from './bpf/semantics.js';
import type { Issue, Parsed, Profile, ProfileRule } from './profile.js';
import { isKnownOnAnyArch } from './tables/index.js';

export interface AmendOptions {
  /** seccomp-allow names: any rule about them is replaced by an unconditional ALLOW. */
  readonly allow?: readonly string[];
  /** seccomp-deny names: any rule about them is replaced by an unconditional ERRNO(EPERM). Wins over allow. */
  readonly deny?: readonly string[];
}

/** Comments on the rules amendProfile adds, so inspect can show where they came from. */
export const AMEND_ALLOW_COMMENT = 'Allowed by --security-opt seccomp-allow';
export const AMEND_DENY_COMMENT = 'Denied by --security-opt seccomp-deny';

/**
 * Returns a copy of `profile` with the allow/deny amendments applied; `profile` is not
 * changed. Unknown syscall names are issues (path `['seccomp-allow', i]` / `['seccomp-deny', i]`);
 * a name in both lists is denied, with a warning.
 */
export function amendProfile(profile: Profile, options: AmendOptions): Parsed<Profile> {
  const issues: Issue[] = [];
  const warnings: Issue[] = [];
  const check = (list: readonly string[] | undefined, key: string): string[] => {
    const out: string[] = [];
    (list ?? []).forEach((n, i) => {
      if (!isKnownOnAnyArch(n)) {
        issues.push({ path: [key, i], code: 'unknown_syscall', message: `Unknown syscall ${JSON.stringify(n)}: not in the table of any architecture` });
      } else if (!out.includes(n)) {
        out.push(n);
      }
    });
    return out;
  };
  const deny = check(options.deny, 'seccomp-deny');
  const allowRaw = check(options.allow, 'seccomp-allow');
  if (issues.length > 0) return { ok: false, issues };
  const allow = allowRaw.filter((n) => {
    if (!deny.includes(n)) return true;
    warnings.push({ path: ['seccomp-allow', allowRaw.indexOf(n)], code: 'deny_wins', message: `Syscall ${JSON.stringify(n)} is both allowed and denied; seccomp-deny wins` });
    return false;
  });

  const amended = new Set([...deny, ...allow]);
  const kept: ProfileRule[] = [];
  for (const rule of profile.syscalls) {
    const names = rule.names.filter((n) => !amended.has(n));
    if (names.length === 0) continue;
    kept.push(structuredClone({ ...rule, names }));
  }
  const syscalls: ProfileRule[] = [];
  if (deny.length > 0) syscalls.push({ names: deny, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, comment: AMEND_DENY_COMMENT });
  syscalls.push(...kept);
  if (allow.length > 0) syscalls.push({ names: allow, action: 'SCMP_ACT_ALLOW', comment: AMEND_ALLOW_COMMENT });
  return { ok: true, value: { ...structuredClone(profile), syscalls }, warnings };
}
