/* fwdudp.c - UDP through the splice port driver (fwd.c): one flow per host
 * peer address, each with its own connected UDP socket inside the
 * container, dialed by init like a TCP connection.  Replies go back to the
 * peer from the published address.
 *
 * Budgets: at most FLOW_MAX flows per published port, kept in
 * least-recently-used order, so a source-port flood evicts the oldest
 * flows instead of taking one fd each without end; at most UDP_QUEUE_MAX
 * datagrams per flow and UDP_PENDING_MAX bytes per container wait for a
 * flow's socket; ACCEPT_BUDGET datagrams per socket and wakeup, the rest
 * re-armed for the next round (EPOLL_CTL_MOD, see fwd.c).  Flows idle for
 * UDP_IDLE_S are closed. */
#include "net/fwdudp.h"

#include "base/util.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#define FLOW_MAX 256
#define UDP_PENDING_MAX (1024 * 1024)
#define UDP_QUEUE_MAX 16
#define UDP_IDLE_S 60

/* The hash table's destroy function: the flow leaves every list now and
 * is freed after the epoll batch, which may still name it. */
static void flow_free(gpointer data) {
  Flow *fl = data;
  UvaFwd *f = fl->l->fwd;
  if (fl->dialing) {
    g_hash_table_remove(f->dialing, GUINT_TO_POINTER(fl->id));
    f->inflight--;
  }
  uva_fwdcore_ep_del(f, fl->fd);
  uva_close_fdp(&fl->fd);
  fl->fd = -1;
  GBytes *b;
  while ((b = g_queue_pop_head(&fl->pending))) {
    f->pending_bytes -= g_bytes_get_size(b);
    g_bytes_unref(b);
  }
  g_bytes_unref(fl->key);
  fl->key = NULL;
  g_queue_unlink(&fl->l->lru, &fl->lru_link);
  f->flow_count--;
  fl->dead = TRUE;
  g_ptr_array_add(f->dead, fl);
}

static void flow_touch(Flow *fl) {
  fl->last_used = g_get_monotonic_time();
  g_queue_unlink(&fl->l->lru, &fl->lru_link);
  g_queue_push_tail_link(&fl->l->lru, &fl->lru_link);
}

static void flow_send(Flow *fl, const void *buf, gsize len) {
  /* UDP may drop; a full socket or an ICMP error from inside drops this
   * datagram only. */
  (void)send(fl->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void uva_fwdudp_dialed(Flow *fl, int fd, int err) {
  UvaFwd *f = fl->l->fwd;
  fl->dialing = FALSE;
  f->inflight--;
  if (fd < 0) {
    uva_fwdcore_warn_fds(f, err, "receiving a socket from the container");
    g_hash_table_remove(fl->l->flows, fl->key); /* frees fl */
    return;
  }
  fl->fd = fd;
  if (!uva_fwdcore_ep_ctl(f, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLET, &fl->tag)) {
    uva_fwdcore_warn_fds(f, errno, "epoll_ctl");
    g_hash_table_remove(fl->l->flows, fl->key);
    return;
  }
  GBytes *b;
  while ((b = g_queue_pop_head(&fl->pending))) {
    gsize len;
    const void *data = g_bytes_get_data(b, &len);
    flow_send(fl, data, len);
    f->pending_bytes -= len;
    g_bytes_unref(b);
  }
}

/* Replies from inside go back to the peer from the published address. */
void uva_fwdudp_event(Flow *fl) {
  UvaFwd *f = fl->l->fwd;
  if (fl->dead)
    return;
  gsize key_len;
  const void *peer = g_bytes_get_data(fl->key, &key_len);
  for (int i = 0; i < ACCEPT_BUDGET; i++) {
    ssize_t n = recv(fl->fd, f->dgram, UDP_MAX_DGRAM, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return;
    if (n < 0)
      continue; /* ECONNREFUSED: nothing listens inside yet */
    (void)sendto(fl->l->fd, f->dgram, (gsize)n, MSG_DONTWAIT | MSG_NOSIGNAL,
                 peer, (socklen_t)key_len);
    flow_touch(fl);
  }
  (void)uva_fwdcore_ep_ctl(f, EPOLL_CTL_MOD, fl->fd, EPOLLIN | EPOLLET,
                           &fl->tag); /* more next round */
}

static Flow *flow_new(Listener *l, GBytes *key) {
  UvaFwd *f = l->fwd;
  if (f->inflight >= MAX_DIALS)
    return NULL; /* dropped, as a full queue would */
  if (g_hash_table_size(l->flows) >= FLOW_MAX) {
    g_autofree char *where = uva_publish_host_string(&l->pub);
    uva_fwdcore_warn_cap(
        f, CAP_FLOWS,
        "%u UDP flows on %s (the cap): the least recently used "
        "ones make room",
        FLOW_MAX, where);
    Flow *old = g_queue_peek_head(&l->lru);
    g_hash_table_remove(l->flows, old->key); /* flow_free */
  }
  Flow *fl = g_new0(Flow, 1);
  fl->tag.kind = TAG_FLOW;
  fl->l = l;
  fl->fd = -1;
  fl->key = g_bytes_ref(key);
  fl->id = uva_fwdcore_next_id(f);
  fl->lru_link.data = fl;
  g_queue_init(&fl->pending);
  g_queue_push_tail_link(&l->lru, &fl->lru_link);
  f->flow_count++;
  g_hash_table_insert(l->flows, fl->key, fl);
  fl->dialing = TRUE;
  f->inflight++;
  g_hash_table_insert(f->dialing, GUINT_TO_POINTER(fl->id), &fl->tag);
  if (!f->dial(fl->id, l->pub.container_port, TRUE, NULL, f->dial_data)) {
    g_hash_table_remove(l->flows, key);
    return NULL;
  }
  return fl;
}

void uva_fwdudp_ready(Listener *l) {
  UvaFwd *f = l->fwd;
  for (int i = 0; i < ACCEPT_BUDGET; i++) {
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
    if (!fl && !(fl = flow_new(l, key)))
      continue;
    flow_touch(fl);
    if (fl->fd >= 0) {
      flow_send(fl, f->dgram, (gsize)n);
    } else if (fl->pending.length < UDP_QUEUE_MAX &&
               f->pending_bytes + (gsize)n <= UDP_PENDING_MAX) {
      g_queue_push_tail(&fl->pending, g_bytes_new(f->dgram, (gsize)n));
      f->pending_bytes += (gsize)n;
    }
  }
  /* More next round. */
  (void)uva_fwdcore_ep_ctl(f, EPOLL_CTL_MOD, l->fd, EPOLLIN | EPOLLET, &l->tag);
}

GHashTable *uva_fwdudp_flows_new(void) {
  return g_hash_table_new_full(g_bytes_hash, g_bytes_equal, NULL, flow_free);
}

void uva_fwdudp_sweep(UvaFwd *f) {
  gint64 limit = g_get_monotonic_time() - UDP_IDLE_S * G_USEC_PER_SEC;
  for (guint i = 0; i < f->listeners->len; i++) {
    Listener *l = f->listeners->pdata[i];
    if (!l->flows)
      continue;
    /* Least recently used first: the idle ones are at the head. */
    Flow *fl;
    while ((fl = g_queue_peek_head(&l->lru)) && fl->last_used < limit &&
           !fl->dialing)
      g_hash_table_remove(l->flows, fl->key);
  }
}
