// `moat seccomp record`: strace output -> the syscalls the workload made after its exec
// (and those runc's init made between loading the filter and the exec) -> a minimal
// profile. Pure.
import { syscallNumber, type Profile, type ProfileRule, type SeccompArch } from '../seccomp/index.js';

export interface Recording {
  /** Syscall names the workload (the exec'd process and its descendants) made, with counts. */
  readonly workload: ReadonlyMap<string, number>;
  /** Names runc's init made after it loaded the filter and before the workload's exec. */
  readonly runtime: ReadonlyMap<string, number>;
  /** The workload's exec line, for the report. */
  readonly exec: string | undefined;
  /** Pids that belonged to the workload. */
  readonly pids: readonly number[];
}

export interface ParseStraceOptions {
  /** True for an execve path of the runtime itself (runc re-executing itself), which is not the workload. */
  readonly isRuntimeExec?: (path: string) => boolean;
}

const LINE = /^(\d+)\s+(?:<\.\.\. ([a-z0-9_]+) resumed>|([a-z0-9_]+)\()/;
const defaultRuntimeExec = (p: string): boolean => p.startsWith('/proc/self/') || /(^|\/)runc$/.test(p) || p.startsWith('/proc/') || p.includes('runc');

/**
 * Parses `strace -f -qq` output of a `runc run`: finds the workload's successful execve
 * (the first one after strace's own exec of runc that is not runc re-executing itself),
 * keeps the syscalls of that process and of every process it clones from then on, and the
 * syscalls that process made after its seccomp filter load (the runtime's share).
 *
 * @example
 * const rec = parseStrace(readFileSync('trace.txt', 'utf8'));
 * [...rec.workload.keys()]; // ['arch_prctl', 'brk', 'execve', …]
 */
export function parseStrace(text: string, opts: ParseStraceOptions = {}): Recording {
  const isRuntime = opts.isRuntimeExec ?? defaultRuntimeExec;
  const workload = new Map<string, number>();
  const runtime = new Map<string, number>();
  const loaded = new Set<number>();
  const runtimeSeen = new Map<number, Map<string, number>>();
  const pids = new Set<number>();
  let exec: string | undefined;
  let started = false;
  const bump = (m: Map<string, number>, n: string): void => { m.set(n, (m.get(n) ?? 0) + 1); };
  let first = true;
  // Pids seen before the workload's exec (runc's processes and threads), and clones whose
  // child pid strace printed only in the container's pid namespace.
  const before = new Set<number>();
  let pendingClones = 0;
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (started && !pids.has(pid) && !before.has(pid) && pendingClones > 0) {
      pids.add(pid);
      pendingClones--;
    }
    if (!started) before.add(pid);
    const name = (m[2] ?? m[3])!;
    const resumed = m[2] !== undefined;
    if (!started) {
      if (name === 'execve' && !resumed) {
        const path = /execve\("([^"]*)"/.exec(line)?.[1] ?? '';
        const ok = /\)\s+=\s+0\s*$/.test(line) || /<unfinished \.\.\.>/.test(line);
        if (first) { first = false; continue; }
        if (ok && !isRuntime(path)) {
          started = true;
          exec = line.replace(/^\d+\s+/, '');
          pids.add(pid);
          bump(workload, 'execve');
          const seen = runtimeSeen.get(pid);
          if (seen !== undefined) for (const [n, c] of seen) runtime.set(n, (runtime.get(n) ?? 0) + c);
          continue;
        }
      }
      if (resumed) continue;
      if (name === 'seccomp' && /SECCOMP_SET_MODE_FILTER/.test(line) || name === 'prctl' && /PR_SET_SECCOMP/.test(line)) {
        loaded.add(pid);
        runtimeSeen.set(pid, new Map());
        continue;
      }
      if (loaded.has(pid)) bump(runtimeSeen.get(pid)!, name);
      continue;
    }
    if (!pids.has(pid)) continue;
    if (!resumed || !/<unfinished/.test(line)) {
      // Count a call once: at its start, or at its resumption if the start was not seen.
      if (!resumed) bump(workload, name);
    }
    if (['clone', 'clone3', 'fork', 'vfork'].includes(name) && !/<unfinished/.test(line)) {
      // `= 6 /* 20471 in strace's PID NS */` with --pidns-translation; else only the
      // namespace pid: adopt the next pid that appears.
      const tail = line.slice(line.lastIndexOf(')'));
      const host = /\/\* (\d+) in strace's PID NS \*\//.exec(tail)?.[1];
      const child = /=\s+(\d+)/.exec(tail)?.[1];
      if (host !== undefined) pids.add(Number(host));
      else if (child !== undefined) pendingClones++;
    }
  }
  return { workload, runtime, exec, pids: [...pids] };
}

export interface SynthesizeOptions {
  /** The host arch; the profile lists it with its sub-arches. */
  readonly arch: 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_AARCH64';
  /** Existing profile to extend instead of starting from an empty ENOSYS-default one. */
  readonly merge?: Profile;
}

export const RECORD_COMMENT = 'moat seccomp record: syscalls the workload made after exec';
export const RUNTIME_COMMENT = 'moat seccomp record: runc init after loading the filter, before exec (needed to start)';

/** True if a profile allows `name` unconditionally for every container. */
function allowsAlways(p: Profile, name: string): boolean {
  return p.syscalls.some((r) => (r.action === 'SCMP_ACT_ALLOW' || r.action === 'SCMP_ACT_LOG') && r.args === undefined && r.includes === undefined && r.excludes === undefined && r.names.includes(name));
}

/**
 * What runc 1.1's init may call between loading the filter and exec, whatever one trace saw:
 * its own steps (sync with the parent, capabilities, ids, cwd, the exec fifo, closing fds)
 * and the Go runtime's (threads, futexes, signals, memory, the netpoller).
 */
export const RUNC_INIT_BASELINE: readonly string[] = [
  'read', 'write', 'close', 'close_range', 'fcntl', 'openat', 'newfstatat', 'fstat', 'fstatfs', 'getdents64', 'lseek',
  'capget', 'capset', 'prctl', 'setgroups', 'setresuid', 'setresgid', 'setuid', 'setgid', 'chdir', 'getppid', 'getpid', 'gettid',
  'futex', 'sched_yield', 'nanosleep', 'clock_gettime', 'mmap', 'munmap', 'mprotect', 'madvise', 'brk',
  'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'sigaltstack', 'tgkill', 'kill', 'clone', 'set_robust_list', 'rseq',
  'epoll_create1', 'epoll_ctl', 'epoll_pwait', 'pipe2', 'execve', 'exit', 'exit_group',
];

/** Always allowed in a recorded profile, recorded or not (signal return, call restart, exit). */
export const IMPLIED_SYSCALLS: readonly string[] = ['rt_sigreturn', 'sigreturn', 'restart_syscall', 'exit', 'exit_group'];
const IMPLIED_COMMENT = 'moat seccomp record: signal return, call restart and exit, which a short recording may not see';

/**
 * A minimal profile from a recording: ENOSYS (38) by default, so unrecorded syscalls look
 * unimplemented and libc falls back; one ALLOW rule for the workload's names and one for
 * what runc's init needs after the load. With `merge`, the recorded names the profile does
 * not already allow unconditionally are added as one rule, except those it allows under
 * argument conditions (listed in `conditional`, left unchanged).
 *
 * @example
 * const { profile, added } = synthesizeProfile(rec, { arch: 'SCMP_ARCH_X86_64' });
 */
export function synthesizeProfile(rec: Pick<Recording, 'workload' | 'runtime'>, opts: SynthesizeOptions): { profile: Profile; added: string[]; unknown: string[]; conditional: string[] } {
  const onArch = (n: string): boolean => syscallNumber(opts.arch as SeccompArch, n) !== undefined;
  const unknown = [...new Set([...rec.workload.keys(), ...rec.runtime.keys()])].filter((n) => !onArch(n)).sort();
  const work = [...rec.workload.keys()].filter(onArch).sort();
  // runc's init (Go) runs on after loading the filter; one recording sees only the calls that
  // run's scheduling happened to make, so its baseline is always allowed (else a later start
  // can fail, e.g. "cannot start an already running container").
  const rt = [...new Set([...rec.runtime.keys(), ...RUNC_INIT_BASELINE])].filter((n) => onArch(n) && !rec.workload.has(n)).sort();
  // Calls a run may make that a recording easily misses: the return from any signal handler
  // (a SIGCHLD arriving a moment earlier or later) and the restart of an interrupted call.
  // Denying rt_sigreturn turns the next signal into a crash (seen as SIGSEGV, exit 139).
  const implied = IMPLIED_SYSCALLS.filter((n) => onArch(n) && !work.includes(n) && !rt.includes(n));
  if (opts.merge !== undefined) {
    const base = opts.merge;
    // Names the base allows only under argument conditions (clone's namespace mask, socket
    // families) stay as they are: an unconditional ALLOW would absorb those conditions.
    const conditional = [...new Set([...work, ...rt])].filter((n) => !allowsAlways(base, n) && base.syscalls.some((r) => r.args !== undefined && r.names.includes(n))).sort();
    const missing = [...new Set([...work, ...rt, ...implied])].filter((n) => base.defaultAction !== 'SCMP_ACT_ALLOW' && !allowsAlways(base, n) && !conditional.includes(n)).sort();
    const syscalls: ProfileRule[] = [...base.syscalls];
    if (missing.length > 0) syscalls.push({ names: missing, action: 'SCMP_ACT_ALLOW', comment: RECORD_COMMENT });
    return { profile: { ...base, syscalls }, added: missing, unknown, conditional };
  }
  const syscalls: ProfileRule[] = [];
  if (work.length > 0) syscalls.push({ names: work, action: 'SCMP_ACT_ALLOW', comment: RECORD_COMMENT });
  if (rt.length > 0) syscalls.push({ names: rt, action: 'SCMP_ACT_ALLOW', comment: RUNTIME_COMMENT });
  if (implied.length > 0) syscalls.push({ names: implied, action: 'SCMP_ACT_ALLOW', comment: IMPLIED_COMMENT });
  const architectures: Profile['architectures'] = opts.arch === 'SCMP_ARCH_X86_64' ? ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'] : ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
  return { profile: { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38, architectures, syscalls }, added: [...work, ...rt, ...implied], unknown, conditional: [] };
}
