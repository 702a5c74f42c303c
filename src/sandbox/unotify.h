/* unotify.h - init's side of the bypass drivers: it serves its app's
 * seccomp notifications (bind, connect) with the host sockets the manager
 * gave it.  See unotify.c. */
#pragma once

#include "ipc/msg.h"

#include <glib.h>
#include <poll.h>

typedef struct UvaUnotify UvaUnotify;

/* For init, which talks to the manager on sync_fd.  outbound: serve
 * --outbound bypass. */
UvaUnotify *uva_unotify_new(int sync_fd, gboolean outbound);
/* Reads the manager's BYPASS_PORT messages up to BYPASS_END (blocking:
 * init has nothing else to do before its app starts).  FALSE when the
 * manager is gone or sent something else. */
gboolean uva_unotify_receive_ports(UvaUnotify *u);
/* The listener of an app just started (owned from now on). */
void uva_unotify_add_listener(UvaUnotify *u, int fd);
/* Fills pfd (room for max) with what init's loop must poll; the count. */
int uva_unotify_fill(UvaUnotify *u, struct pollfd *pfd, int max);
/* Serves what poll found ready in pfd[0..n) (as filled). */
void uva_unotify_dispatch(UvaUnotify *u, const struct pollfd *pfd, int n);
/* The manager's answer to a host socket request (fd owned, or -1). */
void uva_unotify_host_socket(UvaUnotify *u, const UvaMsg *m, int fd);
/* The most fds uva_unotify_fill() may want. */
#define UVA_UNOTIFY_MAX_POLL 300
