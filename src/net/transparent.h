/* transparent.h - real client addresses through the splice driver: init
 * dials the app from the client's own IPv4 address (IP_TRANSPARENT), with
 * replies routed back to it by mark.  See transparent.c. */
#pragma once

#include <glib.h>
#include <netinet/in.h>

/* In init, once, in the container's network namespace: the routing that
 * sends replies to a marked connection back to the local transparent
 * socket.  FALSE (nothing to undo) where that is refused: init then dials
 * from 127.0.0.1 as before. */
gboolean uva_transparent_setup(void);
/* A non-blocking TCP socket bound to client's address (port 0), ready to
 * connect; -1 when that is not possible (the caller dials as before). */
int uva_transparent_socket(const struct sockaddr_in *client);
