import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultArchitectures, defaultProfile } from './default-profile.js';
import { ENOSYS, EPERM, argMatches } from './bpf/semantics.js';
import { ALL_CAPS, MOAT_DEFAULT_CAPS } from '../caps/index.js';
import { seccompFixtureDir } from '../../test/helpers/seccomp-fixtures.js';
import type { LinuxSeccomp, SeccompAction, SeccompArch } from './oci.js';
import { formatIssues, parseProfile, type Profile } from './profile.js';
import { resolveProfile } from './resolve.js';
import { syscallNames } from './tables/index.js';

// shared/docs/seccomp.md 3.8: x86_64 names Docker's default leaves to its default action
// (EPERM) for Docker's default caps on 6.18, and 3.7's conditional and ENOSYS calls.
const DOCKER_BLOCKED_X86_64 = `
_sysctl acct add_key afs_syscall bpf clock_settime create_module delete_module fanotify_init
file_getattr file_setattr finit_module fsconfig fsmount fsopen fspick get_kernel_syms
get_mempolicy getpmsg init_module io_uring_enter io_uring_register io_uring_setup ioperm iopl kcmp
kexec_file_load kexec_load keyctl lookup_dcookie lsm_get_self_attr lsm_list_modules
lsm_set_self_attr mbind migrate_pages mount mount_setattr move_mount move_pages nfsservctl
open_by_handle_at open_tree open_tree_attr perf_event_open pidfd_getfd pivot_root process_madvise
putpmsg query_module quotactl quotactl_fd reboot request_key security set_mempolicy
set_mempolicy_home_node setdomainname sethostname setns settimeofday swapoff swapon sysfs syslog
tuxcall umount2 unshare uprobe uselib userfaultfd ustat vhangup vserver`.trim().split(/\s+/);
const DOCKER_ENOSYS_X86_64 = ['clone3'];
const DOCKER_CONDITIONAL_X86_64 = ['clone', 'personality', 'socket'];
// 3.7: allowed unconditionally (306).
const DOCKER_ALLOWED_X86_64 = `
accept accept4 access adjtimex alarm arch_prctl bind brk cachestat capget capset chdir chmod chown
chroot clock_adjtime clock_getres clock_gettime clock_nanosleep close close_range connect
copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait
epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat
faccessat2 fadvise64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchownat fcntl
fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstatfs fsync ftruncate
futex futex_requeue futex_wait futex_waitv futex_wake futimesat get_robust_list get_thread_area
getcpu getcwd getdents getdents64 getegid geteuid getgid getgroups getitimer getpeername getpgid
getpgrp getpid getppid getpriority getrandom getresgid getresuid getrlimit getrusage getsid
getsockname getsockopt gettid gettimeofday getuid getxattr getxattrat inotify_add_watch
inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents
io_setup io_submit ioctl ioprio_get ioprio_set kill landlock_add_rule landlock_create_ruleset
landlock_restrict_self lchown lgetxattr link linkat listen listmount listxattr listxattrat
llistxattr lremovexattr lseek lsetxattr lstat madvise map_shadow_stack membarrier memfd_create
memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap modify_ldt mprotect
mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink mremap mseal msgctl msgget
msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat open openat
openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll
ppoll prctl pread64 preadv preadv2 prlimit64 process_mrelease process_vm_readv process_vm_writev
pselect6 ptrace pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recvfrom
recvmmsg recvmsg remap_file_pages removexattr removexattrat rename renameat renameat2
restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min
sched_getaffinity sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select
semctl semget semop semtimedop sendfile sendmmsg sendmsg sendto set_robust_list set_thread_area
set_tid_address setfsgid setfsuid setgid setgroups setitimer setpgid setpriority setregid
setresgid setresuid setreuid setrlimit setsid setsockopt setuid setxattr setxattrat shmat shmctl
shmdt shmget shutdown sigaltstack signalfd signalfd4 socketpair splice stat statfs statmount statx
symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
timer_getoverrun timer_gettime timer_settime timerfd_create timerfd_gettime timerfd_settime times
tkill truncate umask uname unlink unlinkat uretprobe utime utimensat utimes vfork vmsplice wait4
waitid write writev`.trim().split(/\s+/);
// What moat blocks on x86_64 for its default caps that Docker allows (docs/seccomp-default.md).
const MOAT_EXTRA_BLOCKS = ['modify_ldt', 'process_vm_readv', 'process_vm_writev', 'ptrace'];

type Verdict = { action: SeccompAction; errno?: number } | 'conflict';

/** A plain oracle: which rules match `name(args)`; several with different outcomes = conflict. */
function verdict(s: LinuxSeccomp, name: string, args: readonly bigint[] = []): Verdict {
  const hits = (s.syscalls ?? []).filter((r) => r.names.includes(name) &&
    (r.args ?? []).every((c) => argMatches(c, args[c.index] ?? 0n, 64)));
  const outcomes = new Set(hits.map((r) => `${r.action}/${r.action === 'SCMP_ACT_ERRNO' ? (r.errnoRet ?? 1) : ''}`));
  if (outcomes.size > 1) return 'conflict';
  const hit = hits[0];
  if (hit === undefined) return { action: s.defaultAction, errno: s.defaultErrnoRet ?? 1 };
  return hit.action === 'SCMP_ACT_ERRNO' ? { action: hit.action, errno: hit.errnoRet ?? 1 } : { action: hit.action };
}

const isExplicit = (s: LinuxSeccomp, name: string): boolean => (s.syscalls ?? []).some((r) => r.names.includes(name));

/** Problems that break the profile's promises for one container: returns what is wrong. */
function checkCoverage(s: LinuxSeccomp, arches: readonly SeccompArch[]): string[] {
  const problems: string[] = [];
  for (const arch of arches) {
    for (const name of syscallNames(arch)) {
      if (!isExplicit(s, name)) problems.push(`${arch} ${name}: left to the default action`);
      const rules = (s.syscalls ?? []).filter((r) => r.names.includes(name) && r.args === undefined);
      if (new Set(rules.map((r) => `${r.action}/${r.errnoRet ?? ''}`)).size > 1) problems.push(`${arch} ${name}: unconditional rules disagree`);
      if (rules.length > 0 && rules.length < (s.syscalls ?? []).filter((r) => r.names.includes(name)).length) {
        problems.push(`${arch} ${name}: an unconditional rule would absorb its argument rules`);
      }
    }
  }
  return [...new Set(problems)];
}

function resolved(o: { arch?: SeccompArch; caps?: readonly string[]; kernel?: string } = {}): LinuxSeccomp {
  const parsed = parseProfile(JSON.parse(JSON.stringify(defaultProfile())));
  if (!parsed.ok) assert.fail(formatIssues(parsed.issues));
  return resolveProfile(parsed.value, { arch: o.arch ?? 'SCMP_ARCH_X86_64', capabilities: o.caps ?? MOAT_DEFAULT_CAPS, kernel: o.kernel ?? '6.18.44' }).seccomp;
}

test('defaultProfile() is a valid Docker profile and survives JSON', () => {
  const p = defaultProfile();
  const r = parseProfile(JSON.parse(JSON.stringify(p)));
  if (!r.ok) assert.fail(formatIssues(r.issues));
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(r.value, p);
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(p.defaultErrnoRet, ENOSYS);
  for (const rule of p.syscalls) {
    if (rule.action === 'SCMP_ACT_ERRNO') assert.ok(rule.comment !== undefined && rule.comment.length > 0, `reason for ${rule.names.join(',')}`);
  }
  assert.notEqual(defaultProfile(), defaultProfile(), 'a fresh object each call');
});

test('default profile blocks every x86_64 syscall Docker blocks, for moat default caps', () => {
  const s = resolved();
  assert.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  for (const name of DOCKER_BLOCKED_X86_64) {
    const v = verdict(s, name);
    assert.ok(v !== 'conflict' && v.action === 'SCMP_ACT_ERRNO', `${name} must be blocked`);
    assert.ok(isExplicit(s, name), `${name} must have an explicit errno rule`);
    assert.equal(
      (s.syscalls ?? []).some((r) => r.names.includes(name) && r.action !== 'SCMP_ACT_ERRNO'),
      false,
      `${name} has no allowing rule`,
    );
  }
  for (const name of DOCKER_ENOSYS_X86_64) assert.deepEqual(verdict(s, name), { action: 'SCMP_ACT_ERRNO', errno: ENOSYS });
  for (const name of DOCKER_CONDITIONAL_X86_64) {
    assert.equal((s.syscalls ?? []).some((r) => r.names.includes(name) && r.action === 'SCMP_ACT_ALLOW' && r.args === undefined), false, `${name} stays conditional`);
  }
});

test('default profile differs from Docker on x86_64 exactly as documented', (t) => {
  const s = resolved();
  const extra = DOCKER_ALLOWED_X86_64.filter((n) => {
    const v = verdict(s, n);
    return v === 'conflict' || v.action !== 'SCMP_ACT_ALLOW';
  });
  assert.deepEqual(extra, MOAT_EXTRA_BLOCKS);
  const dir = seccompFixtureDir();
  if (dir === undefined) return t.skip('repo not found, cannot read docs/seccomp-default.md');
  const doc = readFileSync(join(dir, '..', '..', '..', 'docs', 'seccomp-default.md'), 'utf8');
  for (const n of MOAT_EXTRA_BLOCKS) assert.ok(doc.includes(`\`${n}\``), `docs/seccomp-default.md mentions ${n}`);
});

test('the oracle catches a profile that leaves a Docker-blocked call to the default', () => {
  const s = resolved();
  const broken: LinuxSeccomp = { ...s, syscalls: (s.syscalls ?? []).map((r) => ({ ...r, names: r.names.filter((n) => n !== 'keyctl') })).filter((r) => r.names.length > 0) };
  assert.deepEqual(checkCoverage(broken, ['SCMP_ARCH_X86_64']), ['SCMP_ARCH_X86_64 keyctl: left to the default action']);
  assert.deepEqual(verdict(broken, 'keyctl'), { action: 'SCMP_ACT_ERRNO', errno: ENOSYS });
  const absorbing: LinuxSeccomp = { ...s, syscalls: [...(s.syscalls ?? []), { names: ['socket'], action: 'SCMP_ACT_ALLOW' }] };
  assert.deepEqual(checkCoverage(absorbing, ['SCMP_ARCH_X86_64']), ['SCMP_ARCH_X86_64 socket: an unconditional rule would absorb its argument rules']);
});

test('every known syscall has an explicit rule, for any caps, arch and kernel', async (t) => {
  const capSets: Array<[string, readonly string[]]> = [
    ['none', []],
    ['moat default', MOAT_DEFAULT_CAPS],
    ['all', ALL_CAPS],
    ...ALL_CAPS.map((c): [string, readonly string[]] => [c, [...MOAT_DEFAULT_CAPS, c]]),
  ];
  const arches: SeccompArch[] = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_S390X', 'SCMP_ARCH_RISCV64', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_PPC64LE'];
  for (const arch of arches) {
    await t.test(arch, () => {
      for (const [label, caps] of capSets) {
        for (const kernel of ['4.7.0', '6.18.44']) {
          const s = resolved({ arch, caps, kernel });
          assert.deepEqual(checkCoverage(s, defaultArchitectures(arch)), [], `${arch} caps=${label} kernel=${kernel}`);
        }
      }
    });
  }
});

test('argument rules: clone namespace flags, socket families, personality', async (t) => {
  const s = resolved();
  const admin = resolved({ caps: [...MOAT_DEFAULT_CAPS, 'CAP_SYS_ADMIN'] });
  const s390 = resolved({ arch: 'SCMP_ARCH_S390X' });
  const SIGCHLD = 17n;
  const cases: Array<[string, LinuxSeccomp, string, bigint[], Verdict]> = [
    ['clone(SIGCHLD)', s, 'clone', [SIGCHLD], { action: 'SCMP_ACT_ALLOW' }],
    ['clone(CLONE_NEWUSER)', s, 'clone', [0x10000000n | SIGCHLD], { action: 'SCMP_ACT_ERRNO', errno: EPERM }],
    ['clone(CLONE_NEWNS|CLONE_NEWNET)', s, 'clone', [0x40020000n], { action: 'SCMP_ACT_ERRNO', errno: EPERM }],
    ['clone(CLONE_NEWUSER) with SYS_ADMIN', admin, 'clone', [0x10000000n], { action: 'SCMP_ACT_ALLOW' }],
    ['clone3 with SYS_ADMIN', admin, 'clone3', [], { action: 'SCMP_ACT_ALLOW' }],
    ['unshare with SYS_ADMIN', admin, 'unshare', [], { action: 'SCMP_ACT_ALLOW' }],
    ['s390 clone flags in arg 1', s390, 'clone', [0n, 0x20000000n], { action: 'SCMP_ACT_ERRNO', errno: EPERM }],
    ['s390 clone arg 0 ignored', s390, 'clone', [0x20000000n, 0n], { action: 'SCMP_ACT_ALLOW' }],
    ['socket(AF_INET)', s, 'socket', [2n], { action: 'SCMP_ACT_ALLOW' }],
    ['socket(AF_ALG)', s, 'socket', [38n], { action: 'SCMP_ACT_ERRNO', errno: EPERM }],
    ['socket(39)', s, 'socket', [39n], { action: 'SCMP_ACT_ALLOW' }],
    ['socket(AF_VSOCK)', s, 'socket', [40n], { action: 'SCMP_ACT_ERRNO', errno: EPERM }],
    ['socket(2^32)', s, 'socket', [1n << 32n], { action: 'SCMP_ACT_ALLOW' }],
    ['personality(query)', s, 'personality', [0xffffffffn], { action: 'SCMP_ACT_ALLOW' }],
    ['personality(PER_LINUX32)', s, 'personality', [8n], { action: 'SCMP_ACT_ALLOW' }],
    ['personality(PER_BSD) falls to the default', s, 'personality', [6n], { action: 'SCMP_ACT_ERRNO', errno: ENOSYS }],
    ['ptrace needs SYS_PTRACE (moat)', s, 'ptrace', [], { action: 'SCMP_ACT_ERRNO', errno: EPERM }],
    ['ptrace with SYS_PTRACE', resolved({ caps: ['CAP_SYS_PTRACE'] }), 'ptrace', [], { action: 'SCMP_ACT_ALLOW' }],
    ['bpf with CAP_BPF', resolved({ caps: ['CAP_BPF'] }), 'bpf', [], { action: 'SCMP_ACT_ALLOW' }],
    ['bpf without', s, 'bpf', [], { action: 'SCMP_ACT_ERRNO', errno: EPERM }],
    ['chroot without SYS_CHROOT', resolved({ caps: [] }), 'chroot', [], { action: 'SCMP_ACT_ERRNO', errno: EPERM }],
    ['arch_prctl on amd64', s, 'arch_prctl', [], { action: 'SCMP_ACT_ALLOW' }],
    ['placeholder answers ENOSYS', s, 'afs_syscall', [], { action: 'SCMP_ACT_ERRNO', errno: ENOSYS }],
    ['unknown name: default ENOSYS', s, 'listns', [], { action: 'SCMP_ACT_ERRNO', errno: ENOSYS }],
    ['read', s, 'read', [], { action: 'SCMP_ACT_ALLOW' }],
  ];
  for (const [label, sec, name, args, want] of cases) {
    await t.test(label, () => assert.deepEqual(verdict(sec, name, args), want));
  }
});

test('defaultArchitectures() follows the archMap', () => {
  assert.deepEqual(defaultArchitectures('SCMP_ARCH_AARCH64'), ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.deepEqual(defaultArchitectures('SCMP_ARCH_PPC64LE'), ['SCMP_ARCH_PPC64LE']);
  const p: Profile = defaultProfile();
  assert.equal(p.archMap?.some((e) => e.architecture === 'SCMP_ARCH_PPC64LE'), false);
});

test('defaultProfile({ x32: false }) leaves only SCMP_ARCH_X32 out, and only of the x86_64 entry', () => {
  const full = defaultProfile();
  const lean = defaultProfile({ x32: false });
  assert.deepEqual(full.archMap?.find((e) => e.architecture === 'SCMP_ARCH_X86_64')?.subArchitectures, ['SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(lean.archMap?.find((e) => e.architecture === 'SCMP_ARCH_X86_64')?.subArchitectures, ['SCMP_ARCH_X86']);
  assert.deepEqual(lean.syscalls, full.syscalls);
  assert.deepEqual(lean.archMap?.filter((e) => e.architecture !== 'SCMP_ARCH_X86_64'), full.archMap?.filter((e) => e.architecture !== 'SCMP_ARCH_X86_64'));
  const r = resolveProfile(lean, { arch: 'SCMP_ARCH_X86_64', capabilities: [], kernel: '6.18' });
  assert.deepEqual(r.seccomp.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
  assert.deepEqual(resolveProfile(full, { arch: 'SCMP_ARCH_X86_64', capabilities: [], kernel: '6.18' }).seccomp.syscalls, r.seccomp.syscalls);
});
