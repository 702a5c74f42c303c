/* listening.c - init's answer to "does something listen on TCP port P of
 * this network namespace, where the splice driver's dial to 127.0.0.1
 * reaches it?" (readiness, ready.c), without a connection to the app.
 *
 * Asked as one exact sock_diag lookup (sock_diag(7), SOCK_DIAG_BY_FAMILY
 * without NLM_F_DUMP): the kernel runs inet_diag_find_one_icsk(), which is
 * the lookup a SYN to 127.0.0.1:P from 127.0.0.1:1 would do (established
 * table, then the listeners bound to 127.0.0.1 or the wildcard, IPv6
 * dual-stack ones included), O(1) whatever the machine's socket count.
 *
 * Why not /proc/net/tcp, as before: its seq_file walks the WHOLE global
 * established hash (262144 buckets on a 4 GiB machine, sized by RAM; the
 * per-netns hash is off by default, net.ipv4.tcp_child_ehash_entries=0)
 * and skips other namespaces' sockets one by one, so one read of tcp and
 * tcp6 costs ~2.4 ms of kernel time here, against ~2 us for the lookup.
 * With N containers polled every 100 ms that is O(N) reads per round of a
 * walk that is itself as large as the machine: `up` of 256 containers
 * spent most of its start-up in established_get_first() (perf).  The
 * /proc reading stays as the fallback for kernels without inet_diag. */
#include "sandbox/listening.h"

#include "base/util.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* 1 listening, 0 not, -1 the lookup itself is not available (errno). */
static int listening_diag(guint16 port) {
  /* A socket per question (~2 us more): init keeps no fd of its own
   * beyond the sync socket between questions. */
  uva_autofd nl =
      socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0)
    return -1;
  struct {
    struct nlmsghdr h;
    struct inet_diag_req_v2 r;
  } req = {
      .h = {.nlmsg_len = sizeof req,
            .nlmsg_type = SOCK_DIAG_BY_FAMILY,
            .nlmsg_flags = NLM_F_REQUEST,
            .nlmsg_seq = 1},
      .r = {.sdiag_family = AF_INET,
            .sdiag_protocol = IPPROTO_TCP,
            .idiag_states = ~0u,
            .id = {.idiag_sport = htons(port),
                   .idiag_dport = htons(1),
                   .idiag_src = {htonl(INADDR_LOOPBACK)},
                   .idiag_dst = {htonl(INADDR_LOOPBACK)},
                   .idiag_cookie = {INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE}}},
  };
  if (send(nl, &req, sizeof req, 0) < 0)
    return -1;
  /* The answer is one inet_diag_msg (plus attributes we did not ask for)
   * or one NLMSG_ERROR: ENOENT when nothing matches. */
  union {
    struct nlmsghdr h;
    char buf[1024];
  } ans;
  ssize_t n;
  do
    n = recv(nl, &ans, sizeof ans, 0);
  while (n < 0 && errno == EINTR);
  if (n < (ssize_t)sizeof ans.h) {
    if (n >= 0)
      errno = EPROTO;
    return -1;
  }
  if (ans.h.nlmsg_type == NLMSG_ERROR &&
      n >= (ssize_t)(NLMSG_HDRLEN + sizeof(struct nlmsgerr))) {
    int err = -((struct nlmsgerr *)NLMSG_DATA(&ans.h))->error;
    if (err == ENOENT)
      return 0;
    errno = err;
    return -1;
  }
  if (ans.h.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
      n < (ssize_t)(NLMSG_HDRLEN + sizeof(struct inet_diag_msg))) {
    errno = EPROTO;
    return -1;
  }
  const struct inet_diag_msg *m = NLMSG_DATA(&ans.h);
  /* An established socket of that exact 4-tuple is not a listener. */
  return m->idiag_state == TCP_LISTEN;
}

/* The fallback: this namespace's /proc/net/tcp and tcp6 (proc(5)). */
static gboolean listening_proc(guint16 port) {
  static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
  for (size_t t = 0; t < G_N_ELEMENTS(tables); t++) {
    g_autofree char *text = uva_read_small_file(tables[t], NULL);
    g_auto(GStrv) lines = text ? g_strsplit(text, "\n", -1) : NULL;
    for (char **l = lines; l && *l; l++) {
      char local[64], remote[64];
      unsigned st;
      if (sscanf(*l, "%*u: %63s %63s %x", local, remote, &st) != 3 ||
          st != 0x0A) /* TCP_LISTEN */
        continue;
      char *colon = strrchr(local, ':');
      if (!colon || strtoul(colon + 1, NULL, 16) != port)
        continue;
      *colon = '\0';
      /* 127.0.0.1, any (IPv4), :: or ::ffff:127.0.0.1 (IPv6, hex words
       * in host order), which a dial to 127.0.0.1 reaches. */
      if (g_str_equal(local, "0100007F") || g_str_equal(local, "00000000") ||
          g_str_equal(local, "00000000000000000000000000000000") ||
          g_str_equal(local, "0000000000000000FFFF00000100007F"))
        return TRUE;
    }
  }
  return FALSE;
}

gboolean uva_listening_tcp(guint16 port) {
  /* Once the lookup failed for want of inet_diag, it will not come back:
   * stop asking it. */
  static gboolean no_diag;
  if (!no_diag) {
    int r = listening_diag(port);
    if (r >= 0)
      return r;
    no_diag = TRUE;
  }
  return listening_proc(port);
}
