/* ptyjoin.h - `run -t`: the pty master init sends, joined to the caller's
 * terminal through non-blocking relays, in raw mode with -i. */
#pragma once

#include <glib.h>

typedef struct UvaPtyJoin UvaPtyJoin;

/* Before the manager is confined: reopens the caller's terminal (fd 1,
 * and fd 0 with keep_stdin, made raw). */
UvaPtyJoin *uva_ptyjoin_new(gboolean keep_stdin);
/* The master came (owned from now on); closed(data) once it is done. */
void uva_ptyjoin_attach(UvaPtyJoin *j, int master, void (*closed)(gpointer),
                        gpointer data);
/* Whether output of the app is still on its way to the terminal. */
gboolean uva_ptyjoin_open(const UvaPtyJoin *j);
/* SIGWINCH: the caller's window size to the pty. */
void uva_ptyjoin_winch(UvaPtyJoin *j);
/* Restores the terminal's mode and closes everything. */
void uva_ptyjoin_free(UvaPtyJoin *j);
