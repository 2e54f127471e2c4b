/*
 * batch-probe: runs raw syscalls for `moat seccomp test` and the workbench's kernel tests.
 * Freestanding (no libc, no startup syscalls), so the only syscalls it makes besides the
 * probed ones are clone(SIGCHLD) (fork), write, wait4 and exit_group.
 *
 *   batch-probe CASE...       CASE = nr[:a0[:a1[:a2[:a3[:a4[:a5]]]]]], numbers in hex
 *
 * For each case i a child runs the syscall and prints "i ok <hex ret>" or "i errno <n>";
 * the parent then prints "i status <wait status>" (signal = status & 0x7f).
 * Build: gcc -O2 -static -nostdlib -fno-stack-protector -o batch-probe batch-probe.c
 * x86_64 only.
 */
typedef unsigned long u64;
typedef long i64;

static i64 sys6(u64 nr, u64 a0, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5) {
  i64 ret;
  register u64 r10 __asm__("r10") = a3;
  register u64 r8 __asm__("r8") = a4;
  register u64 r9 __asm__("r9") = a5;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}

static void out(const char *s, u64 n) { sys6(1, 1, (u64)s, n, 0, 0, 0); }

static u64 fmt_u(char *b, u64 v, int base) {
  char t[24];
  u64 n = 0, i = 0;
  do { t[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
  while (n) b[i++] = t[--n];
  return i;
}

static u64 parse_hex(const char **p) {
  u64 v = 0;
  for (;;) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v = v * 16 + (c - 'A' + 10);
    else break;
    (*p)++;
  }
  return v;
}

static void line(u64 idx, const char *word, u64 v, int base) {
  char b[96];
  u64 n = fmt_u(b, idx, 10);
  b[n++] = ' ';
  while (*word) b[n++] = *word++;
  b[n++] = ' ';
  n += fmt_u(b + n, v, base);
  b[n++] = '\n';
  out(b, n);
}

static int run(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *p = argv[i];
    u64 a[7] = {0, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < 7; k++) {
      a[k] = parse_hex(&p);
      if (*p != ':') break;
      p++;
    }
    i64 pid = sys6(56, 17 /* SIGCHLD */, 0, 0, 0, 0, 0); /* clone as fork */
    if (pid == 0) {
      i64 r = sys6(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
      if (r < 0 && r > -4096) line(i, "errno", (u64)(-r), 10);
      else line(i, "ok", (u64)r, 16);
      sys6(231, 0, 0, 0, 0, 0, 0);
    }
    if (pid < 0) { line(i, "forkerr", (u64)(-pid), 10); continue; }
    int status = 0;
    i64 w;
    do { w = sys6(61, (u64)pid, (u64)&status, 0, 0, 0, 0); } while (w == -4);
    line(i, "status", (u64)(unsigned)status, 10);
  }
  return 0;
}

__attribute__((used)) void cmain(u64 *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  sys6(231, (u64)run(argc, argv), 0, 0, 0, 0, 0);
}

__asm__(".globl _start\n_start:\n xor %rbp,%rbp\n mov %rsp,%rdi\n and $-16,%rsp\n call cmain\n hlt\n");
