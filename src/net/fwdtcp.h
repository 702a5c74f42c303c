/* fwdtcp.h - the splice port driver's TCP connections (fwdtcp.c), called
 * by fwd.c's listeners and epoll loop. */
#pragma once

#include "net/fwdcore.h"

/* A client fd (owned from now on) accepted on l: a new connection, whose
 * dial is asked of init at once.  peer: the client's address from
 * accept4(), NULL when it is not IPv4. */
void uva_fwdtcp_new(Listener *l, int fd, const struct sockaddr_in *peer);
/* The answer to a connection's dial (host_tag: the tag f->dialing held):
 * fd (owned from now on) or err. */
void uva_fwdtcp_dialed(Tag *host_tag, int fd, int err);
/* An epoll event on either socket of a connection (a TAG_HOST or TAG_GUEST
 * tag). */
void uva_fwdtcp_event(Tag *t, guint32 events);
/* An event taken but not served: registered again (uva_fwdcore_rearm). */
void uva_fwdtcp_rearm(UvaFwd *f, Tag *t);
/* The forwarder's pipe pool (of empty pipes), for f->pool. */
GArray *uva_fwdtcp_pool_new(void);
/* At the forwarder's end: every connection reset and closed, then every
 * pooled pipe closed. */
void uva_fwdtcp_close_all(UvaFwd *f);
void uva_fwdtcp_pool_close(UvaFwd *f);
