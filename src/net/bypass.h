/* bypass.h - the manager's side of the bypass drivers (--port-driver
 * bypass, --outbound bypass): the host sockets.  The container's init
 * serves its app's seccomp notifications with them (unotify.c). */
#pragma once

#include "ipc/msg.h"
#include "spec/spec.h"

#include <glib.h>

typedef struct UvaBypass UvaBypass;

/* Whether kernel release (uname -r) has what bypass needs:
 * SECCOMP_IOCTL_NOTIF_ADDFD 5.9, SECCOMP_ADDFD_FLAG_SEND and
 * SO_NETNS_COOKIE 5.14, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV 5.19;
 * FALSE with a sentence naming what is missing. */
gboolean uva_bypass_kernel_ok(const char *release, GError **error);

/* The host side of container name's bypass; outbound: --outbound bypass. */
UvaBypass *uva_bypass_new(const char *name, gboolean outbound, GError **error);
/* Binds (never listens on) p's host address now, so that a taken port
 * fails before any process exists; the app's bind() of p's container port
 * gets this socket. */
gboolean uva_bypass_publish(UvaBypass *b, const UvaPublish *p, GError **error);
/* Sends init its host sockets, then BYPASS_END; right after the clone,
 * before init starts the app. */
gboolean uva_bypass_send_ports(UvaBypass *b, int sync_fd, GError **error);
/* Answers init's HOSTSOCK_REQ m on sync_fd: a new host socket, or an error
 * for a destination that must stay on libslirp (an address of the
 * host's). */
void uva_bypass_serve(UvaBypass *b, const UvaMsg *m, int sync_fd);
/* Whether the app listens on the host socket of container_port (the
 * readiness of --port-driver bypass, ready.c). */
gboolean uva_bypass_listening(const UvaBypass *b, guint16 container_port);
void uva_bypass_free(UvaBypass *b);
