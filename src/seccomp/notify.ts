// ERRNO rules -> SCMP_ACT_NOTIFY, so a moat listener sees each denial (and can explain it)
// and answers with the errno the rule would have returned.
//
// The listener learns only the syscall (nr, arch, args), not which rule matched. So a name
// is converted only when all its ERRNO rules return the same errno: then the answer depends
// on the name alone. A name whose ERRNO rules return different errnos under different
// argument conditions stays a plain ERRNO rule (the listener would have to re-evaluate the
// argument comparisons and could disagree with the kernel's filter on edge cases such as
// 32-bit compares on i386). `write` also stays ERRNO: runc refuses NOTIFY on write.
//
// Calls that programs make routinely and expect to fail stay plain ERRNO rules too, because
// a notification costs a round trip through the listener (~20 µs, against ~0.3 µs for
// ERRNO) and every container shares the listener (issue 11, finding 7):
// - every rule answering ENOSYS: ENOSYS says "not implemented, use the older call", and libc
//   and language runtimes probe for it as a matter of course (glibc >= 2.34 tries clone3 on
//   every pthread_create, fork and posix_spawn, then falls back to clone; new file calls
//   such as file_getattr are probed per file). Such an answer is not a denial to explain.
// - clone3 whatever its errno: thread creation must never wait for another process.
//
// The default action is never converted (runc refuses a NOTIFY default, and the listener
// would have to answer every unknown syscall). `flags` are never emitted: runc 1.1 refuses
// any (`seccomp flags are not yet supported by runc`).
import type { LinuxSeccomp, LinuxSyscall } from './oci.js';
import { DEFAULT_ERRNO } from './bpf/semantics.js';

/** What the listener answers for the syscalls of one converted rule. */
export interface NotifyRule {
  /** Index of the rule in the converted `seccomp.syscalls`. */
  readonly index: number;
  readonly names: readonly string[];
  /** The errno to answer (runc's default 1 when the rule had no errnoRet). */
  readonly errno: number;
  readonly comment?: string;
}

export interface NotifyOptions {
  /** Comments parallel to `seccomp.syscalls` (e.g. from resolveProfile's `origins`). */
  readonly comments?: ReadonlyArray<string | undefined>;
}

/** Names never put under SCMP_ACT_NOTIFY: runc refuses `write`; clone3 is thread creation. */
const NEVER_NOTIFY: ReadonlySet<string> = new Set(['write', 'clone3']);

/** ENOSYS (x86_64, arm64 and every arch moat filters): "not implemented, fall back". */
const ENOSYS = 38;

const errnoOf = (r: LinuxSyscall): number => r.errnoRet ?? DEFAULT_ERRNO;

/**
 * Why a name of an ERRNO rule stays a plain ERRNO rule, or undefined when it may be notified.
 * `errnos` are all the errnos its ERRNO rules return.
 *
 * @example
 * notifyExclusion('clone3', new Set([38])); // 'hot'
 */
export function notifyExclusion(name: string, errnos: ReadonlySet<number>): 'runc' | 'hot' | 'enosys' | 'mixed-errno' | undefined {
  if (name === 'write') return 'runc';
  if (NEVER_NOTIFY.has(name)) return 'hot';
  if (errnos.has(ENOSYS)) return 'enosys';
  if (errnos.size !== 1) return 'mixed-errno';
  return undefined;
}

/**
 * Converts the ERRNO rules of a resolved OCI section to SCMP_ACT_NOTIFY with `listenerPath`,
 * and returns the table the listener answers from. The input is not changed.
 */
export function toNotifyProfile(
  seccomp: LinuxSeccomp,
  listenerPath: string,
  options: NotifyOptions = {},
): { seccomp: LinuxSeccomp; table: NotifyRule[] } {
  const rules = seccomp.syscalls ?? [];
  const errnos = new Map<string, Set<number>>();
  for (const r of rules) {
    if (r.action !== 'SCMP_ACT_ERRNO') continue;
    for (const n of r.names) errnos.set(n, (errnos.get(n) ?? new Set()).add(errnoOf(r)));
  }
  const convertible = (n: string): boolean => notifyExclusion(n, errnos.get(n) ?? new Set()) === undefined;

  const out: LinuxSyscall[] = [];
  const table: NotifyRule[] = [];
  rules.forEach((r, i) => {
    const copy = structuredClone(r);
    if (r.action !== 'SCMP_ACT_ERRNO') {
      out.push(copy);
      return;
    }
    const yes = r.names.filter(convertible);
    const no = r.names.filter((n) => !convertible(n));
    if (no.length > 0) out.push({ ...copy, names: no });
    if (yes.length > 0) {
      const { errnoRet: _errno, ...rest } = copy;
      out.push({ ...rest, names: yes, action: 'SCMP_ACT_NOTIFY' });
      const comment = options.comments?.[i];
      table.push({ index: out.length - 1, names: yes, errno: errnoOf(r), ...(comment !== undefined ? { comment } : {}) });
    }
  });

  const { flags: _flags, syscalls: _syscalls, ...top } = structuredClone(seccomp);
  const result: LinuxSeccomp = { ...top };
  if (table.length > 0) result.listenerPath = listenerPath;
  if (out.length > 0) result.syscalls = out;
  return { seccomp: result, table };
}

/** The errno the listener answers for syscall `name`, or undefined when no converted rule names it. */
export function notifyErrno(table: readonly NotifyRule[], name: string): number | undefined {
  return table.find((r) => r.names.includes(name))?.errno;
}
