/* floor - the density benchmark's floor: what N containers cost the kernel
 * and the app alone, with no container manager at all.
 *
 * For each of N: fork; the child unshares user, network, mount, UTS, IPC
 * and pid namespaces, writes its own uid/gid maps, brings lo up, creates
 * a tap device (as every uva container with a network has), forks the
 * app (pid 1 of the new pid namespace) and execs it, then connects to
 * 127.0.0.1:PORT inside until the app listens, and says so on a pipe.
 * Prints the milliseconds from the first fork to the last "listening".
 *
 * What a manager adds on top (a root filesystem, seccomp, forwarding,
 * slirp, output, its own bookkeeping) is bench/run.sh's density row minus
 * this one, measured in the same run.  Unprivileged; every namespace and
 * process it makes dies with it (PR_SET_PDEATHSIG).
 *
 * Build: cc -O2 -o floor floor.c
 * Use:   floor N APP [PORT]      (APP: a static tinyhttpd, PORT 8080) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  _exit(1);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
    die(path);
  close(fd);
}

static void up(int sock, const char *name) {
  struct ifreq ifr = {0};
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
    die("SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
    die("SIOCSIFFLAGS");
}

static void container(const char *app, int port, int ready, uid_t uid,
                      gid_t gid) {
  char map[64];
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
    die("PR_SET_PDEATHSIG");
  if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS |
              CLONE_NEWIPC | CLONE_NEWPID) < 0)
    die("unshare");
  write_file("/proc/self/setgroups", "deny");
  snprintf(map, sizeof map, "0 %u 1\n", (unsigned)uid);
  write_file("/proc/self/uid_map", map);
  snprintf(map, sizeof map, "0 %u 1\n", (unsigned)gid);
  write_file("/proc/self/gid_map", map);
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    die("socket");
  up(sock, "lo");
  int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
  strcpy(ifr.ifr_name, "uva0");
  if (tun < 0 || ioctl(tun, TUNSETIFF, &ifr) < 0)
    die("tap");
  up(sock, "uva0");
  pid_t pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execl(app, app, p, (char *)NULL);
    die(app);
  }
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((unsigned short)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (;;) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0)
      die("socket");
    int ok = connect(c, (struct sockaddr *)&a, sizeof a) == 0;
    close(c);
    if (ok)
      break;
    if (errno != ECONNREFUSED)
      die("connect");
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  if (write(ready, "r", 1) != 1)
    die("write");
  pause();
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: floor N APP [PORT]\n");
    return 2;
  }
  int n = atoi(argv[1]), port = argc > 3 ? atoi(argv[3]) : 8080;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0)
    die("pipe2");
  pid_t *kids = calloc((size_t)n, sizeof *kids);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < n; i++) {
    kids[i] = fork();
    if (kids[i] < 0)
      die("fork");
    if (kids[i] == 0) {
      close(fds[0]);
      container(argv[2], port, fds[1], getuid(), getgid());
    }
  }
  close(fds[1]);
  int got = 0;
  char buf[256];
  while (got < n) {
    ssize_t r = read(fds[0], buf, sizeof buf);
    if (r <= 0) {
      fprintf(stderr, "floor: a container failed after %d ready\n", got);
      break;
    }
    got += (int)r;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  for (int i = 0; i < n; i++)
    kill(kids[i], SIGKILL);
  while (wait(NULL) > 0)
    ;
  if (got < n)
    return 1;
  printf("%ld\n", ms);
  return 0;
}
