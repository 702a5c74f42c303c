/* fwd.c - the splice port driver.
 *
 * libslirp's host forwarding sends every forwarded byte through its
 * user-mode TCP (64 KiB window, no window scaling, listen backlog 1).  Like
 * rootlesskit's builtin driver and pasta's spliced loopback, this driver
 * never does: the manager accepts on the host address with a real backlog,
 * the container's init connects to 127.0.0.1:PORT inside the container and
 * hands the socket back (SCM_RIGHTS), and the two kernel sockets are joined
 * with splice(2) through a pipe per direction, so the bytes never enter
 * user space.
 *
 * One epoll set per container, edge-triggered, is one fd on the GLib loop.
 * Edge-triggered means every handler works until EAGAIN, or until its
 * budget is spent and it re-arms (below); a connection's two directions
 * are pumped on any event of either socket.  Half-close travels
 * as shutdown(SHUT_WR); an error on one side resets the other (SO_LINGER
 * 0), and a refused connect inside resets the host client, as a direct
 * connection would.
 *
 * At most MAX_DIALS connects per container wait for init; the rest wait in
 * the listen backlog (SOMAXCONN), so a flood never makes the manager or
 * init block on the sync socket.  Pipes come from a small pool and go back
 * as soon as they are empty: an idle connection holds no pipe, so a
 * thousand idle keep-alive clients do not exhaust the per-user pipe quota
 * (pipe-user-pages-soft, pipe(7)).
 *
 * UDP (fwdudp.c): one flow per host peer address, each with its own
 * connected UDP socket inside.
 *
 * Files: this one has the API, the listeners (accept, the reserve fd) and
 * the epoll loop that dispatches to fwdtcp.c (a connection's two sockets
 * and pipes) and fwdudp.c (flows); fwdcore.h has the types and budgets
 * the three share, fwdcore.c the epoll and warning helpers.  Calls go
 * down only: fwd -> fwdtcp, fwdudp -> fwdcore.
 *
 * Budgets, so that one client or container never takes the loop or the
 * manager's fds from the others (issue 12):
 *  - at most CONN_MAX connections per published TCP port; past it the
 *    listener is not accepted from until one closes.  The clients wait in
 *    the kernel's backlog (SOMAXCONN, SYN cookies past it), cost the
 *    manager nothing, and are served as slots free; a reset would turn a
 *    legitimate burst into errors;
 *  - at most FLOW_MAX UDP flows per port, the least recently used evicted
 *    (fwdudp.c);
 *  - at most QUEUE_MAX bytes in a container's pipes (a stalled reader
 *    holds up to a pipe per direction) and UDP_PENDING_MAX bytes of
 *    datagrams waiting for a flow's socket;
 *  - per wakeup, PUMP_BUDGET bytes per connection and direction, and
 *    ACCEPT_BUDGET accepts or datagrams per socket; DISPATCH_BUDGET bytes
 *    per epoll batch of a container, so that 64 busy connections of one
 *    container do not hold the loop for 64 budgets before the others.
 *    Whatever is left is re-armed with EPOLL_CTL_MOD, which re-checks
 *    readiness and queues the edge again at the tail of the ready list
 *    (ep_modify in fs/eventpoll.c): the rest is served next round, after
 *    the others, for one syscall and no ready list of our own;
 *  - EMFILE ends one connection: a reserve fd (/dev/null) is closed to
 *    accept and reset the client, then reopened, so a listener at the fd
 *    limit neither spins nor strands its backlog.
 * Hitting a cap prints one line per container and cap per WARN_S. */
#include "net/fwd.h"

#include "base/util.h"
#include "net/fwdcore.h"
#include "net/fwdtcp.h"
#include "net/fwdudp.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define CONN_MAX 1024
#define DISPATCH_BUDGET (4 * 1024 * 1024)
#define EPOLL_BATCH 64
#define RETRY_MS 100 /* accept after EMFILE and friends */
#define UDP_SWEEP_S 10

/* The manager's reserve fd and how many forwarders share it. */
static int reserve_fd = -1;
static guint reserve_users;

static void reserve_open(void) {
  if (reserve_fd < 0)
    reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void reap_dead(UvaFwd *f) {
  for (guint i = 0; i < f->dead->len; i++)
    g_free(f->dead->pdata[i]);
  g_ptr_array_set_size(f->dead, 0);
}

static gboolean on_sweep(gpointer data) {
  UvaFwd *f = data;
  uva_fwdudp_sweep(f);
  reap_dead(f);
  return G_SOURCE_CONTINUE;
}

/* Listeners ------------------------------------------------------------ */

static gboolean on_retry(gpointer data);

/* At the fd limit accept() fails with EMFILE and the listener stays
 * readable: with nothing to close, the loop would spin or strand the
 * backlog.  The reserve fd makes room for one accept, whose client is
 * reset at once, then comes back (the trick libuv and nginx use).
 * accept() reserves the fd before it looks at the backlog, so EMFILE says
 * nothing about waiting clients.  Returns 0 when a client was shed, else
 * the errno of that accept (EAGAIN: nobody waits; EMFILE: no reserve). */
static int shed_one(Listener *l, int err) {
  if (reserve_fd < 0)
    return err;
  uva_close_fdp(&reserve_fd);
  reserve_fd = -1;
  int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  int accept_err = fd < 0 ? errno : 0;
  uva_fwdcore_close_reset(&fd);
  reserve_open();
  if (accept_err == 0) {
    g_autofree char *where = uva_publish_host_string(&l->pub);
    g_autofree char *what = g_strdup_printf("accept on %s", where);
    uva_fwdcore_warn_fds(l->fwd, err, what);
  }
  return accept_err;
}

static void tcp_ready(Listener *l) {
  UvaFwd *f = l->fwd;
  for (int i = 0; i < ACCEPT_BUDGET; i++) {
    if (f->inflight >= MAX_DIALS || l->conns >= CONN_MAX) {
      /* Edge-triggered: no new event comes for clients already queued,
       * so resume_accept() calls again when a dial or connection ends. */
      l->blocked = TRUE;
      if (l->conns >= CONN_MAX) {
        g_autofree char *where = uva_publish_host_string(&l->pub);
        uva_fwdcore_warn_cap(f, CAP_CONNS,
                             "%u connections on %s (the cap): new ones wait in "
                             "the backlog until one closes",
                             CONN_MAX, where);
      }
      return;
    }
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd = accept4(l->fd, (struct sockaddr *)&peer, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      gboolean v4 =
          len >= sizeof(struct sockaddr_in) && peer.ss_family == AF_INET;
      uva_fwdtcp_new(l, fd, v4 ? (const struct sockaddr_in *)&peer : NULL);
      continue;
    }
    int err = errno;
    if (err == EINTR || err == ECONNABORTED)
      continue;
    if (err == EAGAIN)
      return;
    if (err == EMFILE || err == ENFILE) {
      err = shed_one(l, err);
      if (err == 0 || err == EINTR || err == ECONNABORTED)
        continue;
      if (err == EAGAIN)
        return;
    }
    /* ENOBUFS, ENOMEM, or no reserve: the client stays in the backlog;
     * retry on a timer instead of spinning on a listener that stays
     * readable. */
    uva_fwdcore_warn_fds(f, err, "accept");
    if (!f->retry_timer)
      f->retry_timer = g_timeout_add(RETRY_MS, on_retry, f);
    return;
  }
  /* more next round */
  (void)uva_fwdcore_rearm(f, l->fd, EPOLLIN | EPOLLET, &l->tag);
}

/* A dial or a connection ended: blocked listeners may accept again. */
static void resume_accept(UvaFwd *f) {
  if (!f->started || f->inflight >= MAX_DIALS)
    return;
  for (guint i = 0; i < f->listeners->len; i++) {
    Listener *l = f->listeners->pdata[i];
    if (l->blocked && l->listening && l->conns < CONN_MAX) {
      l->blocked = FALSE;
      tcp_ready(l);
    }
  }
}

static void accept_all(UvaFwd *f) {
  if (!f->started)
    return;
  for (guint i = 0; i < f->listeners->len; i++) {
    Listener *l = f->listeners->pdata[i];
    l->blocked = FALSE;
    if (!l->listening)
      continue;
    if (l->tag.kind == TAG_TCP_LISTENER)
      tcp_ready(l);
    else
      uva_fwdudp_ready(l);
  }
}

static gboolean on_retry(gpointer data) {
  UvaFwd *f = data;
  f->retry_timer = 0;
  accept_all(f);
  return G_SOURCE_REMOVE;
}

/* An event taken from epoll but not served: registered again, so that the
 * kernel queues it anew if the fd is still ready (see uva_fwdcore_rearm()). */
static void tag_rearm(UvaFwd *f, Tag *t) {
  const guint32 in = EPOLLIN | EPOLLET;
  switch (t->kind) {
  case TAG_TCP_LISTENER:
  case TAG_UDP_LISTENER:
    (void)uva_fwdcore_rearm(f, ((Listener *)t)->fd, in, t);
    break;
  case TAG_HOST:
  case TAG_GUEST:
    uva_fwdtcp_rearm(f, t);
    break;
  case TAG_FLOW:
    /* fd -1 once dead: a no-op */
    (void)uva_fwdcore_rearm(f, ((Flow *)t)->fd, in, t);
    break;
  }
}

static gboolean on_epoll(int fd, GIOCondition cond, gpointer data) {
  UvaFwd *f = data;
  (void)cond;
  struct epoll_event evs[EPOLL_BATCH];
  int n = epoll_wait(fd, evs, EPOLL_BATCH, 0);
  f->dispatched = 0;
  for (int i = 0; i < n; i++) {
    Tag *t = evs[i].data.ptr;
    if (f->dispatched >= DISPATCH_BUDGET) {
      tag_rearm(f, t); /* next round, after the other sources */
      continue;
    }
    switch (t->kind) {
    case TAG_TCP_LISTENER:
      if (f->started)
        tcp_ready((Listener *)t);
      break;
    case TAG_UDP_LISTENER:
      if (f->started)
        uva_fwdudp_ready((Listener *)t);
      break;
    case TAG_HOST:
    case TAG_GUEST:
      uva_fwdtcp_event(t, evs[i].events);
      break;
    case TAG_FLOW:
      uva_fwdudp_event((Flow *)t);
      break;
    }
  }
  reap_dead(f);
  resume_accept(f);
  return G_SOURCE_CONTINUE;
}

/* API ------------------------------------------------------------------ */

UvaFwd *uva_fwd_new(const char *name, UvaFwdDialFunc dial, gpointer data,
                    GError **error) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    uva_fail_errno(error, errno, "%s: epoll_create1", name);
    return NULL;
  }
  UvaFwd *f = g_new0(UvaFwd, 1);
  f->name = g_strdup(name);
  f->dial = dial;
  f->dial_data = data;
  f->epfd = epfd;
  f->listeners = g_ptr_array_new();
  f->conns = g_hash_table_new(NULL, NULL);
  f->dialing = g_hash_table_new(NULL, NULL);
  f->dead = g_ptr_array_new();
  f->pool = uva_fwdtcp_pool_new();
  g_queue_init(&f->starved);
  reserve_open();
  reserve_users++;
  f->watch = uva_fd_watch_hot(epfd, G_IO_IN, G_PRIORITY_DEFAULT, on_epoll, f);
  return f;
}

gboolean uva_fwd_publish(UvaFwd *f, UvaPublish *p, GError **error) {
  int family = p->host.ss_family;
  uva_autofd fd = socket(
      family,
      (p->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return uva_fail_errno(error, errno, "%s: socket", f->name);
  int one = 1;
  /* Rebinding right after a restart must not fail on TIME_WAIT. */
  if (!p->udp)
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* [::]:P means IPv6 only, so that 0.0.0.0:P can be published apart. */
  if (family == AF_INET6)
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (const struct sockaddr *)&p->host, p->host_len) < 0)
    return uva_publish_bind_error(f->name, p, errno, error);
  /* Bound and not yet listening, with SO_REUSEADDR a second socket could
   * bind the same port (the kernel's bind conflict check lets two
   * SO_REUSEADDR sockets share a port while neither listens,
   * inet_csk_bind_conflict()): off until listen, so the port is ours
   * alone from here on.  It is set again just before listen(), whose own
   * conflict check would otherwise trip on TIME_WAIT sockets. */
  int zero = 0;
  if (!p->udp)
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof zero);
  /* `-p 8080` alone: the kernel chose the host port; the spec, and so
   * the banner and `ps`, learn it here. */
  socklen_t len = p->host_len;
  if (uva_publish_host_port(p) == 0 &&
      getsockname(fd, (struct sockaddr *)&p->host, &len) < 0)
    return uva_fail_errno(error, errno, "%s: getsockname", f->name);
  if (p->udp)
    f->dgram = f->dgram ? f->dgram : g_malloc(UDP_MAX_DGRAM);
  Listener *l = g_new0(Listener, 1);
  l->tag.kind = p->udp ? TAG_UDP_LISTENER : TAG_TCP_LISTENER;
  l->fwd = f;
  l->pub = *p;
  l->fd = uva_steal_fd(&fd);
  g_ptr_array_add(f->listeners, l);
  if (p->udp) {
    l->flows = uva_fwdudp_flows_new();
    if (!f->sweep_timer)
      f->sweep_timer = g_timeout_add_seconds(UDP_SWEEP_S, on_sweep, f);
    l->listening = TRUE;
    if (!uva_fwdcore_ep_add(f, l->fd, EPOLLIN | EPOLLET, &l->tag))
      return uva_fail_errno(error, errno, "%s: epoll_ctl", f->name);
  }
  return TRUE;
}

/* Bound, not listening, until the app listens inside: meanwhile a client
 * is refused (RST, ECONNREFUSED), as when connecting to the app directly,
 * so that `curl --retry-connrefused` and the like wait, instead of being
 * accepted and then reset. */
gboolean uva_fwd_listen(UvaFwd *f, guint16 container_port, GError **error) {
  for (guint i = 0; i < f->listeners->len; i++) {
    Listener *l = f->listeners->pdata[i];
    if (l->listening || l->pub.udp || l->pub.container_port != container_port)
      continue;
    int one = 1;
    (void)setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (listen(l->fd, SOMAXCONN) < 0)
      return uva_fail_errno(error, errno, "%s: listen", f->name);
    if (!uva_fwdcore_ep_add(f, l->fd, EPOLLIN | EPOLLET, &l->tag))
      return uva_fail_errno(error, errno, "%s: epoll_ctl", f->name);
    l->listening = TRUE;
    if (f->started)
      tcp_ready(l);
  }
  return TRUE;
}

void uva_fwd_listener_fds(const UvaFwd *f, GArray *fds) {
  for (guint i = 0; f && i < f->listeners->len; i++) {
    const Listener *l = f->listeners->pdata[i];
    if (!l->pub.udp && !l->listening)
      g_array_append_val(fds, l->fd);
  }
}

void uva_fwd_start(UvaFwd *f) {
  f->started = TRUE;
  accept_all(f);
}

void uva_fwd_dialed(UvaFwd *f, guint32 id, int fd, int err) {
  /* The client sees a reset (TCP) or silence (UDP) either way; err only
   * decides whether a cap line is due. */
  Tag *t = g_hash_table_lookup(f->dialing, GUINT_TO_POINTER(id));
  if (!t) {
    uva_close_fdp(&fd);
    return;
  }
  g_hash_table_remove(f->dialing, GUINT_TO_POINTER(id));
  if (t->kind == TAG_HOST)
    uva_fwdtcp_dialed(t, fd, err);
  else
    uva_fwdudp_dialed((Flow *)t, fd, err);
  reap_dead(f);
  resume_accept(f);
}

guint uva_fwd_count(const UvaFwd *f) {
  return g_hash_table_size(f->conns) + f->flow_count;
}

void uva_fwd_free(UvaFwd *f) {
  if (!f)
    return;
  if (f->watch)
    g_source_remove(f->watch);
  if (f->retry_timer)
    g_source_remove(f->retry_timer);
  if (f->sweep_timer)
    g_source_remove(f->sweep_timer);
  uva_fwdtcp_close_all(f);
  for (guint i = 0; i < f->listeners->len; i++) {
    Listener *l = f->listeners->pdata[i];
    if (l->flows)
      g_hash_table_unref(l->flows);
    uva_close_fdp(&l->fd);
    g_free(l);
  }
  reap_dead(f);
  uva_fwdtcp_pool_close(f);
  g_ptr_array_unref(f->listeners);
  g_hash_table_unref(f->conns);
  g_hash_table_unref(f->dialing);
  g_ptr_array_unref(f->dead);
  g_array_unref(f->pool);
  uva_close_fdp(&f->epfd);
  if (--reserve_users == 0) {
    uva_close_fdp(&reserve_fd);
    reserve_fd = -1;
  }
  g_free(f->dgram);
  g_free(f->name);
  g_free(f);
}
