// The attacker's side of the symlink-race tests (test/integration/security/): a static
// program run inside a container that keeps swapping a path between a real entry and a
// symlink, as fast as the kernel allows, for at most SECONDS.
//
//   race exchange SECONDS A B      renameat2(A, B, RENAME_EXCHANGE) in a loop
//   race flip SECONDS TARGET LINK  symlink(TARGET, LINK); unlink(LINK) in a loop
//
// Prints "ready" once the first swap worked, so the test knows the loop runs.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: race exchange|flip SECONDS A B\n");
    return 2;
  }
  double end = now() + atof(argv[2]);
  const char *a = argv[3], *b = argv[4];
  int exchange = strcmp(argv[1], "exchange") == 0;
  if (!exchange && strcmp(argv[1], "flip") != 0) {
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  unsigned long n = 0;
  int announced = 0;
  while (now() < end) {
    for (int i = 0; i < 256; i++) {
      int ok;
      if (exchange) {
        ok = syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0;
      } else {
        ok = symlink(a, b) == 0;
        unlink(b);
      }
      if (ok) n++;
      if (ok && !announced) {
        printf("ready\n");
        fflush(stdout);
        announced = 1;
      }
    }
  }
  printf("swaps %lu\n", n);
  return 0;
}
