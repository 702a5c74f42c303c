/* teeout.h - a foreground `run`'s output into a pipe of the caller's,
 * with a copy in the container's log, moved by tee(2) and splice(2). */
#pragma once

#include "manager/logfile.h"

#include <glib.h>

typedef struct UvaTee UvaTee;

/* Whether out_fd is a pipe (or FIFO), where tee(2) can copy: elsewhere (a
 * terminal, a file, a socket) the app gets out_fd itself and no log. */
gboolean uva_tee_wanted(int out_fd);
/* The app's pipe, made large (F_SETPIPE_SZ); -1 with errno on failure. */
int uva_tee_pipe(int fds[2]);
/* Moves everything from in (owned: the app's pipe) to out (the caller's)
 * and log until EOF or out's reader is gone, then closes in and calls
 * closed(data). */
UvaTee *uva_tee_new(int in, int out, UvaLogfile *log, void (*closed)(gpointer),
                    gpointer data);
gboolean uva_tee_open(const UvaTee *t);
void uva_tee_free(UvaTee *t);
