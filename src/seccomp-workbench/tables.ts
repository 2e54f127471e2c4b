// Knowledge the workbench's checks need that the syscall tables do not carry: which
// arguments are pointers (seccomp cannot see what they point to), and which syscalls are
// dangerous to allow without a capability gate (seccomp.md 3.3, 3.6).

/**
 * Pointer arguments (0-based) of common syscalls, from the kernel's SYSCALL_DEFINE
 * prototypes. A comparison on one of these compares an address, never the path, struct or
 * buffer behind it (kernel Documentation/userspace-api/seccomp_filter.rst).
 */
export const POINTER_ARGS: Readonly<Record<string, readonly number[]>> = {
  read: [1], write: [1], pread64: [1], pwrite64: [1], readv: [1], writev: [1], preadv: [1], pwritev: [1], preadv2: [1], pwritev2: [1],
  open: [0], openat: [1], openat2: [1, 2], creat: [0], stat: [0, 1], lstat: [0, 1], fstat: [1], newfstatat: [1, 2], statx: [1, 4],
  access: [0], faccessat: [1], faccessat2: [1], chdir: [0], chroot: [0], mkdir: [0], mkdirat: [1], rmdir: [0], unlink: [0], unlinkat: [1],
  rename: [0, 1], renameat: [1, 3], renameat2: [1, 3], link: [0, 1], linkat: [1, 3], symlink: [0, 1], symlinkat: [0, 2],
  readlink: [0, 1], readlinkat: [1, 2], chmod: [0], fchmodat: [1], fchmodat2: [1], chown: [0], lchown: [0], fchownat: [1], truncate: [0],
  mknod: [0], mknodat: [1], utime: [0, 1], utimes: [0, 1], utimensat: [1, 2], futimesat: [1, 2], getcwd: [0], statfs: [0, 1], fstatfs: [1],
  execve: [0, 1, 2], execveat: [1, 2, 3], mount: [0, 1, 2, 4], umount2: [0], pivot_root: [0, 1], swapon: [0], swapoff: [0], acct: [0],
  setxattr: [0, 1, 2], lsetxattr: [0, 1, 2], fsetxattr: [1, 2], getxattr: [0, 1, 2], lgetxattr: [0, 1, 2], fgetxattr: [1, 2],
  listxattr: [0, 1], llistxattr: [0, 1], flistxattr: [1], removexattr: [0, 1], lremovexattr: [0, 1], fremovexattr: [1],
  connect: [1], bind: [1], accept: [1, 2], accept4: [1, 2], sendto: [1, 4], recvfrom: [1, 4, 5], sendmsg: [1], recvmsg: [1],
  sendmmsg: [1], recvmmsg: [1, 4], getsockname: [1, 2], getpeername: [1, 2], setsockopt: [3], getsockopt: [3, 4], socketpair: [3],
  socketcall: [1], ipc: [4], clone3: [0], rt_sigaction: [1, 2], rt_sigprocmask: [1, 2], sigaltstack: [0, 1], nanosleep: [0, 1],
  clock_nanosleep: [2, 3], clock_gettime: [1], clock_settime: [1], gettimeofday: [0, 1], settimeofday: [0, 1], uname: [0],
  sethostname: [0], setdomainname: [0], sysinfo: [0], times: [0], getrlimit: [1], setrlimit: [1], prlimit64: [2, 3], getrusage: [1],
  wait4: [1, 3], waitid: [2, 4], pipe: [0], pipe2: [0], poll: [0], ppoll: [0, 2, 3], select: [1, 2, 3, 4], pselect6: [1, 2, 3, 4, 5],
  epoll_ctl: [3], epoll_wait: [1], epoll_pwait: [1, 4], epoll_pwait2: [1, 3, 4], futex: [0, 3, 4], set_robust_list: [0], get_robust_list: [1, 2],
  keyctl: [], add_key: [0, 1, 2], request_key: [0, 1, 2], bpf: [1], perf_event_open: [0], init_module: [0, 2], finit_module: [1],
  delete_module: [0], kexec_load: [2], kexec_file_load: [3], ptrace: [2, 3], process_vm_readv: [1, 3], process_vm_writev: [1, 3],
  name_to_handle_at: [1, 2, 3], open_by_handle_at: [1], capget: [0, 1], capset: [0, 1], getrandom: [0], memfd_create: [0],
  seccomp: [2], prctl: [], arch_prctl: [], getdents: [1], getdents64: [1], ioctl: [], sched_setattr: [1], sched_getattr: [1],
  sched_setaffinity: [2], sched_getaffinity: [2], sched_setparam: [1], sched_getparam: [1], sched_setscheduler: [2], io_setup: [1],
  io_submit: [2], io_getevents: [3, 4], timer_create: [1, 2], timer_settime: [2, 3], timer_gettime: [1], timerfd_settime: [2, 3],
  timerfd_gettime: [1], signalfd: [1], signalfd4: [1], fsopen: [0], fsconfig: [2, 3], fspick: [1], move_mount: [1, 3], open_tree: [1],
  mount_setattr: [1, 3], quotactl: [1, 3], syslog: [1], landlock_create_ruleset: [0], landlock_add_rule: [2], statmount: [0, 1],
  listmount: [0, 1], lsm_get_self_attr: [1, 2], lsm_set_self_attr: [1], mq_open: [0, 3], mq_unlink: [0], mq_timedsend: [1, 4],
  mq_timedreceive: [1, 3, 4], mq_notify: [1], mq_getsetattr: [1, 2], shmat: [1], shmdt: [0], semop: [1], semtimedop: [1, 3],
  msgsnd: [1], msgrcv: [1], shmctl: [2], msgctl: [2], semctl: [], inotify_add_watch: [1], fanotify_mark: [4], rt_sigqueueinfo: [2],
  rt_tgsigqueueinfo: [3], rt_sigtimedwait: [0, 1, 2], rt_sigsuspend: [0], rt_sigpending: [0], sendfile: [2], splice: [1, 3],
  vmsplice: [1], madvise: [0], mprotect: [0], munmap: [0], mremap: [0, 4], msync: [0], mlock: [0], munlock: [0], mincore: [0, 2],
  mbind: [0, 3], get_mempolicy: [0, 1, 3], set_mempolicy: [1], migrate_pages: [2, 3], move_pages: [2, 3, 4], set_tid_address: [0],
  getitimer: [1], setitimer: [1, 2], getgroups: [1], setgroups: [1], getresuid: [0, 1, 2], getresgid: [0, 1, 2], rseq: [0],
  clock_getres: [1], clock_adjtime: [1], adjtimex: [0], getcpu: [0, 1, 2], sched_rr_get_interval: [1], pidfd_send_signal: [2],
  uselib: [0], personality: [], socket: [], clone: [2, 3],
};

/**
 * Syscalls that break isolation or widen the kernel surface when allowed without the
 * capability the kernel itself checks (seccomp.md 3.3 and 3.6). `cap` is the gate moby's
 * default profile uses; undefined = blocked for everyone in moby's profile.
 */
export const DANGEROUS: Readonly<Record<string, { readonly caps?: readonly string[]; readonly why: string }>> = {
  keyctl: { why: 'kernel keyrings are not namespaced (CVE-2016-0728)' },
  add_key: { why: 'kernel keyrings are not namespaced' },
  request_key: { why: 'kernel keyrings are not namespaced' },
  bpf: { caps: ['CAP_SYS_ADMIN', 'CAP_BPF'], why: 'loads eBPF programs and maps: a large kernel surface' },
  perf_event_open: { caps: ['CAP_SYS_ADMIN', 'CAP_PERFMON'], why: 'profiling interface; can leak host information' },
  mount: { caps: ['CAP_SYS_ADMIN'], why: 'mounting is a host-level operation' },
  umount2: { caps: ['CAP_SYS_ADMIN'], why: 'unmounting is a host-level operation' },
  fsopen: { caps: ['CAP_SYS_ADMIN'], why: 'new mount API' },
  fsmount: { caps: ['CAP_SYS_ADMIN'], why: 'new mount API' },
  fsconfig: { caps: ['CAP_SYS_ADMIN'], why: 'new mount API' },
  fspick: { caps: ['CAP_SYS_ADMIN'], why: 'new mount API' },
  move_mount: { caps: ['CAP_SYS_ADMIN'], why: 'new mount API' },
  open_tree: { caps: ['CAP_SYS_ADMIN'], why: 'new mount API' },
  mount_setattr: { caps: ['CAP_SYS_ADMIN'], why: 'new mount API' },
  unshare: { caps: ['CAP_SYS_ADMIN'], why: 'new namespaces (a user namespace bypasses the CAP_SYS_ADMIN check)' },
  setns: { caps: ['CAP_SYS_ADMIN'], why: 'joins other namespaces' },
  pivot_root: { why: 'changing the root is a runtime-only operation' },
  ptrace: { caps: ['CAP_SYS_PTRACE'], why: 'could bypass seccomp before Linux 4.8' },
  process_vm_readv: { caps: ['CAP_SYS_PTRACE'], why: 'reads other processes\' memory' },
  process_vm_writev: { caps: ['CAP_SYS_PTRACE'], why: 'writes other processes\' memory' },
  kcmp: { caps: ['CAP_SYS_PTRACE'], why: 'cross-process inspection' },
  pidfd_getfd: { caps: ['CAP_SYS_PTRACE'], why: 'steals file descriptors of other processes' },
  kexec_load: { why: 'loads another kernel' },
  kexec_file_load: { why: 'loads another kernel' },
  init_module: { caps: ['CAP_SYS_MODULE'], why: 'loads kernel modules' },
  finit_module: { caps: ['CAP_SYS_MODULE'], why: 'loads kernel modules' },
  delete_module: { caps: ['CAP_SYS_MODULE'], why: 'unloads kernel modules' },
  reboot: { caps: ['CAP_SYS_BOOT'], why: 'host reboot' },
  swapon: { why: 'host swap configuration' },
  swapoff: { why: 'host swap configuration' },
  userfaultfd: { why: 'used to win kernel races in exploits' },
  io_uring_setup: { why: 'io_uring has had many exploitable bugs' },
  io_uring_enter: { why: 'io_uring has had many exploitable bugs' },
  io_uring_register: { why: 'io_uring has had many exploitable bugs' },
  open_by_handle_at: { caps: ['CAP_DAC_READ_SEARCH'], why: 'opens host files by handle (early container breakout)' },
  iopl: { caps: ['CAP_SYS_RAWIO'], why: 'raw I/O port access' },
  ioperm: { caps: ['CAP_SYS_RAWIO'], why: 'raw I/O port access' },
  settimeofday: { caps: ['CAP_SYS_TIME'], why: 'the clock is not namespaced' },
  clock_settime: { caps: ['CAP_SYS_TIME'], why: 'the clock is not namespaced' },
  syslog: { caps: ['CAP_SYS_ADMIN', 'CAP_SYSLOG'], why: 'reads and clears the host kernel log' },
  acct: { caps: ['CAP_SYS_PACCT'], why: 'process accounting is host-global' },
  quotactl: { caps: ['CAP_SYS_ADMIN'], why: 'could lift the container\'s own quotas' },
  lookup_dcookie: { caps: ['CAP_SYS_ADMIN'], why: 'profiling helper; leaks information' },
  move_pages: { why: 'NUMA placement across the host' },
  migrate_pages: { why: 'NUMA placement across the host' },
};
