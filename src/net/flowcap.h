/* flowcap.h - caps the libslirp sockets one container can make the manager
 * hold: frames that would open a new outbound flow past the cap are
 * refused before libslirp. */
#pragma once

#include <glib.h>

typedef struct UvaFlowCap UvaFlowCap;

UvaFlowCap *uva_flowcap_new(guint cap);
void uva_flowcap_free(UvaFlowCap *c);
/* One Ethernet frame from the guest, before slirp_input().  TRUE: pass it
 * on (and call uva_flowcap_done() after slirp_input()).  FALSE: it would
 * open a new flow past the cap; when reply_len is set non-zero, reply
 * holds a TCP RST or ICMP port unreachable to write back to the guest
 * (reply must have room for UVA_FLOWCAP_REPLY_MAX bytes). */
gboolean uva_flowcap_pass(UvaFlowCap *c, const guint8 *frame, gsize len,
                          guint8 *reply, gsize *reply_len);
void uva_flowcap_done(UvaFlowCap *c);
/* libslirp's register_poll_fd and unregister_poll_fd. */
void uva_flowcap_registered(UvaFlowCap *c, int fd);
void uva_flowcap_unregistered(UvaFlowCap *c, int fd);
/* Sockets libslirp holds now, and the cap. */
guint uva_flowcap_count(const UvaFlowCap *c);
guint uva_flowcap_cap(const UvaFlowCap *c);

#define UVA_FLOWCAP_REPLY_MAX (14 + 40 + 8 + 40 + 8 + 60)
