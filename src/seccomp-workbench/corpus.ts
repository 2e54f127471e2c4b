// Probe corpus: (syscall, arguments) cases that exercise every comparison of a profile at
// and around its boundaries, and the comparison of kernel outcomes with emulated verdicts.
// Pure.
import {
  ENOSYS, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_LOG, SECCOMP_RET_TRACE, SECCOMP_RET_USER_NOTIF, X32_SYSCALL_BIT,
  retAction, retData, syscallName, syscallNumber, type LinuxSeccomp, type LinuxSeccompArg, type SeccompArch,
} from '../seccomp/index.js';
import type { NativeArch } from './decide.js';

const U64 = (1n << 64n) - 1n;

/**
 * Syscalls a probe must not execute even when the filter allows them: they end or block
 * the probe, signal or wait for other processes, write to its output, or change state shared
 * with the rest of the container (the probe forks one child per case, so memory, creds and
 * signal masks are private to the child).
 */
export const UNSAFE_TO_EXECUTE: ReadonlySet<string> = new Set([
  'exit', 'exit_group', 'kill', 'tkill', 'tgkill', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'pidfd_send_signal', 'reboot',
  'clone', 'clone3', 'fork', 'vfork', 'execve', 'execveat', 'pause', 'rt_sigsuspend', 'sigsuspend', 'rt_sigreturn', 'sigreturn',
  'wait4', 'waitid', 'waitpid', 'read', 'readv', 'pread64', 'preadv', 'preadv2', 'recvfrom', 'recvmsg', 'recvmmsg', 'accept',
  'accept4', 'nanosleep', 'clock_nanosleep', 'select', 'pselect6', 'poll', 'ppoll', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2',
  'futex', 'futex_wait', 'futex_waitv', 'futex_wake', 'futex_requeue', 'msgrcv', 'semop', 'semtimedop', 'mq_timedreceive',
  'rt_sigtimedwait', 'io_getevents', 'io_pgetevents', 'io_uring_enter', 'ptrace', 'process_vm_writev', 'mount', 'umount2',
  'pivot_root', 'swapon', 'swapoff', 'sethostname', 'setdomainname', 'settimeofday', 'clock_settime', 'adjtimex',
  'clock_adjtime', 'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'sendto', 'sendmsg', 'sendmmsg', 'sendfile', 'splice',
  'tee', 'vmsplice', 'close', 'close_range', 'dup2', 'dup3', 'shutdown', 'kexec_load', 'kexec_file_load', 'init_module',
  'finit_module', 'delete_module', 'bpf', 'perf_event_open', 'keyctl', 'add_key', 'request_key', 'ftruncate', 'fallocate',
  'ioctl', 'prlimit64', 'setpriority', 'ioprio_set', 'sched_setaffinity', 'sched_setscheduler', 'sched_setparam',
  'sched_setattr', 'fcntl', 'flock', 'syslog', 'acct', 'quotactl', 'quotactl_fd', 'uretprobe', 'uprobe', 'sync', 'syncfs',
  'seccomp', 'userfaultfd', 'mq_timedsend', 'msgsnd', 'lookup_dcookie', 'open_by_handle_at', 'fanotify_init', 'setns',
  'modify_ldt', 'arch_prctl', 'iopl', 'ioperm', 'vhangup', 'migrate_pages', 'move_pages', 'restart_syscall',
]);

/** Syscalls that are harmless with any arguments in a forked child; used for default-action cases. */
export const SAFE_POOL: readonly string[] = [
  'getppid', 'getuid', 'geteuid', 'getgid', 'getegid', 'getpgrp', 'umask', 'personality', 'socket', 'mkdir', 'getpriority',
  'sched_getscheduler', 'getsid', 'getpgid', 'uname', 'sysinfo', 'getrlimit', 'capget', 'fsync', 'fchdir', 'lseek', 'dup',
  'getcwd', 'access', 'chdir', 'rmdir', 'unlink', 'times', 'getrusage', 'alarm', 'getitimer', 'mincore', 'statfs', 'fstatfs',
  'getgroups', 'setsid', 'setpgid', 'setuid', 'setgid', 'getresuid', 'getresgid', 'prctl', 'mlock', 'munlock', 'madvise',
  'eventfd2', 'epoll_create1', 'inotify_init1', 'memfd_create', 'timerfd_create', 'pipe2', 'socketpair', 'symlink', 'chmod',
];

export interface ProbeCase {
  /** Syscall name on `arch` (undefined for numbers no table names). */
  readonly name: string | undefined;
  readonly arch: SeccompArch;
  /** Number as the filter sees it (x32 numbers with the x32 bit). */
  readonly nr: number;
  readonly args: readonly bigint[];
}

function around(v: bigint, width: 32 | 64): bigint[] {
  const m = width === 64 ? U64 : 0xffffffffn;
  const out = [v & m, (v + 1n) & m, (v - 1n) & m];
  return out;
}

/** Boundary values of one comparison: each side of the boundary, as u64. */
export function boundaryValues(a: LinuxSeccompArg, width: 32 | 64 = 64): bigint[] {
  const v = BigInt(a.value);
  const out = new Set<bigint>([0n]);
  if (a.op === 'SCMP_CMP_MASKED_EQ') {
    const mask = v;
    const want = BigInt(a.valueTwo ?? 0) & mask;
    out.add(want);
    out.add(want | (~mask & 0xfff0n)); // bits outside the mask do not matter
    for (let b = 0n; b < 64n; b++) {
      if ((mask >> b) & 1n) { out.add(want ^ (1n << b)); break; }
    }
    for (let b = 63n; b >= 0n; b--) {
      if ((mask >> b) & 1n) { out.add(want ^ (1n << b)); break; }
    }
  } else {
    for (const x of around(v, width)) out.add(x);
    if (width === 64) out.add(v | (1n << 32n)); // upper half set: 32-bit ABIs see the same low word
  }
  return [...out].map((x) => x & U64);
}

/** Cartesian product of per-argument value lists, capped at `limit` (diagonal beyond). */
export function combine(perArg: ReadonlyMap<number, readonly bigint[]>, limit: number): bigint[][] {
  let rows: bigint[][] = [[0n, 0n, 0n, 0n, 0n, 0n]];
  const entries = [...perArg.entries()].sort((x, y) => x[0] - y[0]);
  const product = entries.reduce((p, [, v]) => p * v.length, 1);
  if (product <= limit) {
    for (const [i, vals] of entries) rows = rows.flatMap((r) => vals.map((v) => { const c = [...r]; c[i] = v; return c; }));
    return rows;
  }
  const longest = Math.max(...entries.map(([, v]) => v.length));
  const out: bigint[][] = [];
  for (let k = 0; k < Math.min(longest * 2, limit); k++) {
    const c = [0n, 0n, 0n, 0n, 0n, 0n];
    entries.forEach(([i, vals], j) => { c[i] = vals[(k + j * (k >> 1)) % vals.length]!; });
    out.push(c);
  }
  return out;
}

export interface CorpusOptions {
  readonly native: NativeArch;
  /** Cases per syscall at most (default 64). */
  readonly perSyscall?: number;
  /** Leave out syscalls in UNSAFE_TO_EXECUTE (for kernel runs). Default true. */
  readonly executable?: boolean;
  /** Default-action syscalls from SAFE_POOL to add (default 6). */
  readonly extra?: number;
}

/** Sub-arches of the profile the host can actually execute here (x32 numbers are seen by the filter even without CONFIG_X86_X32_ABI). */
function subArches(seccomp: LinuxSeccomp, native: NativeArch): SeccompArch[] {
  const out: SeccompArch[] = [native];
  if (native === 'SCMP_ARCH_X86_64') out.push('SCMP_ARCH_X32');
  return out;
}

/**
 * Cases covering every syscall a profile names on the native arch (boundary values of
 * each comparison, combined), a few syscalls it leaves to the default action, a number
 * above every named one (runc's ENOSYS stub) and the x32 aliases of some of them.
 *
 * @example
 * const { cases, skipped } = probeCorpus(resolved.seccomp, { native: 'SCMP_ARCH_X86_64' });
 */
export function probeCorpus(seccomp: LinuxSeccomp, opts: CorpusOptions): { cases: ProbeCase[]; skipped: string[] } {
  const per = opts.perSyscall ?? 64;
  const executable = opts.executable ?? true;
  const cases: ProbeCase[] = [];
  const skipped = new Set<string>();
  const named = new Map<string, Map<number, bigint[]>>();
  for (const rule of seccomp.syscalls ?? []) {
    for (const n of rule.names) {
      const m = named.get(n) ?? new Map<number, bigint[]>();
      for (const a of rule.args ?? []) m.set(a.index, [...new Set([...(m.get(a.index) ?? []), ...boundaryValues(a)])]);
      named.set(n, m);
    }
  }
  const native = opts.native;
  let maxNr = 0;
  for (const [name, perArg] of named) {
    const nr = syscallNumber(native, name);
    if (nr === undefined) continue;
    maxNr = Math.max(maxNr, nr);
    if (executable && UNSAFE_TO_EXECUTE.has(name)) { skipped.add(name); continue; }
    for (const args of combine(perArg, per)) cases.push({ name, arch: native, nr, args });
  }
  const extra = opts.extra ?? 6;
  let added = 0;
  for (const n of SAFE_POOL) {
    if (added >= extra) break;
    if (named.has(n)) continue;
    const nr = syscallNumber(native, n);
    if (nr === undefined) continue;
    cases.push({ name: n, arch: native, nr, args: [0n, 0n, 0n, 0n, 0n, 0n] });
    added++;
  }
  // Above every named number: runc's ENOSYS stub, or the default action.
  if (native === 'SCMP_ARCH_X86_64') {
    const above = Math.max(maxNr + 1, 470);
    cases.push({ name: syscallName(native, above), arch: native, nr: above, args: [0n, 0n, 0n, 0n, 0n, 0n] });
  }
  for (const sub of subArches(seccomp, native)) {
    if (sub === native) continue;
    // x32 aliases of a few native cases: the filter sees them under AUDIT_ARCH_X86_64 with bit 30.
    const seen = new Set<string>();
    for (const c of [...cases]) {
      if (c.name === undefined || seen.has(c.name) || seen.size >= 4) continue;
      const x = syscallNumber(sub, c.name);
      if (x === undefined) continue;
      seen.add(c.name);
      cases.push({ name: c.name, arch: sub, nr: (x | X32_SYSCALL_BIT) >>> 0, args: c.args });
    }
  }
  return { cases, skipped: [...skipped].sort() };
}

/** What a probe saw for one case. */
export type Outcome = { readonly kind: 'ok' } | { readonly kind: 'errno'; readonly errno: number } | { readonly kind: 'signal'; readonly signal: number } | { readonly kind: 'lost' };

export const formatOutcome = (o: Outcome): string =>
  o.kind === 'ok' ? 'ok' : o.kind === 'errno' ? `errno ${o.errno}` : o.kind === 'signal' ? `signal ${o.signal}` : 'no result';

export const sameOutcome = (a: Outcome, b: Outcome): boolean => formatOutcome(a) === formatOutcome(b);

/** Argument for batch-probe: `nr:a0:…:a5` in hex. */
export function probeArg(c: ProbeCase): string {
  return [c.nr >>> 0, ...c.args].map((x) => (typeof x === 'bigint' ? BigInt.asUintN(64, x) : BigInt(x)).toString(16)).join(':');
}

/** Parses batch-probe output: `i ok <hex>`, `i errno <n>`, `i status <wait status>` (case i = argv index, from 1). */
export function parseProbeOutput(text: string, count: number): Outcome[] {
  const res = new Map<number, Outcome>();
  const status = new Map<number, number>();
  for (const l of text.split('\n')) {
    const m = /^(\d+) (ok|errno|status|forkerr) ([0-9a-f]+)$/.exec(l.trim());
    if (m === null) continue;
    const i = Number(m[1]) - 1;
    if (m[2] === 'ok') res.set(i, { kind: 'ok' });
    else if (m[2] === 'errno') res.set(i, { kind: 'errno', errno: Number(m[3]) });
    else if (m[2] === 'status') status.set(i, Number(m[3]));
  }
  return Array.from({ length: count }, (_, i): Outcome => {
    const st = status.get(i);
    if (st !== undefined && (st & 0x7f) !== 0 && (st & 0x7f) !== 0x7f) return { kind: 'signal', signal: st & 0x7f };
    return res.get(i) ?? { kind: 'lost' };
  });
}

/**
 * The outcome a verdict predicts, given what the call does without a filter: ALLOW and LOG
 * run the call; ERRNO(e) fails with e (ERRNO(0) "succeeds"); TRACE without a tracer and
 * USER_NOTIF without a listener fail with ENOSYS; KILL_* and TRAP (no handler) end the
 * child with SIGSYS.
 */
export function expectedOutcome(ret: number, baseline: Outcome): Outcome {
  const data = retData(ret);
  switch (retAction(ret)) {
    case SECCOMP_RET_ALLOW: case SECCOMP_RET_LOG: return baseline;
    case SECCOMP_RET_ERRNO: return data === 0 ? { kind: 'ok' } : { kind: 'errno', errno: Math.min(data, 4095) };
    case SECCOMP_RET_TRACE: case SECCOMP_RET_USER_NOTIF: return { kind: 'errno', errno: ENOSYS };
    default: return { kind: 'signal', signal: 31 };
  }
}
