/* An unprivileged ping: ICMP echo over SOCK_DGRAM (what iputils ping does without
 * CAP_NET_RAW). Works only when the caller's gid is inside net.ipv4.ping_group_range.
 * busybox's ping tries SOCK_RAW only, so it cannot show this. Prints "reply" or the errno. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *addr = argc > 1 ? argv[1] : "127.0.0.1";
  int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  if (s < 0) { printf("socket errno %d %s\n", errno, strerror(errno)); return 2; }
  struct sockaddr_in to = { .sin_family = AF_INET };
  inet_pton(AF_INET, addr, &to.sin_addr);
  struct icmphdr req = { .type = ICMP_ECHO, .un.echo.sequence = htons(1) };
  if (sendto(s, &req, sizeof req, 0, (struct sockaddr *)&to, sizeof to) < 0) { printf("sendto errno %d %s\n", errno, strerror(errno)); return 3; }
  struct pollfd p = { .fd = s, .events = POLLIN };
  if (poll(&p, 1, 3000) != 1) { printf("timeout\n"); return 4; }
  char buf[128];
  ssize_t n = recv(s, buf, sizeof buf, 0);
  struct icmphdr *rep = (struct icmphdr *)buf;
  if (n >= (ssize_t)sizeof *rep && rep->type == ICMP_ECHOREPLY) { printf("reply from %s\n", addr); return 0; }
  printf("unexpected reply\n");
  return 5;
}
