/* fwdudp.h - the splice port driver's UDP flows (fwdudp.c), called by
 * fwd.c's listeners and epoll loop. */
#pragma once

#include "net/fwdcore.h"

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
