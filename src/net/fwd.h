/* fwd.h - the splice port driver: published ports that never go through a
 * user-mode TCP stack.  The manager listens on the host address; for each
 * connection (or UDP peer) it asks the container's init for a socket
 * connected to 127.0.0.1:PORT inside the container, and joins the two. */
#pragma once

#include "spec/spec.h"

#include <glib.h>

typedef struct UvaFwd UvaFwd;

/* Asks for a socket connected (or connecting: non-blocking) to
 * 127.0.0.1:port inside the container; the answer must come back later
 * through uva_fwd_dialed() with the same id, never from inside this call.
 * Returns FALSE when the request cannot be sent.  client: a TCP client's
 * IPv4 address when it is not a loopback one (init dials from it,
 * transparent.c), else NULL. */
typedef gboolean (*UvaFwdDialFunc)(guint32 id, guint16 port, gboolean udp,
                                   const struct sockaddr_in *client,
                                   gpointer data);

/* A forwarder for the container called name (used in messages); its event
 * source is attached to the default main context. */
UvaFwd *uva_fwd_new(const char *name, UvaFwdDialFunc dial, gpointer data,
                    GError **error);
/* Binds p's host address now, so that a taken port fails before any
 * process exists; a host port 0 is replaced by the one the kernel chose.
 * A TCP port listens only from uva_fwd_listen() on. */
gboolean uva_fwd_publish(UvaFwd *fwd, UvaPublish *p, GError **error);
/* The app listens on container_port inside: listen on its host ports. */
gboolean uva_fwd_listen(UvaFwd *fwd, guint16 container_port, GError **error);
/* Appends the fds of TCP host ports that will listen later (the
 * manager's seccomp filter allows listen(2) on exactly those). */
void uva_fwd_listener_fds(const UvaFwd *fwd, GArray *fds);
/* The container can dial from now on: accept what is waiting. */
void uva_fwd_start(UvaFwd *fwd);
/* The answer to a dial: fd (owned from now on) or err when fd < 0. */
void uva_fwd_dialed(UvaFwd *fwd, guint32 id, int fd, int err);
/* Open TCP connections and UDP flows (for tests and leak checks). */
guint uva_fwd_count(const UvaFwd *fwd);
/* Closes listeners and connections (connections are reset). */
void uva_fwd_free(UvaFwd *fwd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UvaFwd, uva_fwd_free)
