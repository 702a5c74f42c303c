/* unotify.c - init serves its app's seccomp user notifications for the
 * bypass drivers (--port-driver bypass, --outbound bypass): host speed for
 * published ports and outbound TCP, the bypass4netns idea without the holes
 * its README lists.
 *
 * Theory of operation.  The app's filter (seccomp.c, bypass_rules) sends
 * every bind() and connect() here (seccomp_unotify(2)).  Init serves them,
 * not the manager: taking the app's file (pidfd_getfd(2)) and reading its
 * memory (process_vm_readv(2)) are ptrace-class access, which Landlock
 * refuses to a manager whose domain the app is outside of, and which the
 * manager's seccomp allow-list does not need this way; and each container
 * then serves its own calls, so nothing here can hold up the manager's
 * loop.  Init is the app's parent, is not confined, and the app cannot
 * ptrace it (init keeps capabilities the app has not: commoncap's
 * cap_ptrace_access_check).  The manager gives init, before the app
 * starts, one host socket per published port, bound and not listening
 * (bypass.c), and later, on request, a host socket per outbound
 * connection.
 *
 *  - bind() of a published container port: the app's fd is replaced with
 *    that host socket (SECCOMP_IOCTL_NOTIF_ADDFD with SETFD: the same fd
 *    number, as dup2 would), with the app's O_NONBLOCK and the options a
 *    listener cares about, and bind() returns 0.  The app listens and
 *    accepts on it itself: clients reach it directly, and it sees their
 *    real addresses.
 *  - bind() of anything else goes on in the kernel
 *    (SECCOMP_USER_NOTIF_FLAG_CONTINUE).  That decides nothing about
 *    security: whichever file the kernel then finds at the fd, a host
 *    socket cannot become a way out through bind(): the published ones are
 *    bound (inet_bind: EINVAL once inet_num is set), the others connected
 *    (SS_CONNECTED: inet_listen refuses), and connect() below never lets
 *    one be disconnected.
 *  - connect(): the file behind the fd is taken once with pidfd_getfd.
 *    Any socket not of the container's own network namespace (its
 *    SO_NETNS_COOKIE differs from init's) is refused with EPERM, AF_UNSPEC
 *    included: no connect(AF_UNSPEC) then connect(127.0.0.1) on the
 *    injected listener, on a connection it accepted, or on an outbound
 *    one.  An Internet socket of the container's is connected here, on
 *    that same file, to the address read once, and the call returns that
 *    result.  Nothing is looked up again later, so a thread that dup2()s a
 *    host socket over the fd meanwhile changes nothing: the kernel never
 *    re-reads the fd or the address (no CONTINUE: bypass4netns's TOCTOU,
 *    open since 2022).  Other families are refused (EPERM): a unix
 *    socket's path would need the app's root and cwd, and the peer would
 *    see init's credentials.
 *  - --outbound bypass: a TCP connect() to an address the container may
 *    reach through libslirp anyway (not loopback, unspecified, multicast,
 *    10.0.2.0/24 or fd00::/64) is made on a host socket the manager sends,
 *    which replaces the app's fd once connected, never before: a host
 *    socket whose connect failed would be SS_UNCONNECTED, and listen()
 *    would autobind it on the host.  Refused destinations take the
 *    container's own path, libslirp, which refuses host loopback.
 *
 * Init never blocks here: one notification per ready listener per round
 * (SECCOMP_IOCTL_NOTIF_RECV after POLLIN returns at once, ENOENT if the
 * task died: seccomp_notify_recv counts a semaphore per notification);
 * ID_VALID, SEND and pidfd_getfd do not wait; ADDFD waits only for the
 * target, already woken, to install the fd.  A connect() on a blocking
 * socket is made non-blocking for the call (O_NONBLOCK belongs to the
 * open file, fcntl(2)) and the answer goes out when the socket turns
 * writable, so the app's thread waits and init does not.  The flag is
 * back before the answer; another app thread using that unconnected
 * socket in the window would see EAGAIN where it would have waited.
 *
 * What this costs the app: each connect() is a round trip to init; a
 * blocking one ignores SO_SNDTIMEO (it waits for the kernel's own
 * timeout); under --outbound bypass a non-blocking connect() waits until
 * the host socket is connected and then returns 0, since only a connected
 * host socket may reach the app; the peer of a connect() sees the same
 * address as before (the socket is the app's own, or the host's).
 *
 * Memory the app names (the sockaddr) is read once into init's buffer,
 * and SECCOMP_IOCTL_NOTIF_ID_VALID afterwards proves that the pid read
 * from is still the notifying task (seccomp_unotify(2), "Caveats").
 *
 * The manager's death ends the container (init.c kills its namespace on
 * EOF), and an app whose init is gone has a dead listener: its notified
 * calls fail with ENOSYS, none goes through. */
#include "sandbox/unotify.h"

#include "base/util.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9, include/uapi/linux/pidfd.h */
#endif

#define MAX_PORTS 64
#define MAX_LISTENERS 8
/* connect()s in flight; past it EAGAIN.  With the listeners, within
 * UVA_UNOTIFY_MAX_POLL. */
#define MAX_PENDING 256

typedef enum {
  P_CONNECT,  /* the container's socket connects: fd is it */
  P_HOSTSOCK, /* outbound: waiting for the manager's host socket */
  P_OUTBOUND, /* outbound: fd, a host socket, connects */
} PendingKind;

typedef struct {
  PendingKind kind;
  int listener; /* index into listeners */
  guint64 id;   /* the notification */
  guint32 req;  /* P_HOSTSOCK: the request's id */
  int fd;       /* the socket that connects (ours) */
  int app;      /* outbound: our copy of the app's socket, for the fallback */
  int target_fd;
  int app_flags;
  struct sockaddr_storage to;
  socklen_t to_len;
} Pending;

struct UvaUnotify {
  int sync_fd;
  gboolean outbound;
  guint64 cookie; /* SO_NETNS_COOKIE of the container's namespace */
  struct {
    guint16 port;
    int fd;
  } ports[MAX_PORTS];
  int n_ports;
  int listeners[MAX_LISTENERS]; /* -1: free */
  Pending pending[MAX_PENDING];
  int n_pending;
  guint32 next_req;
};

static int sock_int(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  return getsockopt(fd, level, name, &v, &len) < 0 ? -1 : v;
}

static guint64 netns_cookie(int fd, int *err) {
  guint64 cookie = 0;
  socklen_t len = sizeof cookie;
  *err = getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0 ? errno
                                                                        : 0;
  return cookie;
}

UvaUnotify *uva_unotify_new(int sync_fd, gboolean outbound) {
  UvaUnotify *u = g_new0(UvaUnotify, 1);
  u->sync_fd = sync_fd;
  u->outbound = outbound;
  for (int i = 0; i < MAX_LISTENERS; i++)
    u->listeners[i] = -1;
  uva_autofd s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int err = s < 0 ? errno : 0;
  if (s >= 0)
    u->cookie = netns_cookie(s, &err);
  /* Without its own cookie every connect() is refused (cookie 0 matches
   * no socket): failing closed. */
  return u;
}

gboolean uva_unotify_receive_ports(UvaUnotify *u) {
  for (;;) {
    UvaMsg m;
    int fd = -1;
    gboolean eof = FALSE;
    if (!uva_msg_recv(u->sync_fd, &m, &fd, &eof, NULL))
      return FALSE;
    if (m.type == UVA_MSG_BYPASS_END)
      return fd < 0;
    if (m.type != UVA_MSG_BYPASS_PORT || fd < 0 || u->n_ports == MAX_PORTS) {
      uva_close_fdp(&fd);
      return FALSE;
    }
    u->ports[u->n_ports].port = (guint16)m.arg;
    u->ports[u->n_ports++].fd = fd;
  }
}

static void listener_gone(UvaUnotify *u, int li);

void uva_unotify_add_listener(UvaUnotify *u, int fd) {
  for (int i = 0; i < MAX_LISTENERS; i++)
    if (u->listeners[i] < 0) {
      u->listeners[i] = fd;
      return;
    }
  /* Eight app generations alive at once (restarts whose children live
   * on): the oldest's calls fail with ENOSYS from now on. */
  listener_gone(u, 0);
  u->listeners[0] = fd;
}

/* Answers ---------------------------------------------------------------- */

static void respond(int listener, guint64 id, int err, guint32 flags) {
  struct seccomp_notif_resp r = {
      .id = id, .val = 0, .error = err ? -err : 0, .flags = flags};
  /* ENOENT: the task is gone (killed); nothing to answer. */
  (void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

static gboolean still_valid(int listener, guint64 id) {
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

/* len bytes at addr of task pid into buf: 0 or an errno. */
static int read_mem(pid_t pid, guint64 addr, void *buf, size_t len) {
  struct iovec local = {buf, len};
  struct iovec remote = {(void *)(uintptr_t)addr, len};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  return n == (ssize_t)len ? 0 : EFAULT;
}

/* The thread group of thread tid, from this namespace's /proc (before
 * Linux 6.9 a pidfd names a thread group leader only); tid when unknown. */
static pid_t tgid_of(pid_t tid) {
  char path[64];
  g_snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
  g_autofree char *text = uva_read_small_file(path, NULL);
  const char *t = text ? strstr(text, "\nTgid:") : NULL;
  return t ? (pid_t)strtol(t + 6, NULL, 10) : tid;
}

/* The file behind fd number target of task pid, as an fd of init's
 * (close-on-exec), or -1 with *err.  A pidfd of the thread itself
 * (PIDFD_THREAD, 6.9) or else of its process: threads share the fd
 * table.  A reused pid is ruled out by the caller's ID_VALID afterwards. */
static int take_file(pid_t pid, int target, int *err) {
  uva_autofd pidfd = (int)syscall(SYS_pidfd_open, pid, PIDFD_THREAD);
  if (pidfd < 0 && errno == EINVAL)
    pidfd = (int)syscall(SYS_pidfd_open, tgid_of(pid), 0);
  if (pidfd < 0) {
    *err = errno;
    return -1;
  }
  int fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
  *err = fd < 0 ? errno : 0;
  return fd;
}

/* bind() ----------------------------------------------------------------- */

static int addr_port(const struct sockaddr_storage *ss, socklen_t len) {
  if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in))
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
  if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
  return -1;
}

/* What the app set on its listener, carried over to the host socket.
 * Buffer sizes are left to the host's autotuning. */
static void copy_listener_options(int from, int to) {
  static const struct {
    int level, name;
  } opts[] = {{SOL_SOCKET, SO_REUSEPORT},  {SOL_SOCKET, SO_KEEPALIVE},
              {IPPROTO_TCP, TCP_NODELAY},  {IPPROTO_TCP, TCP_DEFER_ACCEPT},
              {IPPROTO_TCP, TCP_KEEPIDLE}, {IPPROTO_TCP, TCP_KEEPINTVL},
              {IPPROTO_TCP, TCP_KEEPCNT}};
  for (size_t i = 0; i < G_N_ELEMENTS(opts); i++) {
    int v = sock_int(from, opts[i].level, opts[i].name);
    if (v >= 0)
      (void)setsockopt(to, opts[i].level, opts[i].name, &v, sizeof v);
  }
}

static void serve_bind(UvaUnotify *u, int l, const struct seccomp_notif *n) {
  int target = (int)n->data.args[0];
  socklen_t len = (socklen_t)n->data.args[2];
  struct sockaddr_storage ss = {0};
  int host = -1;
  if (len <= sizeof ss && len >= sizeof(sa_family_t) &&
      read_mem((pid_t)n->pid, n->data.args[1], &ss, len) == 0) {
    int port = addr_port(&ss, len);
    for (int i = 0; port >= 0 && i < u->n_ports; i++)
      if (u->ports[i].port == port)
        host = u->ports[i].fd;
  }
  if (host < 0) {
    /* Not a published port (or the kernel's own EINVAL/EFAULT to come). */
    respond(l, n->id, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
    return;
  }
  int err;
  uva_autofd app = take_file((pid_t)n->pid, target, &err);
  if (!still_valid(l, n->id))
    return;
  if (app < 0) {
    respond(l, n->id, err == ESRCH ? EBADF : err, 0);
    return;
  }
  int family = sock_int(app, SOL_SOCKET, SO_DOMAIN);
  guint64 cookie = netns_cookie(app, &err);
  if ((family != AF_INET && family != AF_INET6) ||
      sock_int(app, SOL_SOCKET, SO_TYPE) != SOCK_STREAM ||
      sock_int(app, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_TCP || err ||
      cookie != u->cookie) {
    respond(l, n->id, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
    return;
  }
  copy_listener_options(app, host);
  int fl = fcntl(app, F_GETFL);
  (void)uva_set_nonblock(host, fl >= 0 && (fl & O_NONBLOCK), NULL);
  /* SETFD: at the app's own fd number.  Not ADDFD_FLAG_SEND, which would
   * make bind() return the fd number where it must return 0; the task
   * waits killably (WAIT_KILLABLE_RECV) for the answer below, so the two
   * steps look like one from inside.  Close-on-exec: the app's fd flags
   * cannot be read from here, and a listener inherited across the app's
   * own execve is the rarer need. */
  struct seccomp_notif_addfd add = {.id = n->id,
                                    .flags = SECCOMP_ADDFD_FLAG_SETFD,
                                    .srcfd = (guint32)host,
                                    .newfd = (guint32)target,
                                    .newfd_flags = O_CLOEXEC};
  if (ioctl(l, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0) {
    respond(l, n->id, errno == EMFILE ? EMFILE : EADDRNOTAVAIL, 0);
    return;
  }
  respond(l, n->id, 0, 0);
}

/* connect() -------------------------------------------------------------- */

/* Destinations that stay on the container's own path (libslirp and its
 * rules) under --outbound bypass.  A v4-mapped or v4-compatible IPv6
 * address is another spelling of an IPv4 one: kept too. */
static gboolean outbound_excluded(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    guint32 a = ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);
    return (a >> 24) == 127 || (a >> 24) == 0 || (a >> 28) >= 14 ||
           (a >> 8) == (0x0a000200u >> 8);
  }
  const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
  static const guint8 prefix6[8] = {0xfd, 0, 0, 0, 0, 0, 0, 0};
  return IN6_IS_ADDR_V4MAPPED(a6) || IN6_IS_ADDR_V4COMPAT(a6) ||
         IN6_IS_ADDR_LOOPBACK(a6) || IN6_IS_ADDR_UNSPECIFIED(a6) ||
         IN6_IS_ADDR_MULTICAST(a6) || IN6_IS_ADDR_LINKLOCAL(a6) ||
         memcmp(a6, prefix6, sizeof prefix6) == 0;
}

static Pending *pending_new(UvaUnotify *u, int l, guint64 id) {
  if (u->n_pending == MAX_PENDING)
    return NULL;
  Pending *p = &u->pending[u->n_pending++];
  memset(p, 0, sizeof *p);
  p->listener = l;
  p->id = id;
  p->fd = p->app = p->target_fd = -1;
  return p;
}

static void pending_drop(UvaUnotify *u, Pending *p) {
  uva_close_fdp(&p->fd);
  uva_close_fdp(&p->app);
  *p = u->pending[--u->n_pending];
}

/* connect(fd, to) non-blocking for the call: 0, an errno, or EINPROGRESS
 * (the caller then waits for fd to turn writable). */
static int connect_once(int fd, const struct sockaddr_storage *to,
                        socklen_t len) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return errno;
  if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return errno;
  int err = connect(fd, (const struct sockaddr *)to, len) < 0 ? errno : 0;
  if (!(fl & O_NONBLOCK))
    (void)fcntl(fd, F_SETFL, fl);
  return err;
}

/* The container's socket app connects to to, as the app asked: the
 * answer now, or when it is done for a blocking socket.  Takes app. */
static void container_connect(UvaUnotify *u, int li, guint64 id, int app,
                              const struct sockaddr_storage *to,
                              socklen_t len) {
  int l = u->listeners[li];
  int fl = fcntl(app, F_GETFL);
  int err = connect_once(app, to, len);
  Pending *p;
  if (err == EINPROGRESS && fl >= 0 && !(fl & O_NONBLOCK)) {
    if (!(p = pending_new(u, li, id))) {
      err = EAGAIN;
    } else {
      p->kind = P_CONNECT;
      p->fd = app;
      return;
    }
  }
  close(app);
  respond(l, id, err, 0);
}

/* Outbound: the connected host socket replaces the app's, then the
 * answer.  Its O_NONBLOCK is the app's. */
static void outbound_done(UvaUnotify *u, Pending *p, int err) {
  if (!err) {
    (void)uva_set_nonblock(p->fd, (p->app_flags & O_NONBLOCK) != 0, NULL);
    struct seccomp_notif_addfd add = {.id = p->id,
                                      .flags = SECCOMP_ADDFD_FLAG_SETFD,
                                      .srcfd = (guint32)p->fd,
                                      .newfd = (guint32)p->target_fd,
                                      .newfd_flags = O_CLOEXEC};
    if (ioctl(u->listeners[p->listener], SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0)
      err = errno;
  }
  respond(u->listeners[p->listener], p->id, err, 0);
  pending_drop(u, p);
}

static void serve_connect(UvaUnotify *u, int li,
                          const struct seccomp_notif *n) {
  int l = u->listeners[li];
  int err;
  uva_autofd app = take_file((pid_t)n->pid, (int)n->data.args[0], &err);
  socklen_t len = (socklen_t)n->data.args[2];
  struct sockaddr_storage to = {0};
  int read_err = len > sizeof to ? EINVAL
                 : len == 0
                     ? 0
                     : read_mem((pid_t)n->pid, n->data.args[1], &to, len);
  /* Only now are the file and the address known to be that task's. */
  if (!still_valid(l, n->id))
    return;
  if (app < 0) {
    respond(l, n->id, err == ESRCH ? EBADF : err, 0);
    return;
  }
  guint64 cookie = netns_cookie(app, &err);
  if (err) {
    respond(l, n->id, err, 0); /* ENOTSOCK for a file that is no socket */
    return;
  }
  int family = sock_int(app, SOL_SOCKET, SO_DOMAIN);
  if (cookie != u->cookie || (family != AF_INET && family != AF_INET6)) {
    /* A host socket (the injected listener, one it accepted, an outbound
     * one): no connect() of any kind, AF_UNSPEC included. */
    respond(l, n->id, EPERM, 0);
    return;
  }
  if (read_err) {
    respond(l, n->id, read_err, 0);
    return;
  }
  int fl = fcntl(app, F_GETFL);
  Pending *p;
  if (u->outbound && to.ss_family == family &&
      len >= (family == AF_INET ? sizeof(struct sockaddr_in)
                                : sizeof(struct sockaddr_in6)) &&
      sock_int(app, SOL_SOCKET, SO_TYPE) == SOCK_STREAM &&
      sock_int(app, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP &&
      !outbound_excluded(&to) && (p = pending_new(u, li, n->id))) {
    UvaMsg m = {.type = UVA_MSG_HOSTSOCK_REQ,
                .value = (int32_t)++u->next_req,
                .arg = len};
    memcpy(m.text, &to, len);
    p->kind = P_HOSTSOCK;
    p->req = (guint32)m.value;
    p->app = uva_steal_fd(&app);
    p->target_fd = (int)n->data.args[0];
    p->app_flags = fl < 0 ? 0 : fl;
    p->to = to;
    p->to_len = len;
    if (!uva_msg_send(u->sync_fd, &m, -1, NULL)) {
      respond(l, n->id, ENETUNREACH, 0);
      pending_drop(u, p);
    }
    return;
  }
  container_connect(u, li, n->id, uva_steal_fd(&app), &to, len);
}

void uva_unotify_host_socket(UvaUnotify *u, const UvaMsg *m, int fd) {
  for (int i = 0; i < u->n_pending; i++) {
    Pending *p = &u->pending[i];
    if (p->kind != P_HOSTSOCK || p->req != (guint32)m->value)
      continue;
    int l = u->listeners[p->listener];
    if (fd < 0) {
      /* Refused by the manager: the container's own path, as without
       * bypass. */
      int app = uva_steal_fd(&p->app);
      guint64 id = p->id;
      struct sockaddr_storage to = p->to;
      socklen_t len = p->to_len;
      int li = p->listener;
      pending_drop(u, p);
      (void)l;
      container_connect(u, li, id, app, &to, len);
      return;
    }
    p->fd = fd;
    uva_close_fdp(&p->app);
    int err = connect_once(fd, &p->to, p->to_len);
    if (err == EINPROGRESS) {
      p->kind = P_OUTBOUND;
      return;
    }
    outbound_done(u, p, err);
    return;
  }
  uva_close_fdp(&fd);
}

/* The loop ---------------------------------------------------------------- */

int uva_unotify_fill(UvaUnotify *u, struct pollfd *pfd, int max) {
  int n = 0;
  for (int i = 0; i < MAX_LISTENERS && n < max; i++)
    if (u->listeners[i] >= 0)
      pfd[n++] = (struct pollfd){u->listeners[i], POLLIN, 0};
  for (int i = 0; i < u->n_pending && n < max; i++)
    if (u->pending[i].kind != P_HOSTSOCK)
      pfd[n++] = (struct pollfd){u->pending[i].fd, POLLOUT, 0};
  return n;
}

static void serve_listener(UvaUnotify *u, int li) {
  int l = u->listeners[li];
  struct seccomp_notif n;
  memset(&n, 0, sizeof n); /* the kernel refuses a dirty buffer */
  if (ioctl(l, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0)
    return; /* ENOENT: its task died meanwhile */
  if (n.data.nr == SYS_bind)
    serve_bind(u, l, &n);
  else if (n.data.nr == SYS_connect)
    serve_connect(u, li, &n);
  else
    respond(l, n.id, EPERM, 0); /* the filter sends nothing else */
}

static void listener_gone(UvaUnotify *u, int li) {
  for (int i = u->n_pending - 1; i >= 0; i--)
    if (u->pending[i].listener == li)
      pending_drop(u, &u->pending[i]);
  uva_close_fdp(&u->listeners[li]);
  u->listeners[li] = -1;
}

void uva_unotify_dispatch(UvaUnotify *u, const struct pollfd *pfd, int n) {
  /* Connects that are done first: answering them only closes fds.  Then
   * one notification per ready listener, which may open fds: a number
   * closed above and reused there is never matched against this round's
   * pfd again (the listeners' own fds stay open until the last pass). */
  for (int k = 0; k < n; k++) {
    if (!pfd[k].revents)
      continue;
    for (int i = 0; i < u->n_pending; i++) {
      Pending *p = &u->pending[i];
      if (p->fd != pfd[k].fd || p->kind == P_HOSTSOCK)
        continue;
      int err = sock_int(p->fd, SOL_SOCKET, SO_ERROR);
      if (err < 0)
        err = errno;
      if (p->kind == P_OUTBOUND) {
        outbound_done(u, p, err);
      } else {
        respond(u->listeners[p->listener], p->id, err, 0);
        pending_drop(u, p);
      }
      break;
    }
  }
  int gone[MAX_LISTENERS], n_gone = 0;
  for (int k = 0; k < n; k++) {
    for (int li = 0; pfd[k].revents && li < MAX_LISTENERS; li++) {
      if (u->listeners[li] != pfd[k].fd)
        continue;
      if (pfd[k].revents & POLLIN)
        serve_listener(u, li);
      else if (pfd[k].revents & (POLLHUP | POLLERR | POLLNVAL))
        gone[n_gone++] = li; /* no task uses the filter any more */
    }
  }
  for (int i = 0; i < n_gone; i++)
    listener_gone(u, gone[i]);
}
