/* slirp.h - one libslirp user-mode network stack per container, driven by
 * the manager's GLib main loop: frames from the container's tap go into
 * libslirp, libslirp's frames go back out, published ports are host
 * listeners. */
#pragma once

#include "spec/spec.h"

#include <glib.h>

typedef struct UvaNet UvaNet;

/* A stack for the container called name (used in messages), holding at
 * most sockets_limit host sockets for the container's own flows; its
 * GSource is attached to the default main context at once, so published
 * ports accept connections before the container has its tap (they
 * complete when it does). */
UvaNet *uva_net_new(const char *name, guint sockets_limit, GError **error);
/* Listens on p's host address and forwards to the container's port. */
gboolean uva_net_publish(UvaNet *net, const UvaPublish *p, GError **error);
/* Takes ownership of the tap fd received from the container. */
gboolean uva_net_attach_tap(UvaNet *net, int tap_fd, GError **error);
/* One Ethernet frame from the container, as read from its tap (the fuzz
 * target calls it directly). */
void uva_net_input(UvaNet *net, const guint8 *frame, gsize len);
/* Closes listeners, connections and the tap. */
void uva_net_free(UvaNet *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UvaNet, uva_net_free)
