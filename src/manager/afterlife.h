/* afterlife.h - what is cleaned up once the manager has exited, however it
 * exits (SIGKILL too): its control sockets, and the state of `run --rm`. */
#pragma once

#include "manager/ctlserver.h"

#include <glib.h>

/* Forks the helper that waits for the calling process to exit.  Call it
 * before the manager confines itself (the helper is not confined: it must
 * unlink files).  ctl may be NULL; rm_names (NULL-ended, may be NULL): the
 * containers whose state_dir/NAME is removed; keep_stderr: where a
 * failure of that is said (else nowhere: a detached manager). */
void uva_afterlife_start(const UvaCtlServer *ctl, const char *state_dir,
                         char **rm_names, gboolean keep_stderr);

/* The manager is done: closes its end of the pipe and waits (at most
 * 30 s) for the helper to remove what it left and exit, reaping it.  Call
 * it last, after every container is reaped and the control sockets are
 * closed; a no-op without a helper. */
void uva_afterlife_finish(void);
