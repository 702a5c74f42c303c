/* fwdtcp.c - the splice port driver's TCP connections (fwd.c has the
 * design): a host client and the socket init dialed inside, joined by
 * splice(2) through a pooled pipe per direction, with the per-connection
 * and per-container byte budgets.  fwd.c accepts and dispatches; this
 * file owns each Conn from uva_fwdtcp_new() to its close. */
#include "net/fwdtcp.h"

#include "base/util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

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
#define PIPE_POOL_MAX 16

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

static void set_nodelay(int fd) {
  /* The forwarder sends what it gets at once; Nagle would hold back the
   * tail of every response by one round trip. */
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
  uva_fwdcore_ep_del(f, c->guest);
  if (reset) {
    uva_fwdcore_close_reset(&c->host);
    uva_fwdcore_close_reset(&c->guest);
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

#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

/* QUEUE_MAX has room again: every starved connection reads next round. */
static void unstarve(UvaFwd *f) {
  Conn *c;
  while ((c = g_queue_pop_head(&f->starved))) {
    c->starved = FALSE;
    (void)uva_fwdcore_rearm(f, c->host, CONN_EVENTS, &c->host_tag);
    (void)uva_fwdcore_rearm(f, c->guest, CONN_EVENTS, &c->guest_tag);
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
        uva_fwdcore_warn_fds(f, err, "pipe2");
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
    if (!uva_fwdcore_rearm(f, src, CONN_EVENTS,
                           up ? &c->host_tag : &c->guest_tag))
      return errno;
  } else if (!d->eof && capped && !c->starved) {
    uva_fwdcore_warn_cap(
        f, CAP_QUEUE,
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
void uva_fwdtcp_new(Listener *l, int fd, const struct sockaddr_in *peer) {
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
  c->id = uva_fwdcore_next_id(f);
  g_hash_table_add(f->conns, c);
  set_nodelay(fd);
  if (!uva_fwdcore_ep_add(f, fd, CONN_EVENTS, &c->host_tag)) {
    uva_fwdcore_warn_fds(f, errno, "epoll_ctl");
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
    uva_fwdcore_warn_fds(c->fwd, err, "receiving a socket from the container");
    conn_close(c, TRUE);
    return;
  }
  c->guest = fd;
  c->connecting = TRUE;
  set_nodelay(fd);
  if (!uva_fwdcore_ep_add(c->fwd, fd, CONN_EVENTS, &c->guest_tag)) {
    uva_fwdcore_warn_fds(c->fwd, errno, "epoll_ctl");
    conn_close(c, TRUE);
  }
}

void uva_fwdtcp_dialed(Tag *host_tag, int fd, int err) {
  conn_dialed(CONN_OF(host_tag, host_tag), fd, err);
}

void uva_fwdtcp_event(Tag *t, guint32 events) {
  if (t->kind == TAG_HOST)
    conn_event(CONN_OF(t, host_tag), FALSE, events);
  else
    conn_event(CONN_OF(t, guest_tag), TRUE, events);
}

void uva_fwdtcp_rearm(UvaFwd *f, Tag *t) {
  if (t->kind == TAG_HOST)
    (void)uva_fwdcore_rearm(f, CONN_OF(t, host_tag)->host, CONN_EVENTS, t);
  else
    (void)uva_fwdcore_rearm(f, CONN_OF(t, guest_tag)->guest, CONN_EVENTS, t);
}

GArray *uva_fwdtcp_pool_new(void) {
  return g_array_new(FALSE, FALSE, sizeof(Pipe));
}

void uva_fwdtcp_close_all(UvaFwd *f) {
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, f->conns);
  while (g_hash_table_iter_next(&it, &key, NULL)) {
    g_hash_table_iter_steal(&it);
    ((Conn *)key)->dialing = FALSE;
    ((Conn *)key)->l = NULL;
    conn_close(key, TRUE);
  }
}

void uva_fwdtcp_pool_close(UvaFwd *f) {
  for (guint i = 0; i < f->pool->len; i++)
    pipe_close(&g_array_index(f->pool, Pipe, i));
}
