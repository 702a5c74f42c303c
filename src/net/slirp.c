/* slirp.c - libslirp glue.
 *
 * libslirp is poll-driven: before sleeping we ask it for the fds and events
 * it wants (slirp_pollfds_fill) and a timeout, after waking we hand it the
 * results (slirp_pollfds_poll).  A custom GSource does exactly that in its
 * prepare/check/dispatch, so the stack lives in the same GLib main loop as
 * everything else and never blocks it.  The tap fd is a separate unix-fd
 * source; each wakeup drains up to TAP_BATCH frames or TAP_BUDGET bytes
 * into slirp_input(), so one container's flood cannot hold the loop; the
 * watch is level-triggered (poll), so what is left wakes it next round.
 *
 * Budgets against the guest (issue 12): at most sockets_limit (512 by
 * default, --sockets-limit) sockets in libslirp per container, counted in
 * register_poll_fd; frames that would open a new flow past it are refused
 * before slirp_input() (flowcap.c).  Hitting the cap is said in one line per
 * WARN_S, and libslirp's guest_error messages, whose rate the guest controls,
 * are limited to GUEST_ERR_BURST per WARN_S.
 *
 * Config (SlirpConfig version 4): 10.0.2.0/24, host 10.0.2.2, DNS 10.0.2.3,
 * fd00::/64 with host fd00::2 and DNS fd00::3,
 * MTU/MRU 65520 like slirp4netns --mtu=65520 (fewer, larger frames), and
 * disable_host_loopback: a container must not reach services bound to the
 * host's 127.0.0.1 through 10.0.2.2. */
#include "net/slirp.h"

#include "base/util.h"
#include "net/flowcap.h"
#include "net/fragguard.h"

#include <arpa/inet.h>
#include <glib-unix.h>
#include <libslirp.h>
#include <string.h>

#define TAP_BATCH 64
#define TAP_BUDGET (256 * 1024)
#define WARN_S 5
#define GUEST_ERR_BURST 5

typedef struct {
  SlirpTimerId id;
  void *cb_opaque;
  gint64 expire_ms; /* -1: not armed */
} NetTimer;

typedef struct {
  GSource source;
  UvaNet *net;
} NetSource;

struct UvaNet {
  char *name;
  Slirp *slirp;
  NetSource *source;
  GArray *pollfds; /* of GPollFD, registered with the source */
  GArray *fresh;   /* of GPollFD, what slirp_pollfds_fill asks for now */
  GPtrArray *timers;
  int tap_fd;
  guint tap_watch;
  guint64 dropped_tx;
  guint64 dropped_rx; /* frames kept from libslirp (fragguard.c) */
  UvaFragGuard *guard;
  UvaFlowCap *cap;
  guint64 refused;        /* frames refused at the socket cap */
  gint64 cap_warned;      /* monotonic us of the last cap line; 0: none */
  gint64 err_window;      /* start of the guest_error window, us */
  guint err_lines;        /* printed in that window */
  guint64 err_suppressed; /* not printed since the last line */
  gint64 deadline_ms; /* when libslirp wants slirp_pollfds_poll; -1: never */
  gboolean kick;      /* frames came in: run slirp_pollfds_poll now */
};

/* The receive buffer of every tap: a frame is read and handed to libslirp
 * (which copies it into an mbuf) before the next read, and one loop reads
 * all taps, so one buffer serves them all.  One per container was 64 KiB
 * of heap each in the middle of the manager's other allocations: at 256
 * containers the manager's RssAnon 6,752 -> 5,696 kB without them, and
 * every later clone() copies the page tables of what is resident
 * (dup_mmap 136-142 -> 112 samples of `up` of 256, perf record -a). */
#define FRAME_LEN (UVA_DEFAULT_MTU + 14) /* + Ethernet header */
static guint8 frame[FRAME_LEN];

static gint64 now_ms(void) { return g_get_monotonic_time() / 1000; }

/* libslirp callbacks -------------------------------------------------- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque) {
  UvaNet *net = opaque;
  if (net->tap_fd < 0)
    return (ssize_t)len;
  ssize_t n;
  do
    n = write(net->tap_fd, buf, len);
  while (n < 0 && errno == EINTR);
  /* A full tap queue drops the frame, as libslirp's API allows: TCP
   * retransmits.  Reporting an error would only make libslirp log it. */
  if (n < 0)
    net->dropped_tx++;
  return (ssize_t)len;
}

/* libslirp calls this for what the guest got wrong, as often as the guest
 * likes: GUEST_ERR_BURST lines per WARN_S, then a count of the rest. */
static void cb_guest_error(const char *msg, void *opaque) {
  UvaNet *net = opaque;
  gint64 now = g_get_monotonic_time();
  if (now - net->err_window >= WARN_S * G_USEC_PER_SEC) {
    if (net->err_suppressed > 0)
      g_printerr("uva_container: %s: network: %" G_GUINT64_FORMAT
                 " more messages not shown\n",
                 net->name, net->err_suppressed);
    net->err_window = now;
    net->err_lines = 0;
    net->err_suppressed = 0;
  }
  if (net->err_lines >= GUEST_ERR_BURST) {
    net->err_suppressed++;
    return;
  }
  net->err_lines++;
  g_printerr("uva_container: %s: network: %s\n", net->name, msg);
}

static int64_t cb_clock_get_ns(void *opaque) {
  (void)opaque;
  return g_get_monotonic_time() * 1000;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque,
                                 void *opaque) {
  UvaNet *net = opaque;
  NetTimer *t = g_new0(NetTimer, 1);
  t->id = id;
  t->cb_opaque = cb_opaque;
  t->expire_ms = -1;
  g_ptr_array_add(net->timers, t);
  return t;
}

static void cb_timer_free(void *timer, void *opaque) {
  UvaNet *net = opaque;
  g_ptr_array_remove_fast(net->timers, timer);
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque) {
  (void)opaque;
  ((NetTimer *)timer)->expire_ms = expire_ms;
}

/* libslirp opened (or is about to close) a host socket: the count that
 * the socket cap is checked against. */
static void cb_register_poll_fd(int fd, void *opaque) {
  UvaNet *net = opaque;
  uva_flowcap_registered(net->cap, fd);
}

static void cb_unregister_poll_fd(int fd, void *opaque) {
  UvaNet *net = opaque;
  uva_flowcap_unregistered(net->cap, fd);
}

static void cb_notify(void *opaque) {
  (void)opaque;
  g_main_context_wakeup(NULL);
}

static const SlirpCb callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

/* The GSource ---------------------------------------------------------- */

static int add_poll(int fd, int events, void *opaque) {
  UvaNet *net = opaque;
  GPollFD p = {.fd = fd};
  if (events & SLIRP_POLL_IN)
    p.events |= G_IO_IN;
  if (events & SLIRP_POLL_OUT)
    p.events |= G_IO_OUT;
  if (events & SLIRP_POLL_PRI)
    p.events |= G_IO_PRI;
  if (events & SLIRP_POLL_ERR)
    p.events |= G_IO_ERR;
  if (events & SLIRP_POLL_HUP)
    p.events |= G_IO_HUP;
  g_array_append_val(net->fresh, p);
  return (int)net->fresh->len - 1;
}

static int get_revents(int idx, void *opaque) {
  UvaNet *net = opaque;
  if (idx < 0 || (guint)idx >= net->pollfds->len)
    return 0;
  gushort r = g_array_index(net->pollfds, GPollFD, idx).revents;
  int ev = 0;
  if (r & G_IO_IN)
    ev |= SLIRP_POLL_IN;
  if (r & G_IO_OUT)
    ev |= SLIRP_POLL_OUT;
  if (r & G_IO_PRI)
    ev |= SLIRP_POLL_PRI;
  if (r & G_IO_ERR)
    ev |= SLIRP_POLL_ERR;
  if (r & G_IO_HUP)
    ev |= SLIRP_POLL_HUP;
  return ev;
}

static void unregister_polls(UvaNet *net) {
  for (guint i = 0; i < net->pollfds->len; i++)
    g_source_remove_poll(&net->source->source,
                         &g_array_index(net->pollfds, GPollFD, i));
  g_array_set_size(net->pollfds, 0);
}

static gint64 next_timer_ms(UvaNet *net) {
  gint64 next = -1;
  for (guint i = 0; i < net->timers->len; i++) {
    NetTimer *t = net->timers->pdata[i];
    if (t->expire_ms >= 0 && (next < 0 || t->expire_ms < next))
      next = t->expire_ms;
  }
  return next;
}

static gboolean same_polls(GArray *a, GArray *b) {
  if (a->len != b->len)
    return FALSE;
  for (guint i = 0; i < a->len; i++) {
    GPollFD *x = &g_array_index(a, GPollFD, i);
    GPollFD *y = &g_array_index(b, GPollFD, i);
    if (x->fd != y->fd || x->events != y->events)
      return FALSE;
  }
  return TRUE;
}

static gboolean source_prepare(GSource *source, gint *timeout) {
  UvaNet *net = ((NetSource *)source)->net;
  uint32_t t = UINT32_MAX;
  g_array_set_size(net->fresh, 0);
  slirp_pollfds_fill(net->slirp, &t, add_poll, net);
  /* g_source_add_poll() and g_source_remove_poll() wake the main context
   * up, so re-registering every iteration would spin: only a changed set
   * (a socket opened or closed, or a new interest in POLLOUT) is
   * re-registered.  libslirp walks its sockets in a stable order, so equal
   * sets keep their indices.  GLib keeps pointers to the GPollFDs, hence
   * registration only after the array stopped growing. */
  if (!same_polls(net->pollfds, net->fresh)) {
    unregister_polls(net);
    GArray *tmp = net->pollfds;
    net->pollfds = net->fresh;
    net->fresh = tmp;
    for (guint i = 0; i < net->pollfds->len; i++)
      g_source_add_poll(source, &g_array_index(net->pollfds, GPollFD, i));
  }
  gint64 next = next_timer_ms(net);
  if (next >= 0) {
    gint64 wait = MAX(0, next - now_ms());
    if (wait < (gint64)t)
      t = (uint32_t)wait;
  }
  net->deadline_ms = t == UINT32_MAX ? -1 : now_ms() + t;
  *timeout = t == UINT32_MAX ? -1 : (gint)MIN(t, (uint32_t)G_MAXINT);
  return t == 0 || net->kick;
}

static gboolean source_check(GSource *source) {
  UvaNet *net = ((NetSource *)source)->net;
  for (guint i = 0; i < net->pollfds->len; i++)
    if (g_array_index(net->pollfds, GPollFD, i).revents)
      return TRUE;
  /* libslirp's TCP timers run inside slirp_pollfds_poll, which the fill
   * timeout asks us to call even when no fd is ready.  Nothing else may
   * make this TRUE: a check that always says yes runs libslirp on every
   * wakeup of the loop, whatever woke it (GLib 2.74 also woke the loop
   * after each dispatch of a blocking source: a busy spin, before this
   * source was allowed to recurse). */
  return net->kick || (net->deadline_ms >= 0 && net->deadline_ms <= now_ms());
}

static gboolean source_dispatch(GSource *source, GSourceFunc cb,
                                gpointer data) {
  (void)cb;
  (void)data;
  UvaNet *net = ((NetSource *)source)->net;
  net->kick = FALSE;
  slirp_pollfds_poll(net->slirp, 0, get_revents, net);
  gint64 now = now_ms();
  for (guint i = 0; i < net->timers->len; i++) {
    NetTimer *t = net->timers->pdata[i];
    if (t->expire_ms >= 0 && t->expire_ms <= now) {
      t->expire_ms = -1;
      slirp_handle_timer(net->slirp, t->id, t->cb_opaque);
    }
  }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs source_funcs = {
    .prepare = source_prepare,
    .check = source_check,
    .dispatch = source_dispatch,
};

/* Tap -------------------------------------------------------------------- */

static void warn_cap(UvaNet *net) {
  gint64 now = g_get_monotonic_time();
  if (net->cap_warned != 0 && now - net->cap_warned < WARN_S * G_USEC_PER_SEC)
    return;
  net->cap_warned = now;
  g_printerr("uva_container: %s: %u libslirp sockets (the cap): new outbound "
             "connections and UDP ports are refused until some close "
             "(%" G_GUINT64_FORMAT " frames refused so far)\n",
             net->name, uva_flowcap_cap(net->cap), net->refused);
}

void uva_net_input(UvaNet *net, const guint8 *frame, gsize len) {
  if (!uva_fragguard_pass(net->guard, frame, len, g_get_monotonic_time())) {
    net->dropped_rx++;
    return;
  }
  guint8 reply[UVA_FLOWCAP_REPLY_MAX];
  gsize reply_len;
  if (!uva_flowcap_pass(net->cap, frame, len, reply, &reply_len)) {
    net->refused++;
    warn_cap(net);
    /* A RST or ICMP error, as if the far end had refused: the app fails
     * now rather than retransmitting into the cap. */
    if (reply_len > 0)
      cb_send_packet(reply, reply_len, net);
    return;
  }
  slirp_input(net->slirp, frame, (int)len);
  uva_flowcap_done(net->cap);
  /* What the guest sent may have released frames libslirp queued (an ARP
   * reply does) or data for a host socket; they go out in
   * slirp_pollfds_poll(), which must not wait for the next TCP timer. */
  net->kick = TRUE;
}

static gboolean on_tap_readable(int fd, GIOCondition cond, gpointer data) {
  UvaNet *net = data;
  (void)cond;
  gsize bytes = 0;
  for (int i = 0; i < TAP_BATCH && bytes < TAP_BUDGET; i++) {
    ssize_t n = read(fd, frame, sizeof frame);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN)
        return G_SOURCE_CONTINUE;
      /* EBADFD and friends: the container's namespace is gone. */
      net->tap_watch = 0;
      return G_SOURCE_REMOVE;
    }
    if (n == 0) {
      net->tap_watch = 0;
      return G_SOURCE_REMOVE;
    }
    uva_net_input(net, frame, (gsize)n);
    bytes += (gsize)n;
  }
  /* Budget spent: the rest waits in the tap's queue, and the fd, still
   * readable, brings us back after the other sources had their turn. */
  return G_SOURCE_CONTINUE;
}

/* API -------------------------------------------------------------------- */

UvaNet *uva_net_new(const char *name, guint sockets_limit, GError **error) {
  SlirpConfig cfg = {.version = 4};
  cfg.in_enabled = true;
  inet_pton(AF_INET, UVA_NETWORK, &cfg.vnetwork);
  inet_pton(AF_INET, UVA_NETMASK, &cfg.vnetmask);
  inet_pton(AF_INET, UVA_GATEWAY_ADDR, &cfg.vhost);
  inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
  inet_pton(AF_INET, UVA_DNS_ADDR, &cfg.vnameserver);
  cfg.in6_enabled = true;
  inet_pton(AF_INET6, UVA_PREFIX6, &cfg.vprefix_addr6);
  cfg.vprefix_len = UVA_PREFIX6_LEN;
  inet_pton(AF_INET6, UVA_GATEWAY_ADDR6, &cfg.vhost6);
  inet_pton(AF_INET6, UVA_DNS_ADDR6, &cfg.vnameserver6);
  cfg.if_mtu = UVA_DEFAULT_MTU;
  cfg.if_mru = UVA_DEFAULT_MTU;
  cfg.disable_host_loopback = true;
  cfg.vhostname = name;

  UvaNet *net = g_new0(UvaNet, 1);
  net->name = g_strdup(name);
  net->tap_fd = -1;
  net->pollfds = g_array_new(FALSE, TRUE, sizeof(GPollFD));
  net->fresh = g_array_new(FALSE, TRUE, sizeof(GPollFD));
  net->timers = g_ptr_array_new_with_free_func(g_free);
  net->guard = uva_fragguard_new();
  net->cap = uva_flowcap_new(sockets_limit);
  net->slirp = slirp_new(&cfg, &callbacks, net);
  if (!net->slirp) {
    uva_net_free(net);
    uva_fail(error, "%s: libslirp refused its configuration", name);
    return NULL;
  }
  net->source = (NetSource *)g_source_new(&source_funcs, sizeof(NetSource));
  net->source->net = net;
  g_source_set_name(&net->source->source, "libslirp");
  /* Not blocked while it dispatches: see uva_fd_watch_hot(). */
  g_source_set_can_recurse(&net->source->source, TRUE);
  g_source_attach(&net->source->source, NULL);
  return net;
}

gboolean uva_net_publish(UvaNet *net, const UvaPublish *p, GError **error) {
  struct sockaddr_in guest = {.sin_family = AF_INET,
                              .sin_port = htons(p->container_port)};
  inet_pton(AF_INET, UVA_GUEST_ADDR, &guest.sin_addr);
  int flags = (p->udp ? SLIRP_HOSTFWD_UDP : 0) |
              (p->host.ss_family == AF_INET6 ? SLIRP_HOSTFWD_V6ONLY : 0);
  errno = 0;
  if (slirp_add_hostxfwd(net->slirp, (const struct sockaddr *)&p->host,
                         p->host_len, (const struct sockaddr *)&guest,
                         sizeof guest, flags) < 0) {
    /* libslirp does not always set errno; a failed bind is the usual
     * cause. */
    return uva_publish_bind_error(net->name, p, errno ? errno : EADDRINUSE,
                                  error);
  }
  return TRUE;
}

gboolean uva_net_attach_tap(UvaNet *net, int tap_fd, GError **error) {
  uva_autofd fd = tap_fd;
  if (net->tap_fd >= 0)
    return uva_fail(error, "%s: the container sent a second tap", net->name);
  if (!uva_set_nonblock(fd, TRUE, error))
    return FALSE;
  net->tap_fd = uva_steal_fd(&fd);
  net->tap_watch = uva_fd_watch_hot(net->tap_fd, G_IO_IN, G_PRIORITY_DEFAULT,
                                    on_tap_readable, net);
  return TRUE;
}

void uva_net_free(UvaNet *net) {
  if (!net)
    return;
  if (net->tap_watch)
    g_source_remove(net->tap_watch);
  if (net->source) {
    GSource *source = &net->source->source;
    unregister_polls(net);
    g_source_destroy(source);
    g_source_unref(source);
  }
  if (net->slirp)
    slirp_cleanup(net->slirp);
  uva_close_fdp(&net->tap_fd);
  g_array_unref(net->pollfds);
  g_array_unref(net->fresh);
  g_ptr_array_unref(net->timers);
  uva_fragguard_free(net->guard);
  /* After slirp_cleanup(), which may still unregister its sockets. */
  uva_flowcap_free(net->cap);
  g_free(net->name);
  g_free(net);
}
