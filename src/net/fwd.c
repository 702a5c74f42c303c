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
 * connected UDP socket inside; fwdudp.h has the types both files share.
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
#include "net/fwdudp.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define CONN_MAX 1024
#define PIPE_SIZE (1024 * 1024)
#define SHORT_READ 4096 /* see pump(): a read this short emptied the socket */
#define QUEUE_MAX (64 * 1024 * 1024)
/* One pipe-full per connection and direction per wakeup.  At 256 KiB (issue
 * 12) a single iperf3 stream re-armed every 256 KiB: per 2 GiB host->ns
 * the manager made 7724 epoll_ctl, 9495 poll and epoll_wait, 21056 splice
 * (strace -c) against 0, 2489 and 8102 before the budgets; at 1 MiB, 1852
 * epoll_ctl, 3694 polls, 9239 splices (issue 24).  A wakeup still moves
 * at most one pipe-full before the others get their turn. */
#define PUMP_BUDGET PIPE_SIZE
#define DISPATCH_BUDGET (4 * 1024 * 1024)
#define WARN_S 5
#define PIPE_POOL_MAX 16
#define EPOLL_BATCH 64
#define RETRY_MS 100 /* accept after EMFILE and friends */
#define UDP_SWEEP_S 10

typedef struct {
  int r, w, cap; /* r < 0: no pipe */
} Pipe;

typedef struct {
  Pipe pipe;
  gsize queued;  /* bytes in the pipe */
  gboolean eof;  /* the source said EOF */
  gboolean shut; /* ... and it went on as shutdown(SHUT_WR) */
} Dir;

typedef struct {
  Tag host_tag, guest_tag;
  UvaFwd *fwd;
  Listener *l;
  guint32 id;
  int host, guest; /* guest < 0 while init dials */
  gboolean dialing, connecting, dead;
  gboolean starved; /* in fwd->starved: a read waits for QUEUE_MAX room */
  Dir up, down;     /* host -> guest, guest -> host */
} Conn;

/* The struct that holds a tag (the tag's address is the epoll cookie). */
#define CONN_OF(t, member)                                                     \
  ((Conn *)(void *)((char *)(t)-offsetof(Conn, member)))

/* The manager's reserve fd and how many forwarders share it. */
static int reserve_fd = -1;
static guint reserve_users;

/* Limits ---------------------------------------------------------------- */

/* One line per container and cap per WARN_S: a flood must not turn into
 * a flood of lines. */
void uva_fwd_warn_cap(UvaFwd *f, Cap cap, const char *fmt, ...) {
  gint64 now = g_get_monotonic_time();
  if (f->warned[cap] != 0 && now - f->warned[cap] < WARN_S * G_USEC_PER_SEC)
    return;
  f->warned[cap] = now;
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *what = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_printerr("uva_container: %s: %s\n", f->name, what);
}

void uva_fwd_warn_fds(UvaFwd *f, int err, const char *what) {
  if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
    uva_fwd_warn_cap(f, CAP_FDS,
                     "%s: %s; dropping that connection or flow only", what,
                     g_strerror(err));
}

static void reserve_open(void) {
  if (reserve_fd < 0)
    reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

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

gboolean uva_fwd_ep_ctl(UvaFwd *f, int op, int fd, guint32 events, Tag *tag) {
  struct epoll_event ev = {.events = events, .data.ptr = tag};
  return epoll_ctl(f->epfd, op, fd, &ev) == 0;
}

static gboolean ep_add(UvaFwd *f, int fd, guint32 events, Tag *tag) {
  return uva_fwd_ep_ctl(f, EPOLL_CTL_ADD, fd, events, tag);
}

/* close() removes an fd from an epoll set only when it drops the file's
 * last reference (epoll(7), Q6).  A socket from init is also init's until
 * init's close() after sendmsg, which can come later than ours on a short
 * connection; without this its next event would name a freed Conn. */
void uva_fwd_ep_del(UvaFwd *f, int fd) {
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

guint32 uva_fwd_next_id(UvaFwd *f) {
  if (++f->next_id == 0)
    f->next_id = 1;
  return f->next_id;
}

/* TCP connections ------------------------------------------------------ */

static void unstarve(UvaFwd *f);

static void conn_close(Conn *c, gboolean reset) {
  UvaFwd *f = c->fwd;
  if (c->dead)
    return;
  c->dead = TRUE;
  if (c->dialing) {
    g_hash_table_remove(f->dialing, GUINT_TO_POINTER(c->id));
    f->inflight--;
  }
  uva_fwd_ep_del(f, c->guest);
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
    f->queued -= d->queued;
    if (d->pipe.r >= 0 && d->queued == 0)
      pipe_put(f, &d->pipe);
    else
      pipe_close(&d->pipe);
    d->queued = 0;
  }
  if (c->starved)
    g_queue_remove(&f->starved, c);
  /* Its bytes are gone with it: that may be the room others wait for. */
  if (f->starved.length > 0 && f->queued <= QUEUE_MAX / 2)
    unstarve(f);
  if (c->l)
    c->l->conns--; /* its listener may accept again: resume_accept() */
  g_hash_table_remove(f->conns, c);
  /* The current epoll batch may still name c: freed after it. */
  g_ptr_array_add(f->dead, c);
}

/* The same registration again (EPOLL_CTL_MOD): for an edge-triggered fd
 * the kernel re-checks readiness and queues an event if it is ready, at
 * the tail of the ready list, so what is left is served after the others
 * (epoll(7), ep_modify). */
static gboolean rearm(UvaFwd *f, int fd, guint32 events, Tag *tag) {
  return uva_fwd_ep_ctl(f, EPOLL_CTL_MOD, fd, events, tag);
}

#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

/* QUEUE_MAX has room again: every starved connection reads next round. */
static void unstarve(UvaFwd *f) {
  Conn *c;
  while ((c = g_queue_pop_head(&f->starved))) {
    c->starved = FALSE;
    (void)rearm(f, c->host, CONN_EVENTS, &c->host_tag);
    (void)rearm(f, c->guest, CONN_EVENTS, &c->guest_tag);
  }
}

/* Moves what d's source has into its destination through d's pipe, until
 * the source says EAGAIN or EOF and the pipe is empty, the destination is
 * full, or PUMP_BUDGET bytes came in.  Returns 0, or the errno that ends
 * the connection.  A short splice never means "the source is empty": a
 * splice into a pipe also stops at the pipe's free slots, one per page
 * fragment (pipe(7)), and an 8 KiB pipe (all a user past
 * pipe-user-pages-soft gets) has two.  No new edge would come for what
 * stays in the socket, so only EAGAIN ends the reading; and a budget that
 * runs out re-arms the source instead. */
static int pump(Conn *c, Dir *d, gboolean edge) {
  UvaFwd *f = c->fwd;
  gboolean drained = FALSE;
  gboolean up = d == &c->up;
  int src = up ? c->host : c->guest;
  int dst = up ? c->guest : c->host;
  gsize budget = PUMP_BUDGET;
  gboolean capped = FALSE;
  for (;;) {
    gboolean progress = FALSE;
    gsize room = 0;
    if (!d->eof && budget > 0 && !drained) {
      gsize left = f->queued < QUEUE_MAX ? QUEUE_MAX - f->queued : 0;
      capped = left == 0;
      if (d->pipe.r < 0 && !capped && !pipe_get(f, &d->pipe)) {
        int err = errno;
        uva_fwd_warn_fds(f, err, "pipe2");
        return err;
      }
      if (d->pipe.r >= 0)
        room = MIN((gsize)d->pipe.cap - d->queued, MIN(budget, left));
    }
    if (room > 0) {
      gboolean empty = d->queued == 0;
      ssize_t n = splice(src, NULL, d->pipe.w, NULL, room,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      /* A short read is not proof that the socket is empty (above), but
       * one of under SHORT_READ bytes into an EMPTY full-size pipe is:
       * to run out of its 256 slots first, the socket would have had to
       * hold 256 fragments of under 16 bytes each, and tcp_queue_rcv()
       * coalesces small segments into the tail skb.  Then whatever
       * arrives after the epoll_wait that reported this edge raises a new
       * one, and the read that would only say EAGAIN is skipped: one
       * splice less per message and direction (keep-alive: 6.0 -> 4.0
       * splices per request, strace -c, issue 24).  Not for an edge that
       * came with RDHUP: a FIN queued before it raises no edge of its own. */
      if (n > 0 && edge && empty && (gsize)n < room && n < SHORT_READ &&
          d->pipe.cap >= PIPE_SIZE)
        drained = TRUE;
      if (n > 0) {
        d->queued += (gsize)n;
        f->queued += (gsize)n;
        f->dispatched += (gsize)n;
        budget -= (gsize)n;
        progress = TRUE;
      } else if (n == 0) {
        d->eof = TRUE;
        progress = TRUE;
      } else if (errno != EAGAIN && errno != EINTR) {
        return errno;
      }
      /* EAGAIN: the socket is empty, or the pipe has no free slot; then
       * bytes are queued, the drain below frees slots and the loop reads
       * again. */
    }
    if (d->queued > 0) {
      ssize_t n = splice(d->pipe.r, NULL, dst, NULL, d->queued,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->queued -= (gsize)n;
        f->queued -= (gsize)n;
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
  if (!d->eof && budget == 0) {
    /* The source may hold more: next round, after the others. */
    if (!rearm(f, src, CONN_EVENTS, up ? &c->host_tag : &c->guest_tag))
      return errno;
  } else if (!d->eof && capped && !c->starved) {
    uva_fwd_warn_cap(f, CAP_QUEUE,
                     "%u MiB queued in its forwarded connections (the cap): "
                     "their readers wait until it drains",
                     QUEUE_MAX >> 20);
    c->starved = TRUE;
    g_queue_push_tail(&f->starved, c);
  }
  if (f->starved.length > 0 && f->queued <= QUEUE_MAX / 2)
    unstarve(f);
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
  int err = pump(c, &c->up, FALSE);
  if (err == 0)
    err = pump(c, &c->down, FALSE);
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
  Dir *from = guest_side ? &c->down : &c->up;
  Dir *to = guest_side ? &c->up : &c->down;
  int err = 0;
  if (events & (EPOLLIN | bad))
    err = pump(c, from, !(events & bad));
  /* Writable matters only to bytes that wait in the pipe for this socket.
   * With an empty pipe the other socket's own EPOLLIN edge brings its
   * bytes; pumping here too would read them first, and the EPOLLIN that
   * follows in the same batch would read nothing: wasted splices per
   * message, since every ACK raises an EPOLLOUT edge. */
  if (err == 0 &&
      (events & (EPOLLHUP | EPOLLERR) || (events & EPOLLOUT && to->queued > 0)))
    err = pump(c, to, FALSE);
  conn_settle(c, err);
}

/* peer: the client's address from accept4(), NULL when it is not IPv4. */
static void conn_new(Listener *l, int fd, const struct sockaddr_in *peer) {
  UvaFwd *f = l->fwd;
  Conn *c = g_new0(Conn, 1);
  c->host_tag.kind = TAG_HOST;
  c->guest_tag.kind = TAG_GUEST;
  c->fwd = f;
  c->l = l;
  l->conns++;
  c->host = fd;
  c->guest = -1;
  c->up.pipe = c->down.pipe = (Pipe){-1, -1, 0};
  c->id = uva_fwd_next_id(f);
  g_hash_table_add(f->conns, c);
  set_nodelay(fd);
  if (!ep_add(f, fd, CONN_EVENTS, &c->host_tag)) {
    uva_fwd_warn_fds(f, errno, "epoll_ctl");
    conn_close(c, TRUE);
    return;
  }
  c->dialing = TRUE;
  f->inflight++;
  g_hash_table_insert(f->dialing, GUINT_TO_POINTER(c->id), &c->host_tag);
  /* The client's address, for init to dial from (transparent.c); it came
   * with accept4(), not from a getpeername() per connection. */
  gboolean real = peer && (ntohl(peer->sin_addr.s_addr) >> 24) != 127;
  if (!f->dial(c->id, l->pub.container_port, FALSE, real ? peer : NULL,
               f->dial_data))
    conn_close(c, TRUE);
}

static void conn_dialed(Conn *c, int fd, int err) {
  c->dialing = FALSE;
  c->fwd->inflight--;
  if (fd < 0) {
    uva_fwd_warn_fds(c->fwd, err, "receiving a socket from the container");
    conn_close(c, TRUE);
    return;
  }
  c->guest = fd;
  c->connecting = TRUE;
  set_nodelay(fd);
  if (!ep_add(c->fwd, fd, CONN_EVENTS, &c->guest_tag)) {
    uva_fwd_warn_fds(c->fwd, errno, "epoll_ctl");
    conn_close(c, TRUE);
  }
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
  close_reset(&fd);
  reserve_open();
  if (accept_err == 0) {
    g_autofree char *where = uva_publish_host_string(&l->pub);
    g_autofree char *what = g_strdup_printf("accept on %s", where);
    uva_fwd_warn_fds(l->fwd, err, what);
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
        uva_fwd_warn_cap(f, CAP_CONNS,
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
      conn_new(l, fd, v4 ? (const struct sockaddr_in *)&peer : NULL);
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
    uva_fwd_warn_fds(f, err, "accept");
    if (!f->retry_timer)
      f->retry_timer = g_timeout_add(RETRY_MS, on_retry, f);
    return;
  }
  (void)rearm(f, l->fd, EPOLLIN | EPOLLET, &l->tag); /* more next round */
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
 * kernel queues it anew if the fd is still ready (see rearm()). */
static void tag_rearm(UvaFwd *f, Tag *t) {
  const guint32 in = EPOLLIN | EPOLLET;
  switch (t->kind) {
  case TAG_TCP_LISTENER:
  case TAG_UDP_LISTENER:
    (void)rearm(f, ((Listener *)t)->fd, in, t);
    break;
  case TAG_HOST:
    (void)rearm(f, CONN_OF(t, host_tag)->host, CONN_EVENTS, t);
    break;
  case TAG_GUEST:
    (void)rearm(f, CONN_OF(t, guest_tag)->guest, CONN_EVENTS, t);
    break;
  case TAG_FLOW:
    (void)rearm(f, ((Flow *)t)->fd, in, t); /* fd -1 once dead: a no-op */
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
      conn_event(CONN_OF(t, host_tag), FALSE, evs[i].events);
      break;
    case TAG_GUEST:
      conn_event(CONN_OF(t, guest_tag), TRUE, evs[i].events);
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
  f->pool = g_array_new(FALSE, FALSE, sizeof(Pipe));
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
    if (!ep_add(f, l->fd, EPOLLIN | EPOLLET, &l->tag))
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
    if (!ep_add(f, l->fd, EPOLLIN | EPOLLET, &l->tag))
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
    conn_dialed(CONN_OF(t, host_tag), fd, err);
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
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, f->conns);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    g_hash_table_iter_steal(&it);
    ((Conn *)key)->dialing = FALSE;
    ((Conn *)key)->l = NULL;
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
  if (--reserve_users == 0) {
    uva_close_fdp(&reserve_fd);
    reserve_fd = -1;
  }
  g_free(f->dgram);
  g_free(f->name);
  g_free(f);
}
