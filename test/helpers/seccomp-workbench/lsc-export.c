/*
 * lsc-export: libseccomp's program for a simple profile description, for the workbench's
 * differential tests. Reads stdin, writes raw sock_filter bytes (seccomp_export_bpf) to stdout.
 *
 *   default <action u32 as libseccomp takes it, e.g. 0x50001>
 *   optimize <1|2>                  (1 = linear, 2 = binary tree)
 *   arch <x86_64|x86|x32|aarch64|arm>
 *   rule <action u32> <syscall name> <n> [<arg index> <op 1..7> <datum a> <datum b>]...
 *
 * Ops are libseccomp's enum scmp_compare (1 NE, 2 LT, 3 LE, 4 EQ, 5 GE, 6 GT, 7 MASKED_EQ);
 * data are decimal or 0x-hex u64. Rules whose action equals the default are skipped, as runc
 * does. Exit 2 with a message when libseccomp refuses a rule.
 * Build: gcc -O2 -o lsc-export lsc-export.c -lseccomp
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  char word[64];
  unsigned long def = 0;
  int have_def = 0;
  scmp_filter_ctx ctx = NULL;
  while (scanf("%63s", word) == 1) {
    if (strcmp(word, "default") == 0) {
      if (scanf("%li", (long *)&def) != 1) return 3;
      ctx = seccomp_init((uint32_t)def);
      if (ctx == NULL) { fprintf(stderr, "seccomp_init failed\n"); return 2; }
      have_def = 1;
    } else if (strcmp(word, "optimize") == 0) {
      int level;
      if (scanf("%d", &level) != 1 || !have_def) return 3;
      int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, (uint32_t)level);
      if (rc != 0) { fprintf(stderr, "optimize %d: %s\n", level, strerror(-rc)); return 2; }
    } else if (strcmp(word, "arch") == 0) {
      char name[32];
      if (scanf("%31s", name) != 1 || !have_def) return 3;
      uint32_t a = seccomp_arch_resolve_name(name);
      if (a == 0) { fprintf(stderr, "unknown arch %s\n", name); return 2; }
      int rc = seccomp_arch_add(ctx, a);
      if (rc != 0 && rc != -EEXIST) { fprintf(stderr, "arch %s: %s\n", name, strerror(-rc)); return 2; }
    } else if (strcmp(word, "rule") == 0) {
      unsigned long action;
      char name[64];
      int n;
      struct scmp_arg_cmp cmp[6];
      if (scanf("%li %63s %d", (long *)&action, name, &n) != 3 || n < 0 || n > 6 || !have_def) return 3;
      for (int i = 0; i < n; i++) {
        unsigned int idx, op;
        unsigned long long a, b;
        if (scanf("%u %u %lli %lli", &idx, &op, (long long *)&a, (long long *)&b) != 4) return 3;
        cmp[i].arg = idx;
        cmp[i].op = (enum scmp_compare)op;
        cmp[i].datum_a = a;
        cmp[i].datum_b = b;
      }
      if (action == def) continue;
      int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) { fprintf(stderr, "unknown syscall %s (skipped, as runc does)\n", name); continue; }
      int rc = seccomp_rule_add_array(ctx, (uint32_t)action, nr, (unsigned int)n, cmp);
      if (rc != 0) { fprintf(stderr, "rule %s: %s\n", name, strerror(-rc)); return 2; }
    } else {
      fprintf(stderr, "unknown word %s\n", word);
      return 3;
    }
  }
  if (!have_def) return 3;
  int rc = seccomp_export_bpf(ctx, 1);
  if (rc != 0) { fprintf(stderr, "export: %s\n", strerror(-rc)); return 2; }
  seccomp_release(ctx);
  return 0;
}
