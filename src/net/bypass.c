/* bypass.c - the manager's side of the bypass drivers: one host socket per
 * published port, bound at start (a taken port fails before any process
 * exists) and never listened on by the manager, handed to the container's
 * init before its app starts; and for --outbound bypass, a fresh host
 * socket per outbound TCP connection init asks for.  Init serves the app's
 * seccomp notifications with them (unotify.c, whose top comment has the
 * theory); the manager's own confinement (confine.c) needs nothing new:
 * socket() of an Internet family and sendmsg() were allowed before.
 *
 * Each host socket is the manager's until it is sent: SCM_RIGHTS gives
 * init its own reference, and the manager keeps the published ones too,
 * so a port stays the container's while it runs, across restarts of its
 * app. */
#include "net/bypass.h"

#include "base/util.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>

/* Requests in flight are bounded by init (unotify.c, MAX_PENDING); the
 * sockets an app keeps count against its own RLIMIT_NOFILE. */

typedef struct {
  guint16 container_port;
  int fd;
} Port;

struct UvaBypass {
  char *name;
  gboolean outbound;
  GArray *ports; /* of Port */
};

gboolean uva_bypass_kernel_ok(const char *release, GError **error) {
  int major = 0, minor = 0;
  if (sscanf(release, "%d.%d", &major, &minor) == 2 &&
      (major > 5 || (major == 5 && minor >= 19)))
    return TRUE;
  return uva_fail(
      error,
      "the bypass drivers need Linux 5.19, this is %s "
      "(SECCOMP_IOCTL_NOTIF_ADDFD 5.9, SECCOMP_ADDFD_FLAG_SEND and "
      "SO_NETNS_COOKIE 5.14, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV "
      "5.19); use --port-driver splice and --outbound slirp",
      release);
}

UvaBypass *uva_bypass_new(const char *name, gboolean outbound, GError **error) {
  struct utsname u;
  if (uname(&u) == 0 && !uva_bypass_kernel_ok(u.release, error)) {
    g_prefix_error(error, "%s: ", name);
    return NULL;
  }
  UvaBypass *b = g_new0(UvaBypass, 1);
  b->name = g_strdup(name);
  b->outbound = outbound;
  b->ports = g_array_new(FALSE, FALSE, sizeof(Port));
  return b;
}

gboolean uva_bypass_publish(UvaBypass *b, const UvaPublish *p, GError **error) {
  int family = p->host.ss_family;
  uva_autofd fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return uva_fail_errno(error, errno, "%s: socket", b->name);
  int one = 1;
  /* Rebinding right after a restart must not fail on TIME_WAIT. */
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* [::]:P means IPv6 only, as with the splice driver. */
  if (family == AF_INET6)
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (const struct sockaddr *)&p->host, p->host_len) < 0)
    return uva_publish_bind_error(b->name, p, errno, error);
  Port port = {.container_port = p->container_port, .fd = uva_steal_fd(&fd)};
  g_array_append_val(b->ports, port);
  return TRUE;
}

gboolean uva_bypass_send_ports(UvaBypass *b, int sync_fd, GError **error) {
  for (guint i = 0; i < b->ports->len; i++) {
    const Port *p = &g_array_index(b->ports, Port, i);
    UvaMsg m = {.type = UVA_MSG_BYPASS_PORT, .arg = p->container_port};
    if (!uva_msg_send(sync_fd, &m, p->fd, error))
      return FALSE;
  }
  UvaMsg end = {.type = UVA_MSG_BYPASS_END};
  return uva_msg_send(sync_fd, &end, -1, error);
}

void uva_bypass_serve(UvaBypass *b, const UvaMsg *m, int sync_fd) {
  UvaMsg reply = {.type = UVA_MSG_HOSTSOCK, .value = m->value};
  struct sockaddr_storage to = {0};
  memcpy(&to, m->text, MIN((gsize)m->arg, sizeof to));
  int fd = -1;
  /* Init sent only destinations libslirp would dial from the host too:
   * not loopback, unspecified or multicast, not libslirp's own networks
   * (unotify.c, outbound_excluded).  An address of the host's other than
   * loopback is one of those, as it is through libslirp today: a service
   * the host exposes there is exposed to the network.  Anything odd is
   * refused, which sends the connect() the container's own way. */
  if (!b->outbound || (to.ss_family != AF_INET && to.ss_family != AF_INET6))
    reply.err = EPERM;
  else if ((fd = socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
    reply.err = errno;
  (void)uva_msg_send(sync_fd, &reply, fd, NULL);
  uva_close_fdp(&fd);
}

gboolean uva_bypass_listening(const UvaBypass *b, guint16 container_port) {
  for (guint i = 0; b && i < b->ports->len; i++) {
    const Port *p = &g_array_index(b->ports, Port, i);
    int on = 0;
    socklen_t len = sizeof on;
    /* The same socket the app holds: listen(2) there shows here. */
    if (p->container_port == container_port &&
        getsockopt(p->fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on)
      return TRUE;
  }
  return FALSE;
}

void uva_bypass_free(UvaBypass *b) {
  if (!b)
    return;
  for (guint i = 0; i < b->ports->len; i++)
    uva_close_fdp(&g_array_index(b->ports, Port, i).fd);
  g_array_unref(b->ports);
  g_free(b->name);
  g_free(b);
}
