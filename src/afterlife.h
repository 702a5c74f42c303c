/* afterlife.h - what is cleaned up once the manager has exited, however it
 * exits (SIGKILL too): its control sockets, and the state of `run --rm`. */
#pragma once

#include "ctlserver.h"

#include <glib.h>

/* Forks the helper that waits for the calling process to exit.  Call it
 * before the manager confines itself (the helper is not confined: it must
 * unlink files).  ctl may be NULL; rm_names (NULL-ended, may be NULL): the
 * containers whose state_dir/NAME is removed; keep_stderr: where a
 * failure of that is said (else nowhere: a detached manager). */
void uva_afterlife_start(const UvaCtlServer *ctl, const char *state_dir,
                         char **rm_names, gboolean keep_stderr);
