/*
 * moat test probe: a static program that makes raw syscalls inside a container and prints
 * what the kernel (and the seccomp filter in front of it) answered.
 *
 *   probe CMD [ARG...] [, CMD [ARG...]]...
 *
 * One line per command, "<label> ok <ret>" or "<label> errno <n> <NAME>" (label = CMD, or
 * CMD:ARG0 when an argument is given). CMD is a syscall name from the table below (with
 * harmless default arguments: invalid magic numbers, NULL pointers, paths that do not
 * exist), or "nr N [A0..A5]" for any raw number. Helpers: "sleep MS", "waitfile PATH"
 * (waits up to 30 s for a host-created file), "status" (prints the Seccomp lines of
 * /proc/self/status), "catch-sigsys" (installs a SIGSYS handler that prints
 * "sigsys nr=<si_syscall> errno=<si_errno> code=<si_code>" and lets the program go on),
 * "repeat N CMD [ARG...]" (runs CMD N times, prints its last result once and then
 * "repeat <N> ns_per_call <t>"; for timing and rate-limit tests), "for MS CMD [ARG...]" (runs CMD
 * again and again for MS milliseconds, MS 0 = until killed, or until it answers differently
 * from its first call; then prints its last result and "for <count> ns_per_call <t>
 * max_ns <longest call>"; for floods whose rate the test counts, to catch a changed answer
 * mid-flood, and to see the longest wait for an answer).
 * Numeric arguments use C syntax (0x.. hex). x86_64 only: numbers are x86_64's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void out(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 1) n = sizeof buf - 1;
  /* raw write: stdio buffering would reorder lines around a SIGSYS handler */
  (void)!write(1, buf, (size_t)n);
}

static int quiet;
static long last_ret; /* the last result, also when quiet (for "for") */
static int last_err;
static void report(const char *label, long ret, int err) {
  last_ret = ret;
  last_err = ret == -1 ? err : 0;
  if (quiet) return;
  if (ret == -1) {
    const char *name = strerrorname_np(err);
    out("%s errno %d %s\n", label, err, name ? name : "?");
  } else {
    out("%s ok %ld\n", label, ret);
  }
}

static unsigned long num(const char *s) { return strtoul(s, NULL, 0); }

static void on_sigsys(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  out("sigsys nr=%d errno=%d code=%d\n", si->si_syscall, si->si_errno, si->si_code);
}

struct named { const char *name; long nr; };
static const struct named TABLE[] = {
  {"keyctl", SYS_keyctl}, {"add_key", SYS_add_key}, {"request_key", SYS_request_key},
  {"unshare", SYS_unshare}, {"clone", SYS_clone}, {"clone3", SYS_clone3},
  {"mount", SYS_mount}, {"umount2", SYS_umount2}, {"bpf", SYS_bpf},
  {"perf_event_open", SYS_perf_event_open}, {"kexec_load", SYS_kexec_load},
  {"init_module", SYS_init_module}, {"swapon", SYS_swapon}, {"acct", SYS_acct},
  {"open_by_handle_at", SYS_open_by_handle_at}, {"reboot", SYS_reboot},
  {"getpid", SYS_getpid}, {"getppid", SYS_getppid}, {"mkdir", SYS_mkdir},
  {"personality", SYS_personality}, {"socket", SYS_socket}, {"setns", SYS_setns},
  {"pivot_root", SYS_pivot_root}, {"userfaultfd", SYS_userfaultfd}, {"ptrace", SYS_ptrace},
  {"io_uring_setup", SYS_io_uring_setup}, {"syslog", SYS_syslog}, {"umask", SYS_umask},
  {0, 0},
};


/* The label run() prints for a command: CMD, or CMD:ARG0. */
static const char *cmd_label(int argc, char **argv) {
  static char label[128];
  if (argc > 1) snprintf(label, sizeof label, "%s:%s", argv[0], argv[1]);
  else snprintf(label, sizeof label, "%s", argv[0]);
  return label;
}

/* Runs one command (argv[0..argc-1]); returns 0, or 2 on a usage error. */
static int run(int argc, char **argv) {
  const char *cmd = argv[0];
  if (strcmp(cmd, "repeat") == 0 && argc > 2) {
    unsigned long n = num(argv[1]);
    struct timespec a, b;
    int rc = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    quiet = 1;
    for (unsigned long i = 1; i < n && rc == 0; i++) rc = run(argc - 2, argv + 2);
    quiet = 0;
    if (rc == 0) rc = run(argc - 2, argv + 2);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)(n ? n : 1);
    out("repeat %lu ns_per_call %.0f\n", n, ns);
    return rc;
  }
  if (strcmp(cmd, "for") == 0 && argc > 2) {
    unsigned long ms = num(argv[1]), n = 0;
    struct timespec a, b;
    int rc = 0;
    double el = 0, prev = 0, max = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    quiet = 1;
    rc = run(argc - 2, argv + 2);
    n++;
    long first_ret = last_ret;
    int first_err = last_err, changed = 0;
    while (rc == 0 && !changed && (ms == 0 || el < (double)ms * 1e6)) {
      rc = run(argc - 2, argv + 2);
      n++;
      changed = last_err != first_err || (first_err == 0 && (last_ret < 0) != (first_ret < 0));
      clock_gettime(CLOCK_MONOTONIC, &b); /* vDSO: no syscall, so the filter never sees it */
      el = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
      if (el - prev > max) max = el - prev;
      prev = el;
    }
    quiet = 0;
    /* print the differing answer itself, or one more call's */
    if (changed) report(cmd_label(argc - 2, argv + 2), last_ret, last_err);
    else if (rc == 0) rc = run(argc - 2, argv + 2), n++;
    clock_gettime(CLOCK_MONOTONIC, &b);
    el = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    out("for %lu ns_per_call %.0f max_ns %.0f\n", n, el / (double)n, max);
    return rc;
  }
  char label[128];
  if (argc > 1) snprintf(label, sizeof label, "%s:%s", cmd, argv[1]);
  else snprintf(label, sizeof label, "%s", cmd);
  long r;

  if (strcmp(cmd, "sleep") == 0 && argc > 1) {
    struct timespec ts = { (time_t)(num(argv[1]) / 1000), (long)(num(argv[1]) % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    return 0;
  }
  if (strcmp(cmd, "waitfile") == 0 && argc > 1) {
    for (int i = 0; i < 3000; i++) {
      struct stat st;
      if (stat(argv[1], &st) == 0) { out("%s ok 0\n", label); return 0; }
      struct timespec ts = { 0, 10000000L };
      nanosleep(&ts, NULL);
    }
    out("%s errno %d ETIMEDOUT\n", label, ETIMEDOUT);
    return 0;
  }
  if (strcmp(cmd, "status") == 0) {
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (n < 0) { report(label, -1, errno); return 0; }
    buf[n] = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
      if (strncmp(line, "Seccomp", 7) == 0 || strncmp(line, "NoNewPrivs", 10) == 0) out("%s\n", line);
    return 0;
  }
  if (strcmp(cmd, "catch-sigsys") == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    r = sigaction(SIGSYS, &sa, NULL);
    report(label, r, errno);
    return 0;
  }
  if (strcmp(cmd, "nr") == 0 && argc > 1) {
    unsigned long a[6] = {0};
    for (int i = 0; i < 6 && i + 2 < argc; i++) a[i] = num(argv[i + 2]);
    errno = 0;
    r = syscall(num(argv[1]), a[0], a[1], a[2], a[3], a[4], a[5]);
    report(label, r, errno);
    return 0;
  }

  long nr = -1;
  for (const struct named *t = TABLE; t->name; t++) if (strcmp(t->name, cmd) == 0) nr = t->nr;
  if (nr < 0) { out("%s usage unknown command\n", label); return 2; }
  unsigned long a0 = argc > 1 ? num(argv[1]) : 0;
  errno = 0;
  switch (nr) {
  case SYS_keyctl:        r = syscall(nr, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0); break;
  case SYS_add_key:       r = syscall(nr, "user", "moat-probe", "x", 1, -2 /* process keyring */); break;
  case SYS_request_key:   r = syscall(nr, "user", "moat-probe-none", NULL, 0); break;
  case SYS_unshare:       r = syscall(nr, argc > 1 ? a0 : 0x10000000UL /* CLONE_NEWUSER */); break;
  case SYS_clone: {
    /* raw clone with a NULL stack behaves like fork; the child leaves at once */
    unsigned long flags = (argc > 1 ? a0 : 0x10000000UL) | SIGCHLD;
    r = syscall(nr, flags, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    int e = errno;
    if (r > 0) waitpid((pid_t)r, NULL, 0), r = 0; /* report success as 0: pids differ per run */
    errno = e;
    break;
  }
  case SYS_clone3:        r = syscall(nr, NULL, 0); break;
  case SYS_mount:         r = syscall(nr, "none", "/nonexistent-moat-probe", "tmpfs", 0, NULL); break;
  case SYS_umount2:       r = syscall(nr, "/nonexistent-moat-probe", 0); break;
  case SYS_bpf:           r = syscall(nr, 0 /* BPF_MAP_CREATE */, NULL, 0); break;
  case SYS_perf_event_open: r = syscall(nr, NULL, 0, -1, -1, 0); break;
  case SYS_kexec_load:    r = syscall(nr, 0, 0, NULL, 0); break;
  case SYS_init_module:   r = syscall(nr, NULL, 0, ""); break;
  case SYS_swapon:        r = syscall(nr, "/nonexistent-moat-probe", 0); break;
  case SYS_acct:          r = syscall(nr, "/nonexistent-moat-probe"); break;
  case SYS_open_by_handle_at: r = syscall(nr, -1, NULL, 0); break;
  case SYS_reboot:        r = syscall(nr, 0xdeadbeefUL, 0x1badUL, 0, NULL); break; /* invalid magic: EINVAL if reached */
  case SYS_mkdir:         r = syscall(nr, argc > 1 ? argv[1] : "/tmp/moat-probe-dir", 0755); break;
  case SYS_personality:   r = syscall(nr, argc > 1 ? a0 : 0xffffffffUL); break;
  case SYS_socket:        r = syscall(nr, argc > 1 ? a0 : 1 /* AF_UNIX */, 1 /* SOCK_STREAM */, 0); if (r >= 0) close((int)r), r = 0; break;
  case SYS_setns:         r = syscall(nr, -1, 0); break;
  case SYS_pivot_root:    r = syscall(nr, "/nonexistent-moat-probe", "/nonexistent-moat-probe"); break;
  case SYS_userfaultfd:   r = syscall(nr, 0); if (r >= 0) close((int)r), r = 0; break;
  case SYS_ptrace:        r = syscall(nr, 0x4206 /* PTRACE_SEIZE */, 1, 0, 0); break;
  case SYS_io_uring_setup: r = syscall(nr, 0, NULL); break;
  case SYS_syslog:        r = syscall(nr, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0); break;
  case SYS_umask:         r = syscall(nr, argc > 1 ? a0 : 022); break;
  default:                r = syscall(nr, a0, 0, 0, 0, 0, 0); break;
  }
  report(label, r, errno);
  return 0;
}

int main(int argc, char **argv) {
  int start = 1, rc = 0;
  if (argc < 2) { out("usage: probe CMD [ARG...] [, CMD [ARG...]]...\n"); return 2; }
  for (int i = 1; i <= argc; i++) {
    if (i == argc || strcmp(argv[i], ",") == 0) {
      if (i > start) rc |= run(i - start, argv + start);
      start = i + 1;
    }
  }
  return rc;
}
