/* bypass_probe.c - the app of tests/bypass.sh, run inside a container with
 * --port-driver bypass (and --outbound bypass).  It binds PORT (so it gets
 * the injected host socket), tries every way back into the host it knows
 * against TARGET (a listener the test runs on the host's 127.0.0.1, or
 * another address), printing one "attack NAME: RESULT" line each, where
 * RESULT is "refused (errno text)" or "CONNECTED", then serves:
 *
 *   a line "ECHO"  -> every byte after it back until EOF
 *   a line "PEER"  -> "peer ADDRESS" (the client address the app sees)
 *   a line "ATTACK"-> the re-use attacks on the accepted host socket
 *
 * Usage: bypass_probe PORT TARGET_IP TARGET_PORT [OUT_IP OUT_PORT]
 * (TARGET_PORT 0: no attacks, only the server)
 * With OUT_*, it also makes outbound connections (--outbound bypass) and
 * runs the same attacks on the outbound socket. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;

static void result(const char *name, int rc, int err) {
  if (rc < 0)
    printf("attack %s: refused (%s)\n", name, strerror(err));
  else
    printf("attack %s: CONNECTED\n", name);
  fflush(stdout);
}

/* connect(AF_UNSPEC) then connect(target); each result printed. */
static void unspec_then_connect(const char *what, int fd) {
  char name[96];
  struct sockaddr sa = {.sa_family = AF_UNSPEC};
  int rc = connect(fd, &sa, sizeof sa);
  snprintf(name, sizeof name, "%s-unspec", what);
  result(name, rc, errno);
  rc = connect(fd, (struct sockaddr *)&target, sizeof target);
  snprintf(name, sizeof name, "%s-connect", what);
  result(name, rc, errno);
}

static void fastopen(const char *what, int fd) {
  char name[96];
  int rc = (int)sendto(fd, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&target,
                       sizeof target);
  snprintf(name, sizeof name, "%s-sendto-fastopen", what);
  result(name, rc, errno);
  struct iovec iov = {"x", 1};
  struct msghdr mh = {.msg_name = &target,
                      .msg_namelen = sizeof target,
                      .msg_iov = &iov,
                      .msg_iovlen = 1};
  rc = (int)sendmsg(fd, &mh, MSG_FASTOPEN);
  snprintf(name, sizeof name, "%s-sendmsg-fastopen", what);
  result(name, rc, errno);
  struct mmsghdr mm = {.msg_hdr = mh};
  rc = sendmmsg(fd, &mm, 1, MSG_FASTOPEN);
  snprintf(name, sizeof name, "%s-sendmmsg-fastopen", what);
  result(name, rc, errno);
  int one = 1;
  rc = setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof one);
  snprintf(name, sizeof name, "%s-tcp-fastopen-connect", what);
  result(name, rc, errno);
  rc = connect(fd, (struct sockaddr *)&target, sizeof target);
  snprintf(name, sizeof name, "%s-connect-after-fastopen-connect", what);
  result(name, rc, errno);
}

/* The dup2 race: one thread connects fd X to the target over and over
 * while another keeps swapping the host socket and a fresh container
 * socket in at X.  Bounded: N rounds or 3 s. */
static int race_fd, race_host;
static volatile int race_stop;
static void *swapper(void *arg) {
  (void)arg;
  while (!race_stop) {
    dup2(race_host, race_fd);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    dup2(c, race_fd);
    close(c);
  }
  return NULL;
}

static void race(const char *what, int host) {
  race_host = host;
  race_fd = socket(AF_INET, SOCK_STREAM, 0);
  race_stop = 0;
  pthread_t t;
  pthread_create(&t, NULL, swapper, NULL);
  int connected = 0, rounds = 0;
  time_t t0 = time(NULL);
  for (; rounds < 20000 && time(NULL) - t0 < 3; rounds++) {
    if (connect(race_fd, (struct sockaddr *)&target, sizeof target) == 0)
      connected++;
    struct sockaddr sa = {.sa_family = AF_UNSPEC};
    (void)connect(race_fd, &sa, sizeof sa);
  }
  race_stop = 1;
  pthread_join(t, NULL);
  printf("attack %s-dup2-race: %d rounds, %d connected\n", what, rounds,
         connected);
  fflush(stdout);
  close(race_fd);
}

static void io_uring(void) {
  char params[120] = {0};
  long rc = syscall(__NR_io_uring_setup, 4, params);
  result("io_uring_setup", (int)rc, errno);
}

static void attacks(const char *what, int fd) {
  unspec_then_connect(what, fd);
  fastopen(what, fd);
  race(what, fd);
}

static void *serve(void *arg) {
  int c = (int)(long)arg;
  char line[16];
  size_t n = 0;
  while (n < sizeof line - 1 && read(c, line + n, 1) == 1 && line[n] != '\n')
    n++;
  line[n] = '\0';
  if (!strcmp(line, "ECHO")) {
    char buf[65536];
    ssize_t r;
    while ((r = read(c, buf, sizeof buf)) > 0)
      for (ssize_t off = 0; off < r;) {
        ssize_t w = write(c, buf + off, (size_t)(r - off));
        if (w <= 0)
          goto out;
        off += w;
      }
    shutdown(c, SHUT_WR);
  } else if (!strcmp(line, "PEER")) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[64] = "?", reply[96];
    getpeername(c, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET)
      inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
                sizeof host);
    else if (ss.ss_family == AF_INET6 &&
             IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr))
      inet_ntop(AF_INET, &((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr[12],
                host, sizeof host); /* a dual-stack listener's IPv4 peer */
    else if (ss.ss_family == AF_INET6)
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host,
                sizeof host);
    int m = snprintf(reply, sizeof reply, "peer %s\n", host);
    (void)!write(c, reply, (size_t)m);
  } else if (!strcmp(line, "ATTACK")) {
    attacks("accepted", c);
    (void)!write(c, "done\n", 5);
  }
out:
  close(c);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 4)
    return 2;
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)atoi(argv[3]));
  inet_pton(AF_INET, argv[2], &target.sin_addr);
  if (argc >= 6) {
    /* Outbound: a download from OUT and the attacks on that socket. */
    struct sockaddr_in out = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)atoi(argv[5]))};
    inet_pton(AF_INET, argv[4], &out.sin_addr);
    int o = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(o, (struct sockaddr *)&out, sizeof out) < 0) {
      printf("outbound connect: %s\n", strerror(errno));
    } else {
      char buf[65536];
      long total = 0;
      ssize_t r;
      while ((r = read(o, buf, sizeof buf)) > 0)
        total += r;
      printf("outbound bytes %ld\n", total);
      attacks("outbound", o);
    }
    /* What stays refused as today: the host's loopback (here, the
     * container's own), libslirp's gateway (host loopback), and the
     * target port on OUT_IP, an address of the host's where the target
     * listens on 127.0.0.1 only. */
    const char *plain[] = {argv[2], "10.0.2.2", argv[4]};
    for (int i = 0; i < 3; i++) {
      struct sockaddr_in t = target;
      inet_pton(AF_INET, plain[i], &t.sin_addr);
      int c = socket(AF_INET, SOCK_STREAM, 0);
      char name[64];
      snprintf(name, sizeof name, "plain-connect-%s", plain[i]);
      int rc = connect(c, (struct sockaddr *)&t, sizeof t);
      result(name, rc, errno);
      close(c);
    }
    fflush(stdout);
    close(o);
  }
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  int zero = 0, one = 1;
  setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6,
                           .sin6_port = htons((uint16_t)atoi(argv[1]))};
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 128) < 0) {
    printf("bind/listen: %s\n", strerror(errno));
    return 1;
  }
  struct sockaddr_storage me;
  socklen_t len = sizeof me;
  char host[64] = "?";
  getsockname(s, (struct sockaddr *)&me, &len);
  if (me.ss_family == AF_INET)
    inet_ntop(AF_INET, &((struct sockaddr_in *)&me)->sin_addr, host,
              sizeof host);
  printf("listening %s family %s\n", host,
         me.ss_family == AF_INET ? "inet" : "inet6");
  if (ntohs(target.sin_port) != 0) { /* TARGET_PORT 0: serve only */
    int d = dup(s);
    attacks("listener", d);
    close(d);
    io_uring();
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0)
      continue;
    pthread_t t;
    pthread_create(&t, NULL, serve, (void *)(long)c);
    pthread_detach(t);
  }
}
