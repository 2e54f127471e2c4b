// moat's default seccomp profile, written as code. Docker-format (Profile), so
// `moat seccomp default > file.json` works with any Docker-compatible engine.
//
// Shape:
// - defaultAction ERRNO(ENOSYS): a syscall this profile does not know (newer than its
//   tables) looks unimplemented, so libc falls back to an older call.
// - Every syscall the tables know and the profile blocks has an explicit ERRNO rule with a
//   reason in `comment` (EPERM, or ENOSYS for calls the kernel does not implement or that
//   have an older fallback). Cap-, arch- and kernel-conditional allowances come in pairs: an
//   ALLOW rule with `includes` and an ERRNO rule with the matching `excludes`, so exactly one
//   of them survives resolution. The one exception is `personality`: values outside the five
//   allowed ones cannot be expressed as one-comparison rules without dozens of rules, so they
//   fall to the default action (ENOSYS).
// - Starts from moby/profiles seccomp/default.json (cd3bed8); the differences are listed in
//   docs/seccomp-default.md and marked "moat:" below.
import type { SeccompArch } from './oci.js';
import type { ArchMapEntry, Profile, ProfileRule } from './profile.js';
import { SECCOMP_ARCHES, syscallNames } from './tables/index.js';

import { ENOSYS, EPERM } from './bpf/semantics.js';

// moby default.json rule 0, verbatim: allowed for every container. Names of other arches are
// dropped at resolution.
const ALLOWED: readonly string[] = [
  'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'bind', 'brk', 'cachestat', 'capget',
  'capset', 'chdir', 'chmod', 'chown', 'chown32', 'clock_adjtime', 'clock_adjtime64',
  'clock_getres', 'clock_getres_time64', 'clock_gettime', 'clock_gettime64', 'clock_nanosleep',
  'clock_nanosleep_time64', 'close', 'close_range', 'connect', 'copy_file_range', 'creat', 'dup',
  'dup2', 'dup3', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait',
  'epoll_pwait2', 'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2', 'execve', 'execveat',
  'exit', 'exit_group', 'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate',
  'fanotify_mark', 'fchdir', 'fchmod', 'fchmodat', 'fchmodat2', 'fchown', 'fchown32', 'fchownat',
  'fcntl', 'fcntl64', 'fdatasync', 'fgetxattr', 'flistxattr', 'flock', 'fork', 'fremovexattr',
  'fsetxattr', 'fstat', 'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate',
  'ftruncate64', 'futex', 'futex_requeue', 'futex_time64', 'futex_wait', 'futex_waitv',
  'futex_wake', 'futimesat', 'getcpu', 'getcwd', 'getdents', 'getdents64', 'getegid', 'getegid32',
  'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups', 'getgroups32', 'getitimer',
  'getpeername', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrandom',
  'getresgid', 'getresgid32', 'getresuid', 'getresuid32', 'getrlimit', 'get_robust_list',
  'getrusage', 'getsid', 'getsockname', 'getsockopt', 'get_thread_area', 'gettid', 'gettimeofday',
  'getuid', 'getuid32', 'getxattr', 'getxattrat', 'inotify_add_watch', 'inotify_init',
  'inotify_init1', 'inotify_rm_watch', 'io_cancel', 'ioctl', 'io_destroy', 'io_getevents',
  'io_pgetevents', 'io_pgetevents_time64', 'ioprio_get', 'ioprio_set', 'io_setup', 'io_submit',
  'ipc', 'kill', 'landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self',
  'lchown', 'lchown32', 'lgetxattr', 'link', 'linkat', 'listen', 'listmount', 'listxattr',
  'listxattrat', 'llistxattr', '_llseek', 'lremovexattr', 'lseek', 'lsetxattr', 'lstat', 'lstat64',
  'madvise', 'map_shadow_stack', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mkdir',
  'mkdirat', 'mknod', 'mknodat', 'mlock', 'mlock2', 'mlockall', 'mmap', 'mmap2', 'mprotect',
  'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedreceive_time64',
  'mq_timedsend', 'mq_timedsend_time64', 'mq_unlink', 'mremap', 'mseal', 'msgctl', 'msgget',
  'msgrcv', 'msgsnd', 'msync', 'munlock', 'munlockall', 'munmap', 'name_to_handle_at', 'nanosleep',
  'newfstatat', '_newselect', 'open', 'openat', 'openat2', 'pause', 'pidfd_open',
  'pidfd_send_signal', 'pipe', 'pipe2', 'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'poll',
  'ppoll', 'ppoll_time64', 'prctl', 'pread64', 'preadv', 'preadv2', 'prlimit64',
  'process_mrelease', 'pselect6', 'pselect6_time64', 'pwrite64', 'pwritev', 'pwritev2', 'read',
  'readahead', 'readlink', 'readlinkat', 'readv', 'recv', 'recvfrom', 'recvmmsg',
  'recvmmsg_time64', 'recvmsg', 'remap_file_pages', 'removexattr', 'removexattrat', 'rename',
  'renameat', 'renameat2', 'restart_syscall', 'riscv_hwprobe', 'rmdir', 'rseq', 'rt_sigaction',
  'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend',
  'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo', 'sched_getaffinity',
  'sched_getattr', 'sched_getparam', 'sched_get_priority_max', 'sched_get_priority_min',
  'sched_getscheduler', 'sched_rr_get_interval', 'sched_rr_get_interval_time64',
  'sched_setaffinity', 'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield',
  'seccomp', 'select', 'semctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'send',
  'sendfile', 'sendfile64', 'sendmmsg', 'sendmsg', 'sendto', 'setfsgid', 'setfsgid32', 'setfsuid',
  'setfsuid32', 'setgid', 'setgid32', 'setgroups', 'setgroups32', 'setitimer', 'setpgid',
  'setpriority', 'setregid', 'setregid32', 'setresgid', 'setresgid32', 'setresuid', 'setresuid32',
  'setreuid', 'setreuid32', 'setrlimit', 'set_robust_list', 'setsid', 'setsockopt',
  'set_thread_area', 'set_tid_address', 'setuid', 'setuid32', 'setxattr', 'setxattrat', 'shmat',
  'shmctl', 'shmdt', 'shmget', 'shutdown', 'sigaltstack', 'signalfd', 'signalfd4', 'sigprocmask',
  'sigreturn', 'socketcall', 'socketpair', 'splice', 'stat', 'stat64', 'statfs', 'statfs64',
  'statmount', 'statx', 'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'sysinfo',
  'tee', 'tgkill', 'time', 'timer_create', 'timer_delete', 'timer_getoverrun', 'timer_gettime',
  'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create', 'timerfd_gettime',
  'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64', 'times', 'tkill', 'truncate',
  'truncate64', 'ugetrlimit', 'umask', 'uname', 'unlink', 'unlinkat', 'uretprobe', 'utime',
  'utimensat', 'utimensat_time64', 'utimes', 'vfork', 'vmsplice', 'wait4', 'waitid', 'waitpid',
  'write', 'writev',
];

/** A group of syscalls allowed only with one of `caps` (any), denied with EPERM otherwise. */
interface CapGate {
  readonly names: readonly string[];
  readonly caps: readonly string[];
  /** Why the calls are denied without the capability. */
  readonly reason: string;
}

// moby default.json's capability rules, regrouped by reason. Order of caps as in moby.
const CAP_GATES: readonly CapGate[] = [
  {
    names: ['mount', 'umount', 'umount2', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr'],
    caps: ['CAP_SYS_ADMIN'],
    reason: 'Mounting changes the mount table; a host-level privileged operation (needs CAP_SYS_ADMIN)',
  },
  {
    names: ['unshare', 'setns'],
    caps: ['CAP_SYS_ADMIN'],
    reason: 'Creating or joining namespaces from inside the container (user namespaces would bypass capability checks)',
  },
  { names: ['sethostname', 'setdomainname'], caps: ['CAP_SYS_ADMIN'], reason: 'UTS names belong to the runtime configuration (needs CAP_SYS_ADMIN)' },
  { names: ['quotactl', 'quotactl_fd'], caps: ['CAP_SYS_ADMIN'], reason: 'Could lift the container\'s own disk quotas (needs CAP_SYS_ADMIN)' },
  { names: ['fanotify_init'], caps: ['CAP_SYS_ADMIN'], reason: 'Filesystem-wide event monitoring (needs CAP_SYS_ADMIN)' },
  { names: ['lsm_get_self_attr', 'lsm_set_self_attr', 'lsm_list_modules'], caps: ['CAP_SYS_ADMIN'], reason: 'LSM attribute interface (needs CAP_SYS_ADMIN, as Docker)' },
  { names: ['lookup_dcookie'], caps: ['CAP_SYS_ADMIN'], reason: 'Profiling helper that can leak host paths (removed in Linux 6.10)' },
  { names: ['bpf'], caps: ['CAP_SYS_ADMIN', 'CAP_BPF'], reason: 'eBPF programs and maps expose a large kernel surface (needs CAP_BPF or CAP_SYS_ADMIN)' },
  { names: ['perf_event_open'], caps: ['CAP_SYS_ADMIN', 'CAP_PERFMON'], reason: 'Performance monitoring can leak host information (needs CAP_PERFMON or CAP_SYS_ADMIN)' },
  { names: ['syslog'], caps: ['CAP_SYS_ADMIN', 'CAP_SYSLOG'], reason: 'Reads or clears the host kernel log (needs CAP_SYSLOG or CAP_SYS_ADMIN)' },
  { names: ['reboot'], caps: ['CAP_SYS_BOOT'], reason: 'Reboots the host or ends the PID namespace (needs CAP_SYS_BOOT)' },
  { names: ['chroot'], caps: ['CAP_SYS_CHROOT'], reason: 'Changing the root directory (needs CAP_SYS_CHROOT)' },
  { names: ['init_module', 'finit_module', 'delete_module'], caps: ['CAP_SYS_MODULE'], reason: 'Loading and unloading kernel modules (needs CAP_SYS_MODULE)' },
  { names: ['acct'], caps: ['CAP_SYS_PACCT'], reason: 'Process accounting is host-global (needs CAP_SYS_PACCT)' },
  {
    // moat: Docker allows ptrace, process_vm_readv and process_vm_writev to every container on
    // kernels >= 4.8; moat requires CAP_SYS_PTRACE for them too.
    names: ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd', 'process_madvise'],
    caps: ['CAP_SYS_PTRACE'],
    reason: 'Inspecting or changing other processes\' memory and state (needs CAP_SYS_PTRACE; moat: also ptrace and process_vm_*)',
  },
  { names: ['iopl', 'ioperm'], caps: ['CAP_SYS_RAWIO'], reason: 'Raw I/O port access (needs CAP_SYS_RAWIO)' },
  { names: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'], caps: ['CAP_SYS_TIME'], reason: 'The clock is not namespaced (needs CAP_SYS_TIME)' },
  { names: ['vhangup'], caps: ['CAP_SYS_TTY_CONFIG'], reason: 'Terminal hang-up (needs CAP_SYS_TTY_CONFIG)' },
  { names: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'], caps: ['CAP_SYS_NICE'], reason: 'NUMA memory placement across the host (needs CAP_SYS_NICE)' },
  { names: ['open_by_handle_at'], caps: ['CAP_DAC_READ_SEARCH'], reason: 'Opening files by handle escaped containers before (needs CAP_DAC_READ_SEARCH)' },
];

/** Arch-specific calls allowed only on the daemon arches listed (moby spelling). */
const ARCH_GATES: ReadonlyArray<{ readonly names: readonly string[]; readonly arches: readonly string[] }> = [
  { names: ['arch_prctl'], arches: ['amd64', 'x32'] },
  { names: ['swapcontext'], arches: ['ppc64le'] },
  { names: ['sync_file_range2'], arches: ['ppc64le', 'arm', 'arm64'] },
  { names: ['arm_fadvise64_64', 'arm_sync_file_range', 'breakpoint', 'cacheflush', 'set_tls'], arches: ['arm', 'arm64'] },
  { names: ['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr'], arches: ['s390', 's390x'] },
  { names: ['riscv_flush_icache'], arches: ['riscv64'] },
];

/** Blocked for every container, whatever its capabilities. */
const DENIED: ReadonlyArray<{ readonly names: readonly string[]; readonly errno: number; readonly reason: string }> = [
  { names: ['add_key', 'keyctl', 'request_key'], errno: EPERM, reason: 'Kernel keyrings are not namespaced; keyring bugs are a known escalation path (CVE-2016-0728)' },
  { names: ['userfaultfd'], errno: EPERM, reason: 'Userspace page-fault handling is a common tool for winning kernel races in exploits' },
  { names: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'], errno: EPERM, reason: 'io_uring has had many exploitable bugs and bypasses syscall filtering for its operations' },
  { names: ['kexec_load', 'kexec_file_load'], errno: EPERM, reason: 'Loads and boots another kernel' },
  { names: ['pivot_root'], errno: EPERM, reason: 'Changing the root mount is the runtime\'s job' },
  { names: ['swapon', 'swapoff'], errno: EPERM, reason: 'Host swap configuration' },
  { names: ['move_pages', 'migrate_pages'], errno: EPERM, reason: 'Moves memory of other processes between NUMA nodes' },
  { names: ['sysfs', 'ustat'], errno: EPERM, reason: 'Obsolete interfaces' },
  {
    // moat: Docker allows modify_ldt on amd64, x32 and x86.
    names: ['modify_ldt'],
    errno: EPERM,
    reason: 'moat: per-process LDT is only needed by 16-bit and segmented code (Wine, DOSEMU) and has a history of kernel bugs (CVE-2017-17053)',
  },
  { names: ['vm86', 'vm86old'], errno: EPERM, reason: 'i386 virtual-8086 mode' },
  {
    // moat: Docker answers EPERM (its default action) for these.
    names: ['open_tree_attr', 'file_getattr', 'file_setattr', 'uprobe'],
    errno: ENOSYS,
    reason: 'Added in Linux 6.15-6.18 and not reviewed for containers yet; ENOSYS so callers fall back to older interfaces (uprobe is only meant for uprobe trampolines)',
  },
  {
    // moat: Docker answers EPERM (its default action) for these.
    names: [
      '_sysctl', 'afs_syscall', 'create_module', 'get_kernel_syms', 'getpmsg', 'nfsservctl', 'putpmsg',
      'query_module', 'security', 'tuxcall', 'uselib', 'vserver', 'break', 'ftime', 'gtty', 'lock', 'mpx',
      'prof', 'profil', 'stty', 'ulimit', 'idle',
    ],
    errno: ENOSYS,
    reason: 'Removed or never implemented by current kernels; ENOSYS, as the kernel itself answers',
  },
];

const REMAINDER_REASON = 'Not granted by this profile: architecture-specific, obsolete or rarely needed interfaces';

// Namespace flags clone(2) may not use without CAP_SYS_ADMIN (linux/sched.h).
const CLONE_NS_FLAGS: ReadonlyArray<readonly [string, number]> = [
  ['CLONE_NEWNS', 0x00020000],
  ['CLONE_NEWCGROUP', 0x02000000],
  ['CLONE_NEWUTS', 0x04000000],
  ['CLONE_NEWIPC', 0x08000000],
  ['CLONE_NEWUSER', 0x10000000],
  ['CLONE_NEWPID', 0x20000000],
  ['CLONE_NEWNET', 0x40000000],
];
const CLONE_NS_MASK = CLONE_NS_FLAGS.reduce((m, [, f]) => m | f, 0) >>> 0; // 0x7E020000

// moby default.json archMap (LoongArch64 omitted: not an arch this engine's OCI types list).
const ARCH_MAP: readonly ArchMapEntry[] = [
  { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
  { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  { architecture: 'SCMP_ARCH_MIPS64', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64N32'] },
  { architecture: 'SCMP_ARCH_MIPS64N32', subArchitectures: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64'] },
  { architecture: 'SCMP_ARCH_MIPSEL64', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64N32'] },
  { architecture: 'SCMP_ARCH_MIPSEL64N32', subArchitectures: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64'] },
  { architecture: 'SCMP_ARCH_S390X', subArchitectures: ['SCMP_ARCH_S390'] },
  { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: null },
];

function cloneRules(index: 0 | 1, arches: { includes?: string[]; excludes?: string[] }): ProfileRule[] {
  const excludes = { caps: ['CAP_SYS_ADMIN'], ...(arches.excludes ? { arches: arches.excludes } : {}) };
  const includes = arches.includes ? { includes: { arches: arches.includes } } : {};
  const where = index === 0 ? 'flags (arg 0)' : 'flags (arg 1 on s390)';
  return [
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index, value: CLONE_NS_MASK, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      comment: `clone without namespace ${where}`,
      ...includes,
      excludes,
    },
    ...CLONE_NS_FLAGS.map(([flag, bit]): ProfileRule => ({
      names: ['clone'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EPERM,
      args: [{ index, value: bit, valueTwo: bit, op: 'SCMP_CMP_MASKED_EQ' }],
      comment: `clone with ${flag}: creating namespaces needs CAP_SYS_ADMIN`,
      ...includes,
      excludes,
    })),
  ];
}

/** How the default profile is built for the host it runs on. */
export interface DefaultProfileOptions {
  /**
   * Whether the host kernel runs x32 syscalls (default true: the portable profile, as
   * printed by `moat seccomp default`). False leaves SCMP_ARCH_X32 out of the x86_64 archMap
   * entry: the kernel answers every x32 call ENOSYS anyway, and libseccomp's x32 section
   * costs runc about 8 ms of CPU per container. An x32 call then meets the filter's
   * bad-arch action (runc 1.1 leaves libseccomp's KILL_THREAD, so the process gets SIGSYS)
   * instead of the kernel's ENOSYS: it still never runs.
   */
  readonly x32?: boolean;
}

/**
 * moat's default seccomp profile, Docker JSON shape. A fresh object on every call.
 */
export function defaultProfile(options: DefaultProfileOptions = {}): Profile {
  const rules: ProfileRule[] = [];
  rules.push({ names: [...ALLOWED], action: 'SCMP_ACT_ALLOW', comment: 'Allowed for every container (moby default.json rule 0)' });

  // socket: every family but AF_ALG (38) and AF_VSOCK (40). One comparison per rule: two on
  // the same argument would be split into an OR by runc.
  for (const [op, value] of [['SCMP_CMP_LT', 38], ['SCMP_CMP_EQ', 39], ['SCMP_CMP_GT', 40]] as const) {
    rules.push({ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op }], comment: 'socket families other than AF_ALG and AF_VSOCK' });
  }
  rules.push({ names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: 38, op: 'SCMP_CMP_EQ' }], comment: 'AF_ALG sockets expose the kernel crypto API, a recurring source of exploitable bugs' });
  rules.push({ names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: 40, op: 'SCMP_CMP_EQ' }], comment: 'AF_VSOCK sockets reach the hypervisor and other guests' });

  // personality: PER_LINUX, PER_LINUX32, UNAME26, both, and the query value.
  for (const value of [0x0, 0x8, 0x20000, 0x20008, 0xffffffff]) {
    rules.push({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }], comment: 'personality: only the safe execution domains; other values are not allowed (default action)' });
  }

  for (const g of ARCH_GATES) {
    rules.push({ names: [...g.names], action: 'SCMP_ACT_ALLOW', comment: `Allowed on ${g.arches.join(', ')}`, includes: { arches: [...g.arches] } });
    rules.push({ names: [...g.names], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, comment: `Architecture-specific call, allowed only on ${g.arches.join(', ')}`, excludes: { arches: [...g.arches] } });
  }

  // clone: no namespace flags without CAP_SYS_ADMIN (s390 passes flags in arg 1).
  rules.push(...cloneRules(0, { excludes: ['s390', 's390x'] }), ...cloneRules(1, { includes: ['s390', 's390x'] }));
  rules.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, comment: 'clone3 flags are in memory and cannot be checked; ENOSYS makes libc fall back to clone', excludes: { caps: ['CAP_SYS_ADMIN'] } });

  // Capability allowances, one rule per capability (as moby), then one EPERM rule per group.
  const byCap = new Map<string, string[]>();
  for (const g of CAP_GATES) for (const cap of g.caps) byCap.set(cap, [...(byCap.get(cap) ?? []), ...g.names]);
  byCap.set('CAP_SYS_ADMIN', [...(byCap.get('CAP_SYS_ADMIN') ?? []), 'clone', 'clone3']);
  for (const [cap, names] of byCap) {
    rules.push({ names, action: 'SCMP_ACT_ALLOW', comment: `Allowed with ${cap}`, includes: { caps: [cap] } });
  }
  for (const g of CAP_GATES) {
    rules.push({ names: [...g.names], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, comment: g.reason, excludes: { caps: [...g.caps] } });
  }

  for (const d of DENIED) rules.push({ names: [...d.names], action: 'SCMP_ACT_ERRNO', errnoRet: d.errno, comment: d.reason });

  // Everything else the tables know: explicit EPERM, so no known call reaches the default.
  const mentioned = new Set(rules.flatMap((r) => r.names));
  const rest = new Set<string>();
  for (const arch of SECCOMP_ARCHES) for (const n of syscallNames(arch)) if (!mentioned.has(n)) rest.add(n);
  rules.push({ names: [...rest].sort(), action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, comment: REMAINDER_REASON });

  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: ENOSYS,
    archMap: ARCH_MAP.map((e) => ({
      architecture: e.architecture,
      subArchitectures: e.subArchitectures ? e.subArchitectures.filter((a) => options.x32 !== false || a !== 'SCMP_ARCH_X32') : null,
    })),
    syscalls: rules,
  };
}

/** The arches the default profile filters when running on `arch` (native first). */
export function defaultArchitectures(arch: SeccompArch): SeccompArch[] {
  const e = ARCH_MAP.find((m) => m.architecture === arch);
  return e ? [e.architecture, ...(e.subArchitectures ?? [])] : [arch];
}
