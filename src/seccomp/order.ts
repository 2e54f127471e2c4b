// The order runc hands a filter's names to libseccomp 2.5 changes how long libseccomp takes
// to build it, not what it builds: every name is its own seccomp_rule_add with the rule's
// action and comparisons.
import type { LinuxSeccomp, SeccompArch } from './oci.js';
import { syscallNumber } from './tables/index.js';

/**
 * A copy of `seccomp` with each rule's names in the order libseccomp 2.5 adds them fastest:
 * descending syscall number on the native arch (`arch`, or the section's first), names only
 * a sub-arch has (i386's `chown32`...) first. Rules keep their order, so overlapping rules
 * of one syscall meet libseccomp in the same order. For moat's default profile libseccomp's
 * program is byte-identical (test/integration/kernel/seccomp-order.test.ts) and its rule
 * adding takes ~0.7 ms less of ~2.7 ms (x86_64 + x86; docs/performance.md, Phase E).
 */
export function orderForLibseccomp(seccomp: LinuxSeccomp, arch: SeccompArch): LinuxSeccomp {
  const out = structuredClone(seccomp);
  if (out.syscalls === undefined) return out;
  const arches = out.architectures !== undefined && out.architectures.length > 0 ? out.architectures : [arch];
  const [native, ...subs] = arches;
  const key = (n: string): number => {
    const nr = native === undefined ? undefined : syscallNumber(native, n);
    if (nr !== undefined) return nr;
    for (const a of subs) {
      const sub = syscallNumber(a, n);
      if (sub !== undefined) return 2 ** 32 + sub;
    }
    return -1;
  };
  for (const rule of out.syscalls) {
    rule.names = rule.names.map((n) => ({ n, k: key(n) })).sort((a, b) => b.k - a.k).map((e) => e.n);
  }
  return out;
}
