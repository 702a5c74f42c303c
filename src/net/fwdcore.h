/* fwdcore.h - inside the splice port driver only (fwd.c: listeners and
 * the epoll loop; fwdtcp.c: TCP connections; fwdudp.c: UDP flows): the
 * types the three share, the budgets, and fwdcore.c's helpers.  It does
 * not include fwd.h: fwd.c includes this, fwdtcp.h and fwdudp.h, and
 * nothing here includes fwd.c's header back (issue 25: fwd.h and
 * fwdudp.h included each other). */
#pragma once

#include "spec/spec.h"

#include <glib.h>
#include <netinet/in.h>

/* The same incomplete type as fwd.h's (C11 allows the typedef twice). */
typedef struct UvaFwd UvaFwd;

#define MAX_DIALS 64     /* per container: dials waiting for its init */
#define ACCEPT_BUDGET 64 /* accepts or datagrams per socket and wakeup */
#define UDP_MAX_DGRAM 65535

typedef enum {
  TAG_TCP_LISTENER,
  TAG_UDP_LISTENER,
  TAG_HOST,
  TAG_GUEST,
  TAG_FLOW
} TagKind;
typedef struct {
  TagKind kind;
} Tag;

typedef enum { CAP_CONNS, CAP_FLOWS, CAP_QUEUE, CAP_FDS, CAP_N } Cap;

typedef struct {
  Tag tag; /* first: a Listener* is its Tag* */
  UvaFwd *fwd;
  UvaPublish pub;
  int fd;
  gboolean listening; /* TCP: listen(2) done (the app listens inside) */
  guint conns;        /* TCP: open connections from this port */
  gboolean blocked;   /* TCP: not accepted from (MAX_DIALS or CONN_MAX) */
  GHashTable *flows;  /* UDP: GBytes peer sockaddr -> Flow */
  GQueue lru;         /* UDP: its flows, least recently used first */
} Listener;

typedef struct {
  Tag tag; /* first: a Flow* is its Tag* */
  Listener *l;
  guint32 id;
  GBytes *key; /* the peer's sockaddr */
  int fd;      /* < 0 while init dials */
  gboolean dialing;
  GQueue pending; /* GBytes datagrams that came before the socket */
  gint64 last_used;
  GList lru_link; /* in l->lru */
  gboolean dead;  /* freed after the epoll batch */
} Flow;

struct UvaFwd {
  char *name;
  /* fwd.h's UvaFwdDialFunc, spelled out: this header does not include
   * fwd.h; uva_fwd_new() assigns one to it, so the compiler checks they
   * agree. */
  gboolean (*dial)(guint32 id, guint16 port, gboolean udp,
                   const struct sockaddr_in *client, gpointer data);
  gpointer dial_data;
  int epfd;
  guint watch, retry_timer, sweep_timer;
  gboolean started;
  GPtrArray *listeners;
  GHashTable *conns;   /* set of Conn* */
  GHashTable *dialing; /* id -> Tag* of a Conn (host_tag) or a Flow */
  GPtrArray *dead;     /* closed Conns and Flows, freed after the batch */
  GArray *pool;        /* of Pipe */
  guint32 next_id;
  guint inflight;
  guint flow_count;
  gsize queued;         /* bytes in all its pipes */
  gsize dispatched;     /* bytes read in this epoll batch */
  gsize pending_bytes;  /* bytes of datagrams waiting for a flow's socket */
  GQueue starved;       /* Conns whose read waits for QUEUE_MAX room */
  gint64 warned[CAP_N]; /* monotonic us of the last line per cap */
  guint8 *dgram;
};

/* One line per container and cap per few seconds (WARN_S). */
void uva_fwdcore_warn_cap(UvaFwd *f, Cap cap, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
/* The same for err when it says a resource ran out (EMFILE and friends). */
void uva_fwdcore_warn_fds(UvaFwd *f, int err, const char *what);
/* epoll_ctl on the forwarder's set; TRUE on success. */
gboolean uva_fwdcore_ep_ctl(UvaFwd *f, int op, int fd, guint32 events,
                            Tag *tag);
gboolean uva_fwdcore_ep_add(UvaFwd *f, int fd, guint32 events, Tag *tag);
void uva_fwdcore_ep_del(UvaFwd *f, int fd);
/* The same registration again (EPOLL_CTL_MOD), so that the kernel
 * re-checks an edge-triggered fd's readiness (see fwdcore.c). */
gboolean uva_fwdcore_rearm(UvaFwd *f, int fd, guint32 events, Tag *tag);
/* Closes *fd with SO_LINGER 0: the peer sees a reset. */
void uva_fwdcore_close_reset(int *fd);
guint32 uva_fwdcore_next_id(UvaFwd *f);
