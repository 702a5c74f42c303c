/* relay.h - bytes from one fd to another on the GLib loop, unchanged, never
 * blocking it: used for `run -t` (the caller's terminal and the pty). */
#pragma once

#include <glib.h>

typedef struct UvaRelay UvaRelay;

/* Copies what in_fd gives to out_fd until EOF or an error on either side,
 * then calls done(data) once.  Both fds must be non-blocking and are not
 * owned.  At most one buffer is held: while it waits for out_fd, in_fd is
 * not read, so a slow reader slows the producer and nothing else. */
UvaRelay *uva_relay_new(int in_fd, int out_fd, void (*done)(gpointer),
                        gpointer data);
/* Stops and frees; done is not called. */
void uva_relay_free(UvaRelay *r);
