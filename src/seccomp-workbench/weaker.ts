// "Is this container's filter weaker than the default?" - the question an authorization
// policy must ask about seccomp (issue 11 finding 4): `seccomp=unconfined` is one answer,
// but so are `seccomp-allow=keyctl`, a custom profile whose default action is ALLOW, and a
// custom profile that allows unshare(CLONE_NEWUSER). Pure.
import { syscallNames, syscallNumber, X32_SYSCALL_BIT, type LinuxSeccomp, type LinuxSyscall, type SeccompArch } from '../seccomp/index.js';
import { boundaryValues, combine } from './corpus.js';
import { NATIVE_OF, decide, queryData } from './decide.js';

/**
 * True when a verdict lets the call run or leaves it to someone else: ALLOW, LOG, TRACE (a
 * tracer decides) and NOTIFY (a listener decides). ERRNO, TRAP and KILL block it.
 */
function permits(ret: number): boolean {
  const action = (ret & 0xffff0000) >>> 0;
  return action === 0x7fff0000 || action === 0x7ffc0000 || action === 0x7ff00000 || action === 0x7fc00000;
}

/** The rules of a filter that name each syscall number of `sub` (decide() on one of these is exact and fast). */
function rulesByNr(f: LinuxSeccomp, sub: SeccompArch): Map<number, LinuxSyscall[]> {
  const out = new Map<number, LinuxSyscall[]>();
  for (const r of f.syscalls ?? []) {
    const names = new Map<number, string[]>();
    for (const n of r.names) {
      const nr = syscallNumber(sub, n);
      if (nr !== undefined) names.set(nr, [...(names.get(nr) ?? []), n]);
    }
    // The rule as it applies to one number: its names for that number only.
    for (const [nr, ns] of names) {
      const list = out.get(nr) ?? [];
      list.push({ ...r, names: ns });
      out.set(nr, list);
    }
  }
  return out;
}

/**
 * Syscalls (by name, sorted) that `baseline` blocks and `effective` permits for some
 * argument values, on `arch` and the compat ABIs either filter lists (x86 and x32 on x86_64,
 * arm on aarch64; x32 only when `x32Abi` is not false, i.e. the kernel runs it). Arguments
 * are probed at the boundaries of both filters' comparisons. `undefined` is no filter
 * (unconfined). Returns undefined for an arch the evaluator does not model.
 *
 * @example
 * weakerSyscalls(resolvedCustom, resolvedDefault, { arch: 'SCMP_ARCH_X86_64' }); // ['add_key', 'keyctl']
 */
export function weakerSyscalls(effective: LinuxSeccomp | undefined, baseline: LinuxSeccomp | undefined, o: { arch: SeccompArch; x32Abi?: boolean }): string[] | undefined {
  const { arch } = o;
  const native = NATIVE_OF[arch];
  if (native === undefined || native !== arch) return undefined;
  if (baseline === undefined) return []; // nothing is weaker than no filter
  const eff: LinuxSeccomp = effective ?? { defaultAction: 'SCMP_ACT_ALLOW' };
  const subs: SeccompArch[] = [native];
  for (const s of [...(eff.architectures ?? []), ...(baseline.architectures ?? [])]) {
    // A kernel without the x32 ABI answers every x32 call ENOSYS: letting one through is no weaker.
    if (s === 'SCMP_ARCH_X32' && o.x32Abi === false) continue;
    if (!subs.includes(s) && NATIVE_OF[s] === native) subs.push(s);
  }
  const out = new Set<string>();
  for (const sub of subs) {
    const width = sub === native ? 64 : 32;
    const effRules = rulesByNr(eff, sub);
    const baseRules = rulesByNr(baseline, sub);
    for (const name of syscallNames(sub)) {
      if (out.has(name)) continue;
      const raw = syscallNumber(sub, name)!;
      const nr = sub === 'SCMP_ARCH_X32' ? (raw | X32_SYSCALL_BIT) >>> 0 : raw;
      const e1 = effRules.get(raw) ?? [];
      const b1 = baseRules.get(raw) ?? [];
      const effOne: LinuxSeccomp = { ...eff, syscalls: e1 };
      const baseOne: LinuxSeccomp = { ...baseline, syscalls: b1 };
      const perArg = new Map<number, bigint[]>();
      for (const r of [...e1, ...b1]) {
        for (const a of r.args ?? []) perArg.set(a.index, [...new Set([...(perArg.get(a.index) ?? []), ...boundaryValues(a, width)])]);
      }
      for (const args of combine(perArg, 256)) {
        const data = queryData({ arch: sub, syscall: nr, args });
        if (permits(decide(baseOne, data, native).ret)) continue;
        if (effective === undefined || permits(decide(effOne, data, native).ret)) {
          out.add(name);
          break;
        }
      }
    }
  }
  return [...out].sort();
}
