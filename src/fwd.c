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
 * Edge-triggered means every handler works until EAGAIN; a connection's two
 * directions are pumped on any event of either socket.  Half-close travels
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
 * UDP: one flow per host peer address, each with its own connected UDP
 * socket inside; flows idle for UDP_IDLE_S are closed. */
#include "fwd.h"

#include "util.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define MAX_DIALS 64
#define PIPE_SIZE (1024 * 1024)
#define PIPE_POOL_MAX 16
#define EPOLL_BATCH 64
#define RETRY_MS 100 /* accept after EMFILE and friends */
#define UDP_QUEUE_MAX 16
#define UDP_IDLE_S 60
#define UDP_SWEEP_S 10
#define UDP_MAX_DGRAM 65535

typedef enum { TAG_TCP_LISTENER, TAG_UDP_LISTENER, TAG_HOST, TAG_GUEST,
               TAG_FLOW } TagKind;
typedef struct {
  TagKind kind;
} Tag;

typedef struct {
  int r, w, cap; /* r < 0: no pipe */
} Pipe;

typedef struct {
  Pipe pipe;
  gsize queued; /* bytes in the pipe */
  gboolean eof; /* the source said EOF */
  gboolean shut; /* ... and it went on as shutdown(SHUT_WR) */
} Dir;

typedef struct {
  Tag tag; /* first: a Listener* is its Tag* */
  UvaFwd *fwd;
  UvaPublish pub;
  int fd;
  GHashTable *flows; /* UDP: GBytes peer sockaddr -> Flow */
} Listener;

typedef struct {
  Tag host_tag, guest_tag;
  UvaFwd *fwd;
  guint32 id;
  int host, guest; /* guest < 0 while init dials */
  gboolean dialing, connecting, dead;
  Dir up, down; /* host -> guest, guest -> host */
} Conn;

/* The struct that holds a tag (the tag's address is the epoll cookie). */
#define CONN_OF(t, member) ((Conn *)(void *)((char *)(t)-offsetof(Conn, member)))

typedef struct {
  Tag tag; /* first: a Flow* is its Tag* */
  Listener *l;
  guint32 id;
  GBytes *key; /* the peer's sockaddr */
  int fd;      /* < 0 while init dials */
  gboolean dialing;
  GQueue pending; /* GBytes datagrams that came before the socket */
  gint64 last_used;
} Flow;

struct UvaFwd {
  char *name;
  UvaFwdDialFunc dial;
  gpointer dial_data;
  int epfd;
  guint watch, retry_timer, sweep_timer;
  gboolean started, throttled;
  GPtrArray *listeners;
  GHashTable *conns;   /* set of Conn* */
  GHashTable *dialing; /* id -> Tag* of a Conn (host_tag) or a Flow */
  GPtrArray *dead;     /* closed Conns, freed after the epoll batch */
  GArray *pool;        /* of Pipe */
  guint32 next_id;
  guint inflight;
  guint flow_count;
  guint8 *dgram;
};

/* Pipes ---------------------------------------------------------------- */

static gboolean pipe_get(UvaFwd *f, Pipe *p) {
  if (f->pool->len > 0) {
    *p = g_array_index(f->pool, Pipe, f->pool->len - 1);
    g_array_set_size(f->pool, f->pool->len - 1);
    return TRUE;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
    return FALSE;
  /* A larger pipe moves more per splice.  Past the per-user quota the
   * kernel refuses (EPERM) and the default 64 KiB stays: still correct. */
  int cap = fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE);
  if (cap < 0)
    cap = fcntl(fds[1], F_GETPIPE_SZ);
  *p = (Pipe){fds[0], fds[1], cap > 0 ? cap : 65536};
  return TRUE;
}

static void pipe_close(Pipe *p) {
  uva_close_fdp(&p->r);
  uva_close_fdp(&p->w);
  p->r = p->w = -1;
}

/* Only empty pipes come back: the pool never mixes two streams. */
static void pipe_put(UvaFwd *f, Pipe *p) {
  if (f->pool->len < PIPE_POOL_MAX)
    g_array_append_val(f->pool, *p);
  else
    pipe_close(p);
  p->r = p->w = -1;
}

/* Helpers -------------------------------------------------------------- */

static gboolean ep_add(UvaFwd *f, int fd, guint32 events, Tag *tag) {
  struct epoll_event ev = {.events = events, .data.ptr = tag};
  return epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

/* close() removes an fd from an epoll set only when it drops the file's
 * last reference (epoll(7), Q6).  A socket from init is also init's until
 * init's close() after sendmsg, which can come later than ours on a short
 * connection; without this its next event would name a freed Conn. */
static void ep_del(UvaFwd *f, int fd) {
  if (fd >= 0)
    (void)epoll_ctl(f->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void set_nodelay(int fd) {
  /* The forwarder sends what it gets at once; Nagle would hold back the
   * tail of every response by one round trip. */
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* close() with SO_LINGER {1, 0} sends RST instead of FIN (socket(7)). */
static void close_reset(int *fd) {
  if (*fd < 0)
    return;
  struct linger lg = {1, 0};
  (void)setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  uva_close_fdp(fd);
  *fd = -1;
}

static guint32 next_id(UvaFwd *f) {
  if (++f->next_id == 0)
    f->next_id = 1;
  return f->next_id;
}

/* TCP connections ------------------------------------------------------ */

static void conn_close(Conn *c, gboolean reset) {
  UvaFwd *f = c->fwd;
  if (c->dead)
    return;
  c->dead = TRUE;
  if (c->dialing) {
    g_hash_table_remove(f->dialing, GUINT_TO_POINTER(c->id));
    f->inflight--;
  }
  ep_del(f, c->guest);
  if (reset) {
    close_reset(&c->host);
    close_reset(&c->guest);
  } else {
    uva_close_fdp(&c->host);
    uva_close_fdp(&c->guest);
  }
  c->host = c->guest = -1;
  /* A pipe with bytes left belongs to this stream only: closed, not
   * pooled. */
  for (Dir *d = &c->up; d; d = d == &c->up ? &c->down : NULL) {
    if (d->pipe.r >= 0 && d->queued == 0)
      pipe_put(f, &d->pipe);
    else
      pipe_close(&d->pipe);
  }
  g_hash_table_remove(f->conns, c);
  /* The current epoll batch may still name c: freed after it. */
  g_ptr_array_add(f->dead, c);
}

/* Moves what src has into dst until neither side can go on.  Returns 0, or
 * the errno that ends the connection.  edge: called for a plain EPOLLIN
 * edge of src (no RDHUP, HUP or ERR with it). */
static int pump(UvaFwd *f, int src, int dst, Dir *d, gboolean edge) {
  gboolean drained = FALSE;
  for (;;) {
    gboolean progress = FALSE;
    if (!d->eof && !drained) {
      if (d->pipe.r < 0 && !pipe_get(f, &d->pipe))
        return errno;
      if (d->queued < (gsize)d->pipe.cap) {
        gsize want = (gsize)d->pipe.cap - d->queued;
        ssize_t n = splice(src, NULL, d->pipe.w, NULL, want,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
          d->queued += (gsize)n;
          progress = TRUE;
          /* A short read with the pipe mostly free emptied the socket.
           * Whatever arrives after the epoll_wait that reported this edge
           * raises a new one, so the read that would only say EAGAIN is
           * skipped: one syscall less per message.  Not when the edge came
           * with RDHUP: a FIN queued before it raises no edge of its own. */
          if (edge && (gsize)n < want && d->queued < (gsize)d->pipe.cap / 2)
            drained = TRUE;
        } else if (n == 0) {
          d->eof = TRUE;
          progress = TRUE;
        } else if (errno != EAGAIN && errno != EINTR) {
          return errno;
        }
        /* EAGAIN: the socket is empty, or the pipe's slots are full (a
         * slot holds one page fragment, so that can happen before cap
         * bytes); draining below sorts out which. */
      }
    }
    if (d->queued > 0) {
      ssize_t n = splice(d->pipe.r, NULL, dst, NULL, d->queued,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->queued -= (gsize)n;
        progress = TRUE;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return errno;
      }
    }
    if (d->eof && d->queued == 0 && !d->shut) {
      /* Half-close: this direction ends, the other keeps flowing. */
      if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN)
        return errno;
      d->shut = TRUE;
    }
    if (!progress)
      break;
  }
  if (d->queued == 0 && d->pipe.r >= 0)
    pipe_put(f, &d->pipe);
  return 0;
}

static void conn_settle(Conn *c, int err) {
  if (err != 0)
    conn_close(c, TRUE);
  else if (c->up.shut && c->down.shut)
    conn_close(c, FALSE);
}

/* Both directions, from whatever state: after the connect completes. */
static void conn_pump(Conn *c) {
  int err = pump(c->fwd, c->host, c->guest, &c->up, FALSE);
  if (err == 0)
    err = pump(c->fwd, c->guest, c->host, &c->down, FALSE);
  conn_settle(c, err);
}

static void conn_event(Conn *c, gboolean guest_side, guint32 events) {
  if (c->dead || c->guest < 0)
    return; /* still dialing: the host's bytes wait in its socket */
  if (c->connecting) {
    if (!guest_side)
      return;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(c->guest, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
      soerr = errno;
    if (soerr != 0) {
      conn_close(c, TRUE);
      return;
    }
    if (!(events & EPOLLOUT))
      return;
    c->connecting = FALSE;
    conn_pump(c);
    return;
  }
  /* A reset socket ends the connection now, even when neither direction
   * would touch it (say, its pipe is full toward an app that stopped
   * reading): otherwise it would linger until that app wakes up. */
  if (events & EPOLLERR) {
    int soerr = 0;
    socklen_t len = sizeof soerr;
    (void)getsockopt(guest_side ? c->guest : c->host, SOL_SOCKET, SO_ERROR,
                     &soerr, &len);
    if (soerr != 0) {
      conn_close(c, TRUE);
      return;
    }
  }
  /* Only the directions this event concerns: the one this socket feeds
   * when it is readable, the one it drains when it is writable. */
  const guint32 bad = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  int self = guest_side ? c->guest : c->host;
  int other = guest_side ? c->host : c->guest;
  Dir *from = guest_side ? &c->down : &c->up;
  Dir *to = guest_side ? &c->up : &c->down;
  int err = 0;
  if (events & (EPOLLIN | bad))
    err = pump(c->fwd, self, other, from, !(events & bad));
  /* Writable matters only to bytes that wait in the pipe for this socket.
   * With an empty pipe the other socket's own EPOLLIN edge brings its
   * bytes; pumping here too would find them first with a read that cannot
   * take the no-EAGAIN shortcut, and the EPOLLIN that follows in the same
   * batch would read nothing: two wasted splices per message, since every
   * ACK raises an EPOLLOUT edge. */
  if (err == 0 && (events & (EPOLLHUP | EPOLLERR) ||
                   (events & EPOLLOUT && to->queued > 0)))
    err = pump(c->fwd, other, self, to, FALSE);
  conn_settle(c, err);
}

static void conn_new(Listener *l, int fd) {
  UvaFwd *f = l->fwd;
  Conn *c = g_new0(Conn, 1);
  c->host_tag.kind = TAG_HOST;
  c->guest_tag.kind = TAG_GUEST;
  c->fwd = f;
  c->host = fd;
  c->guest = -1;
  c->up.pipe = c->down.pipe = (Pipe){-1, -1, 0};
  c->id = next_id(f);
  g_hash_table_add(f->conns, c);
  set_nodelay(fd);
  if (!ep_add(f, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->host_tag)) {
    conn_close(c, TRUE);
    return;
  }
  c->dialing = TRUE;
  f->inflight++;
  g_hash_table_insert(f->dialing, GUINT_TO_POINTER(c->id), &c->host_tag);
  if (!f->dial(c->id, l->pub.container_port, FALSE, f->dial_data))
    conn_close(c, TRUE);
}

static void conn_dialed(Conn *c, int fd) {
  c->dialing = FALSE;
  c->fwd->inflight--;
  if (fd < 0) {
    conn_close(c, TRUE);
    return;
  }
  c->guest = fd;
  c->connecting = TRUE;
  set_nodelay(fd);
  if (!ep_add(c->fwd, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
              &c->guest_tag))
    conn_close(c, TRUE);
}

/* UDP flows ------------------------------------------------------------ */

static void flow_free(gpointer data) {
  Flow *fl = data;
  UvaFwd *f = fl->l->fwd;
  if (fl->dialing) {
    g_hash_table_remove(f->dialing, GUINT_TO_POINTER(fl->id));
    f->inflight--;
  }
  ep_del(f, fl->fd);
  uva_close_fdp(&fl->fd);
  g_queue_clear_full(&fl->pending, (GDestroyNotify)g_bytes_unref);
  g_bytes_unref(fl->key);
  f->flow_count--;
  g_free(fl);
}

static void flow_send(Flow *fl, const void *buf, gsize len) {
  /* UDP may drop; a full socket or an ICMP error from inside drops this
   * datagram only. */
  (void)send(fl->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void flow_dialed(Flow *fl, int fd) {
  UvaFwd *f = fl->l->fwd;
  fl->dialing = FALSE;
  f->inflight--;
  if (fd < 0) {
    g_hash_table_remove(fl->l->flows, fl->key); /* frees fl */
    return;
  }
  fl->fd = fd;
  if (!ep_add(f, fd, EPOLLIN | EPOLLET, &fl->tag)) {
    g_hash_table_remove(fl->l->flows, fl->key);
    return;
  }
  GBytes *b;
  while ((b = g_queue_pop_head(&fl->pending))) {
    gsize len;
    const void *data = g_bytes_get_data(b, &len);
    flow_send(fl, data, len);
    g_bytes_unref(b);
  }
}

/* Replies from inside go back to the peer from the published address. */
static void flow_event(Flow *fl) {
  UvaFwd *f = fl->l->fwd;
  gsize key_len;
  const void *peer = g_bytes_get_data(fl->key, &key_len);
  for (;;) {
    ssize_t n = recv(fl->fd, f->dgram, UDP_MAX_DGRAM, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      break;
    if (n < 0)
      continue; /* ECONNREFUSED: nothing listens inside yet */
    (void)sendto(fl->l->fd, f->dgram, (gsize)n, MSG_DONTWAIT | MSG_NOSIGNAL,
                 peer, (socklen_t)key_len);
    fl->last_used = g_get_monotonic_time();
  }
}

static void udp_ready(Listener *l) {
  UvaFwd *f = l->fwd;
  for (;;) {
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    ssize_t n = recvfrom(l->fd, f->dgram, UDP_MAX_DGRAM, MSG_DONTWAIT,
                         (struct sockaddr *)&peer, &plen);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return;
    g_autoptr(GBytes) key = g_bytes_new(&peer, plen);
    Flow *fl = g_hash_table_lookup(l->flows, key);
    if (!fl) {
      if (f->inflight >= MAX_DIALS)
        continue; /* dropped, as a full queue would */
      fl = g_new0(Flow, 1);
      fl->tag.kind = TAG_FLOW;
      fl->l = l;
      fl->fd = -1;
      fl->key = g_bytes_ref(key);
      fl->id = next_id(f);
      g_queue_init(&fl->pending);
      f->flow_count++;
      g_hash_table_insert(l->flows, fl->key, fl);
      fl->dialing = TRUE;
      f->inflight++;
      g_hash_table_insert(f->dialing, GUINT_TO_POINTER(fl->id), &fl->tag);
      if (!f->dial(fl->id, l->pub.container_port, TRUE, f->dial_data)) {
        g_hash_table_remove(l->flows, key);
        continue;
      }
    }
    fl->last_used = g_get_monotonic_time();
    if (fl->fd >= 0)
      flow_send(fl, f->dgram, (gsize)n);
    else if (fl->pending.length < UDP_QUEUE_MAX)
      g_queue_push_tail(&fl->pending, g_bytes_new(f->dgram, (gsize)n));
  }
}

static gboolean on_sweep(gpointer data) {
  UvaFwd *f = data;
  gint64 limit = g_get_monotonic_time() - UDP_IDLE_S * G_USEC_PER_SEC;
  for (guint i = 0; i < f->listeners->len; i++) {
    Listener *l = f->listeners->pdata[i];
    if (!l->flows)
      continue;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, l->flows);
    while (g_hash_table_iter_next(&it, NULL, &value))
      if (((Flow *)value)->last_used < limit && !((Flow *)value)->dialing)
        g_hash_table_iter_remove(&it);
  }
  return G_SOURCE_CONTINUE;
}

/* Listeners ------------------------------------------------------------ */

static gboolean on_retry(gpointer data);

static void tcp_ready(Listener *l) {
  UvaFwd *f = l->fwd;
  while (f->inflight < MAX_DIALS) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      conn_new(l, fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED)
      continue;
    if (errno == EAGAIN)
      return;
    /* EMFILE, ENFILE, ENOBUFS: the client stays in the backlog; retry on
     * a timer instead of spinning on a listener that stays readable. */
    if (!f->retry_timer)
      f->retry_timer = g_timeout_add(RETRY_MS, on_retry, f);
    return;
  }
  /* Edge-triggered: no new event comes for clients already queued, so
   * whoever lowers inflight runs accept_all(). */
  f->throttled = TRUE;
}

static void accept_all(UvaFwd *f) {
  if (!f->started)
    return;
  f->throttled = FALSE;
  for (guint i = 0; i < f->listeners->len; i++) {
    Listener *l = f->listeners->pdata[i];
    if (l->tag.kind == TAG_TCP_LISTENER)
      tcp_ready(l);
    else
      udp_ready(l);
  }
}

static gboolean on_retry(gpointer data) {
  UvaFwd *f = data;
  f->retry_timer = 0;
  accept_all(f);
  return G_SOURCE_REMOVE;
}

static void reap_dead(UvaFwd *f) {
  for (guint i = 0; i < f->dead->len; i++)
    g_free(f->dead->pdata[i]);
  g_ptr_array_set_size(f->dead, 0);
}

static gboolean on_epoll(int fd, GIOCondition cond, gpointer data) {
  UvaFwd *f = data;
  (void)cond;
  struct epoll_event evs[EPOLL_BATCH];
  int n = epoll_wait(fd, evs, EPOLL_BATCH, 0);
  for (int i = 0; i < n; i++) {
    Tag *t = evs[i].data.ptr;
    switch (t->kind) {
    case TAG_TCP_LISTENER:
      if (f->started)
        tcp_ready((Listener *)t);
      break;
    case TAG_UDP_LISTENER:
      if (f->started)
        udp_ready((Listener *)t);
      break;
    case TAG_HOST:
      conn_event(CONN_OF(t, host_tag), FALSE, evs[i].events);
      break;
    case TAG_GUEST:
      conn_event(CONN_OF(t, guest_tag), TRUE, evs[i].events);
      break;
    case TAG_FLOW:
      flow_event((Flow *)t);
      break;
    }
  }
  reap_dead(f);
  if (f->throttled && f->inflight < MAX_DIALS)
    accept_all(f);
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
  f->pool = g_array_new(FALSE, FALSE, sizeof(Pipe));
  f->watch = uva_fd_watch_hot(epfd, G_IO_IN, G_PRIORITY_DEFAULT, on_epoll, f);
  return f;
}

gboolean uva_fwd_publish(UvaFwd *f, const UvaPublish *p, GError **error) {
  int family = p->host.ss_family;
  uva_autofd fd = socket(family, (p->udp ? SOCK_DGRAM : SOCK_STREAM) |
                                     SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
  if (!p->udp && listen(fd, SOMAXCONN) < 0)
    return uva_fail_errno(error, errno, "%s: listen", f->name);
  if (p->udp)
    f->dgram = f->dgram ? f->dgram : g_malloc(UDP_MAX_DGRAM);
  Listener *l = g_new0(Listener, 1);
  l->tag.kind = p->udp ? TAG_UDP_LISTENER : TAG_TCP_LISTENER;
  l->fwd = f;
  l->pub = *p;
  if (p->udp) {
    l->flows = g_hash_table_new_full(g_bytes_hash, g_bytes_equal, NULL,
                                     flow_free);
    if (!f->sweep_timer)
      f->sweep_timer = g_timeout_add_seconds(UDP_SWEEP_S, on_sweep, f);
  }
  if (!ep_add(f, fd, EPOLLIN | EPOLLET, &l->tag)) {
    int err = errno;
    if (l->flows)
      g_hash_table_unref(l->flows);
    g_free(l);
    return uva_fail_errno(error, err, "%s: epoll_ctl", f->name);
  }
  l->fd = uva_steal_fd(&fd);
  g_ptr_array_add(f->listeners, l);
  return TRUE;
}

void uva_fwd_start(UvaFwd *f) {
  f->started = TRUE;
  accept_all(f);
}

void uva_fwd_dialed(UvaFwd *f, guint32 id, int fd, int err) {
  (void)err; /* the client sees a reset (TCP) or silence (UDP) either way */
  Tag *t = g_hash_table_lookup(f->dialing, GUINT_TO_POINTER(id));
  if (!t) {
    uva_close_fdp(&fd);
    return;
  }
  g_hash_table_remove(f->dialing, GUINT_TO_POINTER(id));
  if (t->kind == TAG_HOST)
    conn_dialed(CONN_OF(t, host_tag), fd);
  else
    flow_dialed((Flow *)t, fd);
  reap_dead(f);
  if (f->throttled && f->inflight < MAX_DIALS)
    accept_all(f);
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
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, f->conns);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    g_hash_table_iter_steal(&it);
    ((Conn *)key)->dialing = FALSE;
    conn_close(key, TRUE);
  }
  for (guint i = 0; i < f->listeners->len; i++) {
    Listener *l = f->listeners->pdata[i];
    if (l->flows)
      g_hash_table_unref(l->flows);
    uva_close_fdp(&l->fd);
    g_free(l);
  }
  reap_dead(f);
  for (guint i = 0; i < f->pool->len; i++)
    pipe_close(&g_array_index(f->pool, Pipe, i));
  g_ptr_array_unref(f->listeners);
  g_hash_table_unref(f->conns);
  g_hash_table_unref(f->dialing);
  g_ptr_array_unref(f->dead);
  g_array_unref(f->pool);
  uva_close_fdp(&f->epfd);
  g_free(f->dgram);
  g_free(f->name);
  g_free(f);
}
