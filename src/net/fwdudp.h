/* fwdudp.h - inside the splice port driver (fwd.c, fwdudp.c) only: the
 * types both files share, and what each calls of the other. */
#pragma once

#include "net/fwd.h"

#include <glib.h>

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
  UvaFwdDialFunc dial;
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

/* fwd.c: one line per container and cap per few seconds. */
void uva_fwd_warn_cap(UvaFwd *f, Cap cap, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
/* The same for err when it says a resource ran out (EMFILE and friends). */
void uva_fwd_warn_fds(UvaFwd *f, int err, const char *what);
/* epoll_ctl on the forwarder's set; TRUE on success. */
gboolean uva_fwd_ep_ctl(UvaFwd *f, int op, int fd, guint32 events, Tag *tag);
void uva_fwd_ep_del(UvaFwd *f, int fd);
guint32 uva_fwd_next_id(UvaFwd *f);

/* fwdudp.c */
/* A listener's flow table (peer sockaddr -> Flow); a flow removed from it
 * is freed after the current epoll batch (f->dead). */
GHashTable *uva_fwdudp_flows_new(void);
/* The UDP listener is readable. */
void uva_fwdudp_ready(Listener *l);
/* A flow's socket is readable: replies go back to the peer. */
void uva_fwdudp_event(Flow *fl);
/* The answer to a flow's dial: fd (owned from now on) or err. */
void uva_fwdudp_dialed(Flow *fl, int fd, int err);
/* Removes the flows idle for long. */
void uva_fwdudp_sweep(UvaFwd *f);
